"""
Background work, run by `manage.py db_worker` (django-tasks-db).

Sending batches go to the "newsletter" queue so a large send never delays the
one-off emails (confirmation, welcome) on the default queue.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.tasks import task, task_backends
from django.template.loader import render_to_string
from django.utils import timezone

from . import sending, services
from .models import Issue, Subscriber
from .tokens import confirm_url, preferences_url

logger = logging.getLogger(__name__)

# How long a batch waits before trying an unavailable SMTP server again.
RETRY_BATCH_AFTER = timedelta(minutes=1)


@task(queue_name="newsletter")
def send_issue_batch(issue_id: int) -> dict:
    """Claim and send one batch of the issue's pending deliveries."""
    try:
        result = sending.send_batch(issue_id)
    except sending.SMTPUnavailable:
        backend = task_backends[send_issue_batch.backend]
        if not backend.supports_defer:
            raise
        logger.warning("Issue %s: SMTP unavailable, retrying in a minute", issue_id)
        send_issue_batch.using(run_after=timezone.now() + RETRY_BATCH_AFTER).enqueue(
            issue_id
        )
        return {"retry": True}
    return {
        "claimed": result.claimed,
        "sent": result.sent,
        "failed": result.failed,
        "in_doubt": result.in_doubt,
    }


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
            "confirm_url": confirm_url(subscriber.pk, subscriber.email),
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
