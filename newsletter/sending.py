"""
Rendering an issue once and mailing it to every recipient exactly once.

Each message is an EmailMultiAlternatives handed to the configured mailer
(MAILERS["default"]): Django builds the MIME, encodes any language and refuses a
header with a line break. The editor's test send goes through the same function
(send_test) as the real one. What this module adds is the ledger around it.

How a delivery moves
--------------------
Every recipient has a Delivery row before anything is sent (services.start_sending).
A worker then repeats:

1. Claim: in one short transaction, take up to NEWSLETTER_BATCH_SIZE "pending"
   rows of the issue whose retry time (if any) has come, and mark them "claimed"
   with the worker's id and the time. On PostgreSQL the rows are read with
   ``SELECT ... FOR UPDATE SKIP LOCKED``, so several workers claim disjoint
   batches at once. Nothing is claimed while the issue is paused, cancelled or
   waiting for the mail server.
2. Over one connection for the whole batch, a slice of NEWSLETTER_SENDING_SLICE
   rows at a time:
   a. one UPDATE, committed on its own, marks the slice "sending", together with
      the "sent" marks of the previous slice. Only rows the worker still holds
      as "claimed" are marked, so a pause or a cancel (which take those rows
      back) stops the worker here, between slices;
   b. each message of the slice is handed to the server, one recipient per
      message, and its outcome recorded.

Outcomes, per recipient
-----------------------
- Accepted (2xx): "sent" (recorded with the next slice's UPDATE).
- Refused for now (4xx for this recipient or this message): back to "pending"
  with a retry time (NEWSLETTER_RETRY_BACKOFF, doubling) and the reply; the
  batch goes on with the others. After NEWSLETTER_SMTP_ATTEMPTS attempts the
  delivery is "failed".
- Refused for good (5xx for the recipient): "failed", and the address is
  suppressed as bounced (services.suppress_address), so no later issue mails
  it. A 5xx for the message itself (its content) is "failed" without
  suppressing the address.
- The server cannot be reached, refuses our sender, or answers 421 (closing):
  no message was handed over, so the rows go back to "pending", the issue waits
  NEWSLETTER_SERVER_RETRY_AFTER seconds (Issue.waiting_until) and the task
  queues its own resumption (tasks.resume_issue) for then: no cron needed.
- The connection drops while a message is being handed over: the server may
  have taken it, so that one delivery is "in doubt". Only a message handed to
  the server without an answer is ever "in doubt".

What may be in doubt after a crash
----------------------------------
A worker killed at any moment (or a database crash) leaves at most ONE SLICE of
rows in "sending": messages that may or may not have reached the server. Its
"claimed" rows were never started and are safe to send. So the bound is
NEWSLETTER_SENDING_SLICE messages per worker that was running (5 by default;
1 is the strictest, at the price of one durable commit per message). (With
synchronous=NORMAL, SQLite keeps its commits through a crashed process but not
through a power cut or an OS crash: there the last marks can be lost, and a
message already handed over can be sent again.)

The rule on resume (``send_issue --due``, ``--resume``, resume_send()), applied
only to rows older than NEWSLETTER_STALE_CLAIM_AFTER seconds (a live worker never
holds a row that long):

- "claimed" rows go back to "pending" and are sent;
- "sending" rows become "in doubt": reported, and never resent automatically, so
  nobody gets the issue twice. An editor may decide to resend them
  (``send_issue --resend-in-doubt``), accepting a possible duplicate.

Each write is conditional on the row still being claimed by this worker, so a
worker wrongly presumed dead cannot send a row that was handed to another one.

An issue is "sent" once every delivery is sent, failed, skipped, cancelled or
in doubt.
"""

import contextlib
import logging
import os
import smtplib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr
from html import unescape
from urllib.parse import urlsplit

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers, make_msgid
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, When
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from mailing.messages import ListEmailMultiAlternatives
from publicpages.addresses import absolute_url
from safetext.sanitizer import strip_all_tags

from .email_images import email_image_url
from .models import Delivery, Issue, Subscriber
from .tokens import make_manage_token

logger = logging.getLogger(__name__)

# Stand-ins for the personal links in the shared body; replaced per recipient.
PREFERENCES_PLACEHOLDER = "@@NEWSLETTER-PREFERENCES-URL@@"
UNSUBSCRIBE_PLACEHOLDER = "@@NEWSLETTER-UNSUBSCRIBE-URL@@"

# The width of the email's content column, where images are shown.
EMAIL_CONTENT_WIDTH = 536


def worker_id() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


# Rendering -------------------------------------------------------------------------


def _image_url(article: Article) -> str:
    """A JPEG or PNG about as wide as the email (never WebP: email_images)."""
    url = email_image_url(article)
    return absolute_url(url) if url else ""


def _summary(article: Article) -> str:
    text = article.excerpt or article.standfirst or strip_all_tags(article.body)
    text = unescape(" ".join(text.split()))
    if len(text) > 280:
        text = text[:277].rsplit(" ", 1)[0] + "…"
    return text


def issue_articles(issue: Issue) -> list[Article]:
    """The issue's articles in the editor's order, leaving out any that readers
    cannot see (unpublished since, or scheduled)."""
    ids = list(issue.items.values_list("article_id", flat=True))
    order = Case(*[When(pk=pk, then=position) for position, pk in enumerate(ids)])
    if not ids:
        return []
    return list(
        Article.objects.published()
        .filter(pk__in=ids)
        .select_related("category")
        .order_by(order)
    )


def render_issue(issue: Issue) -> tuple[str, str]:
    """The shared HTML and text bodies, with placeholders for the personal links."""
    items = []
    for article in issue_articles(issue):
        height = None
        if article.image_width and article.image_height:
            height = round(
                article.image_height * EMAIL_CONTENT_WIDTH / article.image_width
            )
        items.append(
            {
                "title": article.title,
                "url": absolute_url(article.get_absolute_url()),
                "category": article.category.name,
                "summary": _summary(article),
                "image_url": _image_url(article),
                "image_alt": article.image_alt,
                "image_height": height,
            }
        )
    context = {
        "issue": issue,
        "newsletter": issue.newsletter,
        "items": items,
        "intro_text": unescape(strip_all_tags(issue.intro)),
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "newsletters_url": absolute_url(reverse("newsletter:index")),
        "publisher_name": settings.PUBLISHER_NAME,
        "publisher_address": settings.PUBLISHER_ADDRESS,
        "preferences_url": PREFERENCES_PLACEHOLDER,
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
    }
    html = render_to_string("newsletter/email/issue.html", context)
    text = render_to_string("newsletter/email/issue.txt", context)
    return html, text


def personalise(body: str, *, preferences_url: str, unsubscribe_url: str) -> str:
    return body.replace(PREFERENCES_PLACEHOLDER, preferences_url).replace(
        UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url
    )


@dataclass
class IssueMail:
    """Everything shared by the recipients of one issue, computed once."""

    subject: str
    html: str
    text: str
    list_id: str
    from_email: str
    host: str = field(default_factory=site_host)
    preferences_prefix: str = ""
    unsubscribe_prefix: str = ""

    @classmethod
    def for_issue(cls, issue: Issue, *, fresh: bool = False) -> "IssueMail":
        """The issue's mail, from the body frozen when sending started, or
        rendered now if it has not started (or `fresh`: an editor's test)."""
        html, text = issue.rendered_html, issue.rendered_text
        if fresh or not html:
            html, text = render_issue(issue)
        newsletter = issue.newsletter
        host = site_host()
        return cls(
            subject=issue.subject,
            html=html,
            text=text,
            list_id=formataddr((newsletter.name, f"{newsletter.slug}.{host}")),
            from_email=settings.NEWSLETTER_FROM_EMAIL,
            host=host,
            # reverse() once; only the token changes per recipient.
            preferences_prefix=absolute_url(
                reverse("newsletter:preferences", args=["TOKEN"])
            ).removesuffix("TOKEN/"),
            unsubscribe_prefix=absolute_url(
                reverse("newsletter:unsubscribe", args=["TOKEN"])
            ).removesuffix("TOKEN/"),
        )

    def links_for(self, subscriber_id: int) -> tuple[str, str]:
        token = make_manage_token(subscriber_id)
        return (
            f"{self.preferences_prefix}{token}/",
            f"{self.unsubscribe_prefix}{token}/",
        )

    def message(
        self, *, to: str, preferences_url: str, unsubscribe_url: str
    ) -> EmailMultiAlternatives:
        message = ListEmailMultiAlternatives(
            subject=self.subject,
            body=personalise(
                self.text,
                preferences_url=preferences_url,
                unsubscribe_url=unsubscribe_url,
            ),
            from_email=self.from_email,
            to=[to],
            headers={
                "List-Id": self.list_id,
                # RFC 8058 one-click unsubscribe: mail providers POST to the link.
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Message-ID": make_msgid(domain=self.host),
            },
        )
        message.attach_alternative(
            personalise(
                self.html,
                preferences_url=preferences_url,
                unsubscribe_url=unsubscribe_url,
            ),
            "text/html",
        )
        return message

    def message_for(self, subscriber_id: int, email: str) -> EmailMultiAlternatives:
        preferences_url, unsubscribe_url = self.links_for(subscriber_id)
        return self.message(
            to=email, preferences_url=preferences_url, unsubscribe_url=unsubscribe_url
        )


# Claiming and recovering -----------------------------------------------------------


@dataclass
class Claimed:
    id: int
    subscriber_id: int
    email: str
    subscriber_status: str


def claim_batch(issue_id: int, *, worker: str, size: int) -> list[Claimed]:
    """Take up to `size` pending deliveries of the issue for this worker, none
    while the send is paused, cancelled or waiting for the mail server, and none
    whose retry after a temporary refusal is not yet due."""
    now = timezone.now()
    sendable = Issue.objects.filter(pk=issue_id, status=Issue.Status.SENDING)
    if not sendable.exclude(waiting_until__gt=now).exists():
        return []
    with transaction.atomic():
        pending = (
            Delivery.objects.filter(issue_id=issue_id, status=Delivery.Status.PENDING)
            .exclude(retry_at__gt=now)
            .order_by("id")
        )
        if db_connection.features.has_select_for_update_skip_locked:
            pending = pending.select_for_update(skip_locked=True)
        ids = list(pending.values_list("id", flat=True)[:size])
        if not ids:
            return []
        Delivery.objects.filter(id__in=ids).update(
            status=Delivery.Status.CLAIMED,
            claimed_by=worker,
            claimed_at=timezone.now(),
        )
    rows = (
        Delivery.objects.filter(
            id__in=ids, status=Delivery.Status.CLAIMED, claimed_by=worker
        )
        .order_by("id")
        .values_list("id", "subscriber_id", "subscriber__email", "subscriber__status")
    )
    return [Claimed(*row) for row in rows]


def recover_stale(issue_id: int, *, older_than: timedelta | None = None) -> dict:
    """Apply the resume rule (module docstring) to rows of workers presumed dead.
    Returns how many rows went back to pending and how many are now in doubt."""
    if older_than is None:
        older_than = timedelta(seconds=settings.NEWSLETTER_STALE_CLAIM_AFTER)
    cutoff = timezone.now() - older_than
    stale = Delivery.objects.filter(issue_id=issue_id, claimed_at__lte=cutoff)
    with transaction.atomic():
        released = stale.filter(status=Delivery.Status.CLAIMED).update(
            status=Delivery.Status.PENDING, claimed_by="", claimed_at=None
        )
        in_doubt = stale.filter(status=Delivery.Status.SENDING).update(
            status=Delivery.Status.IN_DOUBT,
            error="The worker stopped while handing this message to the SMTP "
            "server; it may have been delivered.",
        )
    if released or in_doubt:
        logger.warning(
            "Issue %s: %s stale claims released, %s deliveries in doubt",
            issue_id,
            released,
            in_doubt,
        )
    return {"released": released, "in_doubt": in_doubt}


def finish_if_done(issue_id: int) -> bool:
    """Mark the issue sent once no delivery is left to send."""
    unfinished = Delivery.objects.filter(
        issue_id=issue_id,
        status__in=[
            Delivery.Status.PENDING,
            Delivery.Status.CLAIMED,
            Delivery.Status.SENDING,
        ],
    )
    if unfinished.exists():
        return False
    Issue.objects.filter(
        pk=issue_id, status__in=[Issue.Status.SENDING, Issue.Status.PAUSED]
    ).update(status=Issue.Status.SENT, finished_at=timezone.now(), waiting_until=None)
    return True


def _id_in(ids: list[int]) -> tuple[str, list[int]]:
    if not ids:
        return "1 = 0", []
    return f"id IN ({', '.join(['%s'] * len(ids))})", ids


def _record_slice(
    worker: str, *, sent: list[tuple[int, int]], sending: list[int]
) -> int:
    """In one UPDATE, so one commit and one round trip: the deliveries the server
    accepted, as (id, attempts), become "sent", and the `sending` ids still
    claimed by the worker become "sending". Returns how many rows changed.

    Written in SQL because it runs once per slice, many times a second: built
    with the ORM (Case/When) the same statement costs as much CPU as the rest
    of sending an email; as SQL it is a small part of it."""
    now = db_connection.ops.adapt_datetimefield_value(timezone.now())
    is_sent, sent_ids = _id_in([delivery_id for delivery_id, _ in sent])
    is_wanted, wanted_ids = _id_in(sending)
    attempts, attempts_params = "attempts", []
    if sent:
        attempts = (
            f"CASE id {' '.join(['WHEN %s THEN %s'] * len(sent))} ELSE attempts END"
        )
        attempts_params = [value for pair in sent for value in pair]
    table = db_connection.ops.quote_name(Delivery._meta.db_table)
    sql = (
        f"UPDATE {table} SET "
        f"status = CASE WHEN {is_sent} THEN %s ELSE %s END, "
        f"sent_at = CASE WHEN {is_sent} THEN %s ELSE sent_at END, "
        f"attempts = {attempts}, "
        f"error = CASE WHEN {is_sent} THEN '' ELSE error END, "
        "claimed_at = %s "
        f"WHERE claimed_by = %s AND ({is_sent} OR ({is_wanted} AND status = %s))"
    )
    params = [
        *sent_ids,
        Delivery.Status.SENT,
        Delivery.Status.SENDING,
        *sent_ids,
        now,
        *attempts_params,
        *sent_ids,
        now,
        worker,
        *sent_ids,
        *wanted_ids,
        Delivery.Status.CLAIMED,
    ]
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# Sending ---------------------------------------------------------------------------


class Outcome:
    """What became of one message."""

    SENT = "sent"
    DEFERRED = "deferred"  # refused for now: retry this recipient later
    BOUNCED = "bounced"  # the recipient refused for good: suppress the address
    REJECTED = "rejected"  # the message refused for good: fail, keep the address
    IN_DOUBT = "in_doubt"  # handed over, no answer
    SERVER_DOWN = "server_down"  # nothing handed over; the server is unusable


def _reply(code: int, message: bytes | str) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"{code} {message}"


def classify(error: Exception, recipient: str) -> tuple[str, str]:
    """(Outcome, reply) for an error raised while handing one message to the
    mailer. 421 means the server is closing the connection: a server problem,
    whatever the command."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, message = error.recipients.get(
            recipient, next(iter(error.recipients.values()), (0, b""))
        )
        reply = _reply(code, message)
        if code == 421:
            return Outcome.SERVER_DOWN, reply
        return (Outcome.BOUNCED if code >= 500 else Outcome.DEFERRED), reply
    if isinstance(error, smtplib.SMTPSenderRefused):
        # Our own address refused: every message would be, so wait.
        return Outcome.SERVER_DOWN, _reply(error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return Outcome.IN_DOUBT, str(error) or "connection closed"
    if isinstance(error, smtplib.SMTPResponseException):
        reply = _reply(error.smtp_code, error.smtp_error)
        if error.smtp_code == 421:
            return Outcome.SERVER_DOWN, reply
        return (Outcome.REJECTED if error.smtp_code >= 500 else Outcome.DEFERRED), reply
    if isinstance(error, AnymailRecipientsRefused):
        return Outcome.BOUNCED, str(error)
    if isinstance(error, AnymailAPIError):
        return _classify_api_error(error)
    if isinstance(error, AnymailError) and not isinstance(error, ValueError):
        return Outcome.SERVER_DOWN, str(error)
    if isinstance(error, (OSError, smtplib.SMTPException)):
        return Outcome.IN_DOUBT, str(error)
    if isinstance(error, ValueError):
        # Django refused to build it (a header with a line break, a malformed
        # address) before anything was sent.
        logger.error("A message cannot be built for %s: %s", recipient, error)
        return Outcome.REJECTED, f"The message cannot be built: {error}"
    raise error


def _classify_api_error(error: AnymailAPIError) -> tuple[str, str]:
    """An email service's API (django-anymail) refused or did not answer."""
    reply = f"{error.status_code or 'no answer'}: {error}"[:1000]
    if error.status_code in {400, 422}:
        return Outcome.REJECTED, reply  # this message, as the service read it
    if error.status_code is None and isinstance(
        error.__cause__, requests.exceptions.ReadTimeout
    ):
        return Outcome.IN_DOUBT, reply  # sent, and no answer came back
    # Unreachable, overloaded (429, 5xx) or our credentials refused: wait.
    return Outcome.SERVER_DOWN, reply


def _anymail_outcome(message, recipient: str) -> tuple[str, str] | None:
    """The per-recipient answer of an email service (django-anymail), if any."""
    status = getattr(message, "anymail_status", None)
    if status is None or recipient not in (status.recipients or {}):
        return None
    answer = status.recipients[recipient].status
    if answer in {"rejected", "invalid"}:
        return Outcome.BOUNCED, f"{answer} by the email service"
    if answer == "failed":
        return Outcome.REJECTED, "failed at the email service"
    return None


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    skipped: int = 0
    in_doubt: int = 0


class ServerUnavailable(Exception):
    """The mail server cannot take messages now; the send waits."""


class _Batch:
    """One worker's claimed rows, sent over one connection, a slice at a time
    (NEWSLETTER_SENDING_SLICE rows marked "sending" per commit)."""

    def __init__(self, *, worker: str, mail: "IssueMail", connection):
        self.worker = worker
        self.mail = mail
        self.connection = connection
        self.result = BatchResult()
        # Accepted deliveries not yet recorded: they are marked "sent" in the
        # same commit that marks the next slice "sending".
        self.accepted: list[tuple[int, int]] = []

    def flush(self) -> None:
        """Record the accepted deliveries as sent."""
        if self.accepted:
            _record_slice(self.worker, sent=self.accepted, sending=[])
            self.accepted = []

    def begin_slice(self, rows: list["Claimed"]) -> list["Claimed"]:
        """In one statement (so one commit): the previous slice's "sent" marks
        and "sending" for this slice, whose rows are returned. The "sending"
        mark is committed before any of them leaves: it is what tells a resume
        that a message may have gone out. People who left meanwhile are marked
        "skipped" first. Rows the worker no longer holds as "claimed" (taken
        back by a pause, a cancel or a resume) are left out."""
        gone = [
            r.id for r in rows if r.subscriber_status != Subscriber.Status.CONFIRMED
        ]
        if gone:
            self.result.skipped += Delivery.objects.filter(
                id__in=gone, claimed_by=self.worker, status=Delivery.Status.CLAIMED
            ).update(status=Delivery.Status.SKIPPED, claimed_at=None)
            rows = [row for row in rows if row.id not in gone]
        wanted = [row.id for row in rows]
        updated = _record_slice(self.worker, sent=self.accepted, sending=wanted)
        expected = len(self.accepted) + len(wanted)
        self.accepted = []
        if updated == expected:
            return rows
        marked = set(
            Delivery.objects.filter(
                id__in=wanted, claimed_by=self.worker, status=Delivery.Status.SENDING
            ).values_list("id", flat=True)
        )
        return [row for row in rows if row.id in marked]

    def _set(self, delivery_id: int, **fields) -> int:
        return Delivery.objects.filter(id=delivery_id, claimed_by=self.worker).update(
            **fields
        )

    def open(self) -> None:
        try:
            self.connection.open()
        except (OSError, smtplib.SMTPException, AnymailError) as error:
            self.connection_lost()
            raise ServerUnavailable(str(error) or type(error).__name__) from error

    def connection_lost(self) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            self.connection.close()  # it is gone either way

    def send(self, row: "Claimed", attempts: int) -> None:
        """Hand one message (its row already marked "sending") to the server
        and record the outcome. Raises ServerUnavailable, with the row back in
        the queue, if the server cannot take it."""
        message = self.mail.message_for(row.subscriber_id, row.email)
        try:
            self.connection.send_messages([message])
        except Exception as error:  # noqa: BLE001 - classify() re-raises the unknown
            outcome, reply = classify(error, row.email)
        else:
            outcome, reply = _anymail_outcome(message, row.email) or (Outcome.SENT, "")
        self.record(row, attempts, outcome, reply)

    def record(self, row: "Claimed", attempts: int, outcome: str, reply: str) -> None:
        attempt = attempts + 1
        if outcome == Outcome.SENT:
            self.accepted.append((row.id, attempt))
            self.result.sent += 1
        elif outcome == Outcome.DEFERRED:
            if attempt >= settings.NEWSLETTER_SMTP_ATTEMPTS:
                self._fail(row, attempt, f"Refused {attempt} times, last: {reply}")
                return
            delay = settings.NEWSLETTER_RETRY_BACKOFF * 2 ** (attempt - 1)
            self._set(
                row.id,
                status=Delivery.Status.PENDING,
                claimed_by="",
                claimed_at=None,
                retry_at=timezone.now() + timedelta(seconds=delay),
                attempts=attempt,
                error=reply[:1000],
            )
            self.result.deferred += 1
        elif outcome == Outcome.BOUNCED:
            from .services import suppress_address

            self._fail(row, attempt, reply)
            suppress_address(
                Subscriber(pk=row.subscriber_id), "bounced", detail=reply[:200]
            )
        elif outcome == Outcome.REJECTED:
            self._fail(row, attempt, reply)
        elif outcome == Outcome.IN_DOUBT:
            logger.warning(
                "Connection lost handing over delivery %s: %s", row.id, reply
            )
            self._set(
                row.id,
                status=Delivery.Status.IN_DOUBT,
                attempts=attempt,
                error="Handed to the mail server, which gave no answer: it may "
                f"have been delivered ({reply}).",
            )
            self.result.in_doubt += 1
            # A new connection for the next message; if there is none to be
            # had, the server is down.
            self.connection_lost()
            self.open()
        else:  # SERVER_DOWN: this message was not taken either
            self._set(
                row.id,
                status=Delivery.Status.PENDING,
                claimed_by="",
                claimed_at=None,
                error=reply[:1000],
            )
            self.connection_lost()
            raise ServerUnavailable(reply)

    def _fail(self, row: "Claimed", attempt: int, reply: str) -> None:
        self._set(
            row.id,
            status=Delivery.Status.FAILED,
            attempts=attempt,
            retry_at=None,
            error=reply[:1000],
        )
        self.result.failed += 1

    def release_unsent(self, rows: list["Claimed"]) -> None:
        """Hand back rows never handed over (claimed, or marked "sending" in a
        slice that an error cut short): certainly not sent."""
        Delivery.objects.filter(
            id__in=[row.id for row in rows],
            claimed_by=self.worker,
            status__in=[Delivery.Status.CLAIMED, Delivery.Status.SENDING],
        ).update(status=Delivery.Status.PENDING, claimed_by="", claimed_at=None)


def wait_for_server(issue_id: int, reply: str) -> datetime:
    """Make the send wait for the mail server; returns until when."""
    until = timezone.now() + timedelta(seconds=settings.NEWSLETTER_SERVER_RETRY_AFTER)
    Issue.objects.filter(pk=issue_id, status=Issue.Status.SENDING).update(
        waiting_until=until, last_error=reply[:1000]
    )
    logger.warning(
        "Issue %s: the mail server is unavailable (%s); trying again at %s",
        issue_id,
        reply,
        until,
    )
    return until


def send_batch(
    issue_id: int,
    *,
    worker: str | None = None,
    size: int | None = None,
    mail: "IssueMail | None" = None,
    connection=None,
) -> BatchResult:
    """Claim one batch of the issue's pending deliveries and send it over one
    connection. If the server cannot take messages, the unsent rows go back to
    the queue, the issue waits (wait_for_server) and ServerUnavailable is
    raised."""
    worker = worker or worker_id()
    rows = claim_batch(
        issue_id, worker=worker, size=size or settings.NEWSLETTER_BATCH_SIZE
    )
    if not rows:
        finish_if_done(issue_id)
        return BatchResult()
    if mail is None:
        mail = IssueMail.for_issue(
            Issue.objects.select_related("newsletter").get(pk=issue_id)
        )
    batch = _Batch(worker=worker, mail=mail, connection=connection or mailers.default)
    batch.result.claimed = len(rows)
    slice_size = max(1, settings.NEWSLETTER_SENDING_SLICE)
    attempts = dict(
        Delivery.objects.filter(id__in=[row.id for row in rows]).values_list(
            "id", "attempts"
        )
    )
    handled = 0
    try:
        batch.open()
        for start in range(0, len(rows), slice_size):
            part = rows[start : start + slice_size]
            marked = {row.id for row in batch.begin_slice(part)}
            for row in part:
                # Counted before the hand-over: the row being handed over when
                # an error strikes is not handed back.
                handled += 1
                if row.id in marked:
                    batch.send(row, attempts[row.id])
    except ServerUnavailable as error:
        batch.flush()
        batch.release_unsent(rows[handled:])
        wait_for_server(issue_id, str(error))
        raise
    finally:
        # On any error, hand back what was never handed over; after success
        # this is a no-op. (A killed process runs none of this: its whole last
        # slice stays "sending".)
        batch.flush()
        batch.release_unsent(rows[handled:])
        batch.connection_lost()
    finish_if_done(issue_id)
    return batch.result


def send_all(issue_id: int, *, worker: str | None = None, on_batch=None) -> BatchResult:
    """Send every pending delivery of the issue from this process, batch by
    batch (the shell's `send_issue`). `on_batch(total_result)` reports progress.
    Deliveries waiting for a retry are left to the tasks."""
    worker = worker or worker_id()
    mail = IssueMail.for_issue(
        Issue.objects.select_related("newsletter").get(pk=issue_id)
    )
    total = BatchResult()
    while True:
        result = send_batch(issue_id, worker=worker, mail=mail)
        if not result.claimed:
            return total
        for name in ("claimed", "sent", "failed", "deferred", "skipped", "in_doubt"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        if on_batch:
            on_batch(total)


def send_test(issue: Issue, *, to: str, links_to: str) -> None:
    """The editor's test: the issue as it will be mailed, through the same
    message and mailer as the real send, to one address, with `links_to` in
    place of the personal links. Raises what the mailer raises."""
    mail = IssueMail.for_issue(issue, fresh=True)
    mail.subject = f"[Test] {issue.subject}"
    message = mail.message(to=to, preferences_url=links_to, unsubscribe_url=links_to)
    mailers.default.send_messages([message])
