"""
The newsletter's workflows: signing up, confirming, changing preferences, building
and starting the send of an issue. Views, the admin, commands and tasks all call
these functions; sending.py does the mailing itself.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Min, Q
from django.tasks import task_backends
from django.utils import timezone

from articles.models import Article
from ratelimit.limits import email_limit_key, is_rate_limited

from .models import Delivery, Issue, IssueArticle, Newsletter, Subscriber
from .models import normalize_email as normalize_email
from .sending import IssueMail, render_issue

logger = logging.getLogger(__name__)

SEND_PERMISSION = "newsletter.send_issue"
DELIVERY_CHUNK = 5000
DIGEST_MAX_ARTICLES = 20


# Subscribing -----------------------------------------------------------------------


def subscribe(
    *, email: str, newsletter_ids: list[int], ip: str | None, source: str
) -> None:
    """Record a sign-up and, when allowed, mail one confirmation link.

    The caller shows the same page whatever happens here, so nobody learns
    whether an address was known. A confirmed, bounced or complained address
    gets nothing; an unconfirmed one gets at most NEWSLETTER_CONFIRMATIONS_PER_DAY
    confirmations a day.
    """
    from .tasks import send_confirmation_email

    email = normalize_email(email)
    send = False
    with transaction.atomic():
        subscriber, _ = Subscriber.objects.select_for_update().get_or_create(
            email=email
        )
        if subscriber.status in {
            Subscriber.Status.PENDING,
            Subscriber.Status.UNSUBSCRIBED,
        }:
            subscriber.status = Subscriber.Status.PENDING
            subscriber.consent_ip = ip or None
            subscriber.consent_source = source[:300]
            subscriber.save(update_fields=["status", "consent_ip", "consent_source"])
            subscriber.newsletters.set(
                Newsletter.objects.listed().filter(pk__in=newsletter_ids)
            )
            # Counted per mailbox, not per spelling: reader+1@ is reader@.
            send = not is_rate_limited(
                f"newsletter:confirmations:{email_limit_key(email)}",
                limit=settings.NEWSLETTER_CONFIRMATIONS_PER_DAY,
                period=24 * 3600,
            )
    if send:
        send_confirmation_email.enqueue(subscriber.pk)


def confirm(*, subscriber: Subscriber) -> bool:
    """Turn a pending sign-up into a subscription; True if it was pending.
    The welcome email goes out once, on this transition."""
    from .tasks import send_welcome_email

    now = timezone.now()
    updated = Subscriber.objects.filter(
        pk=subscriber.pk, status=Subscriber.Status.PENDING
    ).update(status=Subscriber.Status.CONFIRMED, confirmed_at=now, consent_at=now)
    if updated:
        send_welcome_email.enqueue(subscriber.pk)
    return bool(updated)


def unsubscribe(*, subscriber: Subscriber) -> None:
    """Stop all mail to this subscriber at once (sends in progress skip them)."""
    Subscriber.objects.filter(
        pk=subscriber.pk,
        status__in=[Subscriber.Status.CONFIRMED, Subscriber.Status.PENDING],
    ).update(status=Subscriber.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now())


def update_preferences(*, subscriber: Subscriber, newsletters) -> None:
    """Choose newsletters from a signed link. None chosen means unsubscribed; a
    former subscriber who chooses again is back (the link proves the mailbox)."""
    with transaction.atomic():
        subscriber.newsletters.set(newsletters)
        if not newsletters:
            unsubscribe(subscriber=subscriber)
        elif subscriber.status == Subscriber.Status.UNSUBSCRIBED:
            subscriber.status = Subscriber.Status.CONFIRMED
            subscriber.unsubscribed_at = None
            subscriber.save(update_fields=["status", "unsubscribed_at"])


def mark_bounced(*, emails: list[str], complained: bool = False) -> int:
    """Never mail these addresses again. As in suppress_address, a complaint is
    never turned back into a bounce. Returns how many were found."""
    status = Subscriber.Status.COMPLAINED if complained else Subscriber.Status.BOUNCED
    subscribers = Subscriber.objects.filter(
        email__in=[normalize_email(email) for email in emails]
    )
    found = subscribers.count()
    if not complained:
        subscribers = subscribers.exclude(status=Subscriber.Status.COMPLAINED)
    subscribers.update(status=status)
    return found


# Composing -------------------------------------------------------------------------


def articles_since_last_issue(*, newsletter: Newsletter):
    """Published articles newer than the last issue of this newsletter that went
    out (its content was frozen when its sending started); the last day's if none."""
    last = Issue.objects.filter(
        newsletter=newsletter, started_at__isnull=False
    ).aggregate(last=Max("started_at"))["last"]
    since = last or timezone.now() - timedelta(days=1)
    return Article.objects.published().filter(published_at__gt=since)


def fill_with_new_articles(*, issue: Issue) -> int:
    """Append the articles published since the last issue; returns how many."""
    if not issue.is_editable:
        raise ValidationError("This issue has already been sent.")
    present = set(issue.items.values_list("article_id", flat=True))
    start = issue.items.aggregate(last=Max("position"))["last"]
    start = -1 if start is None else start
    new = [
        article
        for article in articles_since_last_issue(newsletter=issue.newsletter)
        .order_by("-published_at")
        .only("id")[:DIGEST_MAX_ARTICLES]
        if article.pk not in present
    ]
    IssueArticle.objects.bulk_create(
        IssueArticle(issue=issue, article=article, position=start + 1 + n)
        for n, article in enumerate(new)
    )
    return len(new)


# Sending ---------------------------------------------------------------------------


def check_can_send(user) -> None:
    if user is not None and not user.has_perm(SEND_PERMISSION):
        raise PermissionDenied("Only Editors send newsletters.")


def _create_deliveries(issue: Issue) -> int:
    """One Delivery per confirmed subscriber, in chunks so memory stays flat."""
    recipients = (
        Subscriber.objects.filter(
            status=Subscriber.Status.CONFIRMED, newsletters=issue.newsletter_id
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    last_id, total = 0, 0
    while True:
        chunk = list(recipients.filter(id__gt=last_id)[:DELIVERY_CHUNK])
        if not chunk:
            return total
        Delivery.objects.bulk_create(
            [Delivery(issue_id=issue.pk, subscriber_id=pk) for pk in chunk],
            ignore_conflicts=True,
        )
        total += len(chunk)
        last_id = chunk[-1]


def request_sending(*, issue: Issue, user) -> None:
    """ "Send now" from the admin. The issue leaves the editable states at once
    and a task (tasks.start_sending_issue) lists its recipients and starts the
    send, so the request returns before the 100,000th delivery is written."""
    from .tasks import start_sending_issue

    check_can_send(user)
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue.pk)
        if not issue.is_editable:
            raise ValidationError("This issue is already being sent or was sent.")
        # Refused here, while the editor is looking, rather than in the task.
        issue.rendered_html, issue.rendered_text = render_issue(issue)
        check_can_be_mailed(issue)
        issue.status = Issue.Status.PREPARING
        issue.sent_by = user
        issue.save(update_fields=["status", "sent_by"])
    start_sending_issue.enqueue(issue.pk)


def start_sending(*, issue: Issue, user=None) -> int:
    """Freeze the issue's content, create every delivery, and queue the batch
    tasks. `user` None means the system (daily digest, a due schedule, the task
    of request_sending). Returns the number of recipients.

    The deliveries are written a chunk per commit while the issue is
    "preparing", so the progress page counts them as they come and no worker
    takes any. Running this again on a preparing issue (after a crash) carries
    on: a delivery that exists is not written twice."""
    check_can_send(user)
    startable = [Issue.Status.DRAFT, Issue.Status.SCHEDULED, Issue.Status.PREPARING]
    with transaction.atomic():
        issue = Issue.objects.select_for_update().get(pk=issue.pk)
        if issue.status not in startable:
            raise ValidationError("This issue is already being sent or was sent.")
        issue.rendered_html, issue.rendered_text = render_issue(issue)
        check_can_be_mailed(issue)
        issue.status = Issue.Status.PREPARING
        issue.started_at = timezone.now()
        if user is not None:
            issue.sent_by = user
        issue.save(
            update_fields=[
                "rendered_html",
                "rendered_text",
                "status",
                "started_at",
                "sent_by",
            ]
        )
    total = _create_deliveries(issue)
    Issue.objects.filter(pk=issue.pk, status=Issue.Status.PREPARING).update(
        status=Issue.Status.SENDING
    )
    logger.info("Issue %s: sending to %s subscribers", issue.pk, total)
    enqueue_batches(issue_id=issue.pk, count=total)
    if not total:
        from .sending import finish_if_done

        finish_if_done(issue.pk)
    return total


def check_can_be_mailed(issue: Issue) -> None:
    """Build one message of the issue as every recipient will get it; Django
    refuses a header with a line break (ValueError), and then nobody is mailed."""
    mail = IssueMail.for_issue(issue)
    try:
        mail.message_for(0, "check@example.org").message()
    except ValueError as error:
        raise ValidationError(f"This issue cannot be mailed: {error}") from None


def enqueue_batches(*, issue_id: int, count: int) -> None:
    """Start the chains of batch tasks that send `count` deliveries: one per
    batch, at most NEWSLETTER_WORKERS_PER_SEND (each task queues the next of its
    chain, continue_send). A chain that finds nothing to do ends, so an extra
    one is harmless."""
    from .tasks import send_issue_batch

    batches = -(-count // settings.NEWSLETTER_BATCH_SIZE)
    for _ in range(min(batches, max(1, settings.NEWSLETTER_WORKERS_PER_SEND))):
        send_issue_batch.enqueue(issue_id)


def continue_send(*, issue_id: int) -> None:
    """After a batch: queue the next one of this chain if rows are ready, or one
    for when the first refused recipient's retry is due."""
    from .tasks import send_issue_batch

    now = timezone.now()
    pending = Delivery.objects.filter(
        issue_id=issue_id,
        status=Delivery.Status.PENDING,
        issue__status=Issue.Status.SENDING,
    )
    if pending.exclude(retry_at__gt=now).exists():
        send_issue_batch.enqueue(issue_id)
        return
    next_retry = pending.aggregate(at=Min("retry_at"))["at"]
    if next_retry and task_backends[send_issue_batch.backend].supports_defer:
        send_issue_batch.using(run_after=next_retry).enqueue(issue_id)


def resume_after_wait(*, issue_id: int) -> bool:
    """Carry on a send that waited for the mail server, once its time has come,
    with all its chains. Does nothing if it was paused, cancelled, or resumed
    already (several workers may each have scheduled this)."""
    resumed = Issue.objects.filter(
        pk=issue_id,
        status=Issue.Status.SENDING,
        waiting_until__lte=timezone.now(),
    ).update(waiting_until=None)
    if resumed:
        waiting = _unfinished(issue_id).count()
        logger.info("Issue %s: resuming after the mail server's outage", issue_id)
        enqueue_batches(issue_id=issue_id, count=waiting)
    return bool(resumed)


def schedule(*, issue: Issue, send_at: datetime, user) -> None:
    """Send the issue by itself at `send_at`."""
    from .tasks import send_scheduled_issue

    check_can_send(user)
    if not issue.is_editable:
        raise ValidationError("This issue is already being sent or was sent.")
    issue.status = Issue.Status.SCHEDULED
    issue.send_at = send_at
    issue.sent_by = user
    issue.save(update_fields=["status", "send_at", "sent_by"])
    if task_backends[send_scheduled_issue.backend].supports_defer:
        send_scheduled_issue.using(run_after=send_at).enqueue(issue.pk)


def unschedule(*, issue: Issue, user) -> None:
    check_can_send(user)
    Issue.objects.filter(pk=issue.pk, status=Issue.Status.SCHEDULED).update(
        status=Issue.Status.DRAFT
    )


def send_due_issues() -> list[Issue]:
    """Start every scheduled issue whose time has come (the scheduled task does
    this by itself; this is the fallback for `send_issue --due` from cron)."""
    started = []
    now = timezone.now()
    stale = now - timedelta(seconds=settings.NEWSLETTER_STALE_CLAIM_AFTER)
    due = Q(status=Issue.Status.SCHEDULED, send_at__lte=now)
    # "Send now" whose listing task has not run, or died part-way.
    unlisted = Q(status=Issue.Status.PREPARING) & (
        Q(started_at__isnull=True) | Q(started_at__lt=stale)
    )
    for issue in Issue.objects.filter(due | unlisted):
        try:
            start_sending(issue=issue)
        except ValidationError:
            continue  # started meanwhile by another process
        started.append(issue)
    return started


def resume_stalled_sends() -> dict[int, dict]:
    """For issues still sending: apply the crash rule (sending.recover_stale) to
    rows of workers presumed dead and, only for a send that has stalled (no
    worker on it, send_progress) or had rows taken back, start its chains
    again. Safe to run at any
    time (from cron via `send_issue --due`): live workers' rows are left alone,
    and a send that is moving gets no extra tasks."""
    from .sending import finish_if_done, recover_stale

    fail_abandoned_tasks()
    report = {}
    for issue in Issue.objects.filter(status=Issue.Status.SENDING):
        recovered = recover_stale(issue.pk)
        progress = send_progress(issue, failures=0)
        requeued = 0
        # Rows taken back from dead workers may have no chain left to send them.
        if progress.stalled or recovered["released"]:
            Issue.objects.filter(pk=issue.pk).update(waiting_until=None)
            requeued = progress.counts["pending"]
            enqueue_batches(issue_id=issue.pk, count=requeued)
        elif not (progress.counts["total"] - progress.done):
            finish_if_done(issue.pk)
        report[issue.pk] = {**recovered, "requeued": requeued}
    return report


def fail_abandoned_tasks() -> int:
    """Batch tasks recorded as running long after any batch could take
    (NEWSLETTER_STALE_CLAIM_AFTER) belong to a worker that was killed: record
    them as failed, so the task list shows what runs. Returns how many."""
    if not apps.is_installed("django_tasks_db"):
        return 0
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(seconds=settings.NEWSLETTER_STALE_CLAIM_AFTER)
    abandoned = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING,
        queue_name="newsletter",
        started_at__lt=cutoff,
    ).update(
        status=TaskResultStatus.FAILED,
        finished_at=timezone.now(),
        exception_class_path="newsletter.services.WorkerLost",
        traceback="The worker stopped while running this task (killed or crashed).",
    )
    if abandoned:
        logger.warning("%s newsletter tasks abandoned by dead workers", abandoned)
    return abandoned


def send_daily_digest(*, day: date | None = None, dry_run: bool = False) -> list[str]:
    """Build and send today's digest of each daily-digest newsletter, if there are
    new articles. Idempotent per day: a second run finds the day's issue and
    stops. Returns one line per newsletter saying what happened."""
    day = day or timezone.localdate()
    report = []
    for newsletter in Newsletter.objects.filter(kind=Newsletter.Kind.DAILY_DIGEST):
        if Issue.objects.filter(newsletter=newsletter, digest_date=day).exists():
            report.append(f"{newsletter}: the digest for {day} exists already.")
            continue
        articles = list(
            articles_since_last_issue(newsletter=newsletter).order_by("-published_at")[
                :DIGEST_MAX_ARTICLES
            ]
        )
        if not articles:
            report.append(f"{newsletter}: no new articles, skipped {day}.")
            continue
        if dry_run:
            report.append(f"{newsletter}: would send {len(articles)} articles.")
            continue
        try:
            with transaction.atomic():
                issue = Issue.objects.create(
                    newsletter=newsletter,
                    digest_date=day,
                    subject=f"{newsletter.name}: {articles[0].title}",
                    preheader=", ".join(article.title for article in articles[1:4]),
                )
                IssueArticle.objects.bulk_create(
                    IssueArticle(issue=issue, article=article, position=n)
                    for n, article in enumerate(articles)
                )
        except IntegrityError:
            report.append(f"{newsletter}: built meanwhile by another process.")
            continue
        except ValidationError as error:
            # A headline the issue's fields refuse (a line break, say).
            report.append(_digest_not_sent(newsletter, day, error))
            continue
        try:
            total = start_sending(issue=issue)
        except ValidationError as error:
            report.append(_digest_not_sent(newsletter, day, error))
            continue
        report.append(
            f"{newsletter}: sending {len(articles)} articles to {total} subscribers."
        )
    return report


def _digest_not_sent(newsletter: Newsletter, day: date, error: ValidationError) -> str:
    reason = "; ".join(error.messages)
    logger.error(
        "The digest of %s for %s cannot be mailed: %s", newsletter, day, reason
    )
    return f"{newsletter}: NOT SENT, the digest cannot be mailed: {reason}"


# Operating a send ------------------------------------------------------------------

# A send with work ready and nothing claimed or sent for this long has no worker
# on it (one batch takes seconds).
STALLED_AFTER = timedelta(minutes=2)
# The rate shown is over this recent window.
RATE_WINDOW = timedelta(minutes=1)

SUPPRESSION_REASONS = {Subscriber.Status.BOUNCED, Subscriber.Status.COMPLAINED}


def suppress_address(
    target: Subscriber | str, reason: str, *, detail: str = ""
) -> bool:
    """Never mail this address again: `reason` is "bounced" (a hard bounce) or
    "complained" (marked as spam). A complaint is never turned back into a
    bounce. Sends in progress skip the address from their next slice on.
    Returns whether the address belongs to a subscriber."""
    if reason not in SUPPRESSION_REASONS:
        raise ValueError(f"Unknown suppression reason: {reason!r}")
    subscribers = Subscriber.objects.all()
    if isinstance(target, Subscriber):
        subscribers = subscribers.filter(pk=target.pk)
    else:
        subscribers = subscribers.filter(email=normalize_email(target))
    if not subscribers.exists():
        return False
    if reason == Subscriber.Status.BOUNCED:
        subscribers = subscribers.exclude(status=Subscriber.Status.COMPLAINED)
    changed = subscribers.exclude(status=reason).update(status=reason)
    if changed:
        logger.info("Suppressed a subscriber (%s): %s", reason, detail or "no detail")
    return True


def _unfinished(issue_id: int):
    return Delivery.objects.filter(
        issue_id=issue_id,
        status__in=[
            Delivery.Status.PENDING,
            Delivery.Status.CLAIMED,
            Delivery.Status.SENDING,
        ],
    )


def pause_send(issue: Issue, *, user=None) -> bool:
    """Stop a send for now. Rows claimed by workers but not yet started go back to
    the queue, so no worker starts another message; the few being handed over
    finish. Returns whether the send was running."""
    check_can_send(user)
    with transaction.atomic():
        paused = Issue.objects.filter(pk=issue.pk, status=Issue.Status.SENDING).update(
            status=Issue.Status.PAUSED, waiting_until=None
        )
        if paused:
            Delivery.objects.filter(
                issue_id=issue.pk, status=Delivery.Status.CLAIMED
            ).update(status=Delivery.Status.PENDING, claimed_by="", claimed_at=None)
    if paused:
        logger.info("Issue %s: send paused", issue.pk)
    return bool(paused)


def resume_send(issue: Issue, *, user=None) -> int:
    """Carry on a paused send, or one waiting for the mail server, now. Rows of
    workers that died are recovered first (sending.recover_stale). Returns how
    many recipients are still to be sent."""
    from .sending import finish_if_done, recover_stale

    check_can_send(user)
    resumable = [Issue.Status.PAUSED, Issue.Status.SENDING]
    if not Issue.objects.filter(pk=issue.pk, status__in=resumable).update(
        status=Issue.Status.SENDING, waiting_until=None
    ):
        raise ValidationError("Only a paused or sending issue can be resumed.")
    recover_stale(issue.pk)
    waiting = _unfinished(issue.pk).count()
    if waiting:
        enqueue_batches(issue_id=issue.pk, count=waiting)
    else:
        finish_if_done(issue.pk)
    logger.info("Issue %s: send resumed, %s to go", issue.pk, waiting)
    return waiting


def cancel_send(issue: Issue, *, user=None) -> int:
    """Stop a send for good: everyone not yet handed to the server is never sent
    this issue. Returns how many deliveries were cancelled."""
    check_can_send(user)
    with transaction.atomic():
        if not Issue.objects.filter(
            pk=issue.pk, status__in=[Issue.Status.SENDING, Issue.Status.PAUSED]
        ).update(
            status=Issue.Status.CANCELLED,
            waiting_until=None,
            finished_at=timezone.now(),
        ):
            raise ValidationError("Only a sending or paused issue can be cancelled.")
        # Rows a worker holds but has not started ("claimed") are cancelled too:
        # the worker only starts rows it still holds as claimed.
        cancelled = Delivery.objects.filter(
            issue_id=issue.pk,
            status__in=[Delivery.Status.PENDING, Delivery.Status.CLAIMED],
        ).update(status=Delivery.Status.CANCELLED, claimed_by="", claimed_at=None)
    logger.info("Issue %s: send cancelled, %s never sent", issue.pk, cancelled)
    return cancelled


@dataclass
class SendProgress:
    """Where a send stands, for the admin's progress page and `send_issue
    --status`."""

    issue_id: int
    status: str
    counts: dict[str, int]
    # Pending rows the server refused for now (4xx), waiting to be retried.
    deferred: int
    # Emails sent per second over the last RATE_WINDOW.
    rate: float
    eta_seconds: float | None
    last_activity: datetime | None
    waiting_until: datetime | None
    last_error: str
    stalled: bool
    # Failed deliveries, newest first: [{"email", "error", "attempts"}].
    failures: list[dict] = field(default_factory=list)

    @property
    def done(self) -> int:
        counts = self.counts
        return counts["total"] - (
            counts["pending"] + counts["claimed"] + counts["sending"]
        )

    @property
    def state(self) -> str:
        """One readable word or phrase: what the send is doing now."""
        if self.status != Issue.Status.SENDING:
            return dict(Issue.Status.choices)[self.status].lower()
        if self.waiting_until:
            return "waiting for the mail server"
        if self.stalled:
            return "stalled: no worker is sending it"
        remaining = self.counts["total"] - self.done
        if remaining and remaining == self.deferred:
            return "waiting to retry refused recipients"
        return "sending"


def send_progress(issue: Issue, *, failures: int = 100) -> SendProgress:
    """Counts by outcome, the recent rate, an estimate of the time left, and the
    failed deliveries with the server's reasons (at most `failures` of them)."""
    issue = Issue.objects.get(pk=issue.pk)
    now = timezone.now()
    counts = issue.progress()
    deliveries = Delivery.objects.filter(issue_id=issue.pk)
    recent = deliveries.filter(
        status=Delivery.Status.SENT, sent_at__gte=now - RATE_WINDOW
    ).count()
    rate = recent / RATE_WINDOW.total_seconds()
    remaining = counts["pending"] + counts["claimed"] + counts["sending"]
    deferred = deliveries.filter(
        status=Delivery.Status.PENDING, retry_at__gt=now
    ).count()
    activity = deliveries.aggregate(sent=Max("sent_at"), claimed=Max("claimed_at"))
    moments = [moment for moment in activity.values() if moment]
    last_activity = max(moments, default=issue.started_at)
    waiting_until = issue.waiting_until if issue.waiting_until else None
    if waiting_until and waiting_until <= now - STALLED_AFTER:
        waiting_until = None  # its task never ran: that is a stall
    ready = remaining - deferred
    stalled = bool(
        issue.status == Issue.Status.SENDING
        and not waiting_until
        and ready
        and last_activity
        and last_activity < now - STALLED_AFTER
    )
    failed = deliveries.filter(status=Delivery.Status.FAILED).order_by("-id")
    return SendProgress(
        issue_id=issue.pk,
        status=issue.status,
        counts=counts,
        deferred=deferred,
        rate=rate,
        eta_seconds=remaining / rate if rate and remaining else None,
        last_activity=last_activity,
        waiting_until=waiting_until,
        last_error=issue.last_error,
        stalled=stalled,
        failures=[
            {"email": email, "error": error, "attempts": attempts}
            for email, error, attempts in failed.values_list(
                "subscriber__email", "error", "attempts"
            )[:failures]
        ],
    )


def describe_progress(progress: SendProgress) -> str:
    """The send in one line, e.g. for `send_issue --status`."""
    counts = progress.counts
    parts = [
        f"Issue {progress.issue_id}: {progress.state}",
        f"{progress.done}/{counts['total']} done",
        f"{counts['sent']} sent",
        f"{counts['failed']} failed",
        f"{counts['in_doubt']} in doubt",
        f"{counts['skipped']} skipped",
    ]
    if counts["cancelled"]:
        parts.append(f"{counts['cancelled']} cancelled")
    if progress.deferred:
        parts.append(f"{progress.deferred} to retry later")
    if progress.rate:
        parts.append(f"{progress.rate:.0f}/s")
    if progress.eta_seconds is not None:
        parts.append(f"about {timedelta(seconds=round(progress.eta_seconds))} left")
    if progress.waiting_until:
        parts.append(
            f"trying again at {timezone.localtime(progress.waiting_until):%H:%M:%S}"
        )
    line = ", ".join(parts)
    if progress.last_error and progress.state != "sent":
        line += f" (last error: {progress.last_error})"
    return line
