"""
Background work, run by `manage.py db_worker` (django-tasks-db).

Sending batches go to the "newsletter" queue so a large send never delays the
one-off emails (confirmation, welcome) on the default queue.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.tasks import task, task_backends
from django.template.loader import render_to_string
from django.utils import timezone

from . import sending, services, subscriber_csv
from .models import Issue, Subscriber
from .tokens import confirm_url, preferences_url

logger = logging.getLogger(__name__)


@task(queue_name="newsletter")
def send_issue_batch(issue_id: int) -> dict:
    """Claim and send one batch of the issue's pending deliveries, then queue
    the next batch of this chain (services.enqueue_batches starts a few chains,
    so a few workers share a send)."""
    try:
        result = sending.send_batch(issue_id)
    except sending.ServerUnavailable:
        issue = Issue.objects.filter(pk=issue_id).first()
        if issue and issue.waiting_until:
            schedule_resume(issue_id, at=issue.waiting_until)
        return {"waiting_for_server": True}
    if result.claimed:
        services.continue_send(issue_id=issue_id)
    return {
        "claimed": result.claimed,
        "sent": result.sent,
        "failed": result.failed,
        "deferred": result.deferred,
        "in_doubt": result.in_doubt,
    }


def schedule_resume(issue_id: int, *, at) -> None:
    """Carry a send waiting for the mail server on at `at`, without cron."""
    if not task_backends[resume_issue.backend].supports_defer:
        logger.warning(
            "Issue %s waits for the mail server; this task backend cannot run "
            "a task later, so `send_issue --due` will resume it",
            issue_id,
        )
        return
    resume_issue.using(run_after=at).enqueue(issue_id)


@task(queue_name="newsletter")
def resume_issue(issue_id: int) -> bool:
    """Resume a send that waited for the mail server, with all its workers."""
    return services.resume_after_wait(issue_id=issue_id)


@task(queue_name="newsletter")
def send_scheduled_issue(issue_id: int) -> bool:
    """Start a scheduled issue, unless it was unscheduled or moved later."""
    issue = Issue.objects.filter(
        pk=issue_id, status=Issue.Status.SCHEDULED, send_at__lte=timezone.now()
    ).first()
    if issue is None:
        return False
    services.start_sending(issue=issue)
    return True


@task(queue_name="newsletter")
def start_sending_issue(issue_id: int) -> int:
    """List the recipients of an issue an editor sent ("Send now") and start
    its send; returns how many. Nothing if it was started meanwhile (by
    `send_issue --due`, say)."""
    issue = Issue.objects.filter(pk=issue_id, status=Issue.Status.PREPARING).first()
    if issue is None:
        return 0
    try:
        return services.start_sending(issue=issue)
    except ValidationError as error:
        # Started meanwhile, or (changed since the click) it cannot be mailed:
        # then it goes back to the editor as a draft.
        if Issue.objects.filter(
            pk=issue_id, status=Issue.Status.PREPARING, started_at__isnull=True
        ).update(status=Issue.Status.DRAFT):
            logger.error("Issue %s not sent: %s", issue_id, "; ".join(error.messages))
        return 0


@task(queue_name="newsletter")
def import_subscribers(import_id: int) -> None:
    """An uploaded CSV list (on the newsletter queue: a long import must not
    hold up the confirmation emails of the default one)."""
    subscriber_csv.run_import(import_id)


@task(queue_name="newsletter")
def send_daily_digest() -> list[str]:
    return services.send_daily_digest()


def _mail(*, to: str, subject: str, template: str, context: dict) -> None:
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "publisher_name": settings.PUBLISHER_NAME,
        "publisher_address": settings.PUBLISHER_ADDRESS,
        **context,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"newsletter/email/{template}.txt", context),
        from_email=settings.NEWSLETTER_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(
        render_to_string(f"newsletter/email/{template}.html", context), "text/html"
    )
    message.send()


@task()
def process_sign_up(
    *, email: str, newsletter_ids: list[int], ip: str | None, source: str
) -> None:
    """A sign-up from the public form, handled here rather than in the request
    so that the request does the same work for a known address as for a new one."""
    services.subscribe(email=email, newsletter_ids=newsletter_ids, ip=ip, source=source)


@task()
def send_confirmation_email(subscriber_id: int) -> None:
    """The one email an unconfirmed address may receive. It holds nothing the
    person who filled in the form typed: only our own words and the link."""
    subscriber = Subscriber.objects.filter(
        pk=subscriber_id, status=Subscriber.Status.PENDING
    ).first()
    if subscriber is None:
        return
    _mail(
        to=subscriber.email,
        subject=f"Please confirm your subscription to {settings.SITE_NAME}",
        template="confirm",
        context={
            "confirm_url": confirm_url(subscriber.pk),
            "newsletters": list(subscriber.newsletters.all()),
            "valid_days": max(1, settings.NEWSLETTER_CONFIRM_MAX_AGE // 86400),
        },
    )


@task()
def send_welcome_email(subscriber_id: int) -> None:
    subscriber = Subscriber.objects.filter(
        pk=subscriber_id, status=Subscriber.Status.CONFIRMED
    ).first()
    if subscriber is None:
        return
    _mail(
        to=subscriber.email,
        subject=f"Welcome to {settings.SITE_NAME}'s newsletters",
        template="welcome",
        context={
            "newsletters": list(subscriber.newsletters.all()),
            "preferences_url": preferences_url(subscriber.pk),
        },
    )
