"""
Bounces and complaints reported by the email service (EMAIL_PROVIDER).

The service calls /newsletter/webhooks/<provider>/ (views.provider_webhook).
django-anymail's view for that service checks the call's signature or its
basic-auth secret, answers 400 to a call that fails the check, and turns the
payload into normalised tracking events sent through anymail's `tracking`
signal. The receiver below stops all mail to a bounced, complaining or
unsubscribed address at once; other events (delivered, opened, a temporary
failure) change nothing.
"""

import logging

from anymail.signals import EventType, RejectReason, tracking
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from anymail.webhooks.sparkpost import SparkPostTrackingWebhookView
from django.dispatch import receiver

from . import services
from .models import Subscriber, normalize_email

logger = logging.getLogger(__name__)

# The keys are the values of EMAIL_PROVIDER (settings.EMAIL_PROVIDERS).
TRACKING_VIEWS = {
    "amazon_ses": AmazonSESTrackingWebhookView.as_view(),
    "brevo": BrevoTrackingWebhookView.as_view(),
    "mailgun": MailgunTrackingWebhookView.as_view(),
    "postmark": PostmarkTrackingWebhookView.as_view(),
    "sendgrid": SendGridTrackingWebhookView.as_view(),
    "sparkpost": SparkPostTrackingWebhookView.as_view(),
}

# Why the service refused to send, and what that makes of the address. A refusal
# for another reason (blocked by a spam filter, timed out) may pass next time.
REJECTIONS = {
    RejectReason.BOUNCED: Subscriber.Status.BOUNCED,
    RejectReason.INVALID: Subscriber.Status.BOUNCED,
    RejectReason.SPAM: Subscriber.Status.COMPLAINED,
    RejectReason.UNSUBSCRIBED: Subscriber.Status.UNSUBSCRIBED,
}


def suppression_for(event) -> Subscriber.Status | None:
    """The status an address takes after this event, or None to mail it on.
    "Bounced" is anymail's name for a permanent failure; a temporary one is
    "deferred"."""
    if event.event_type == EventType.BOUNCED:
        return Subscriber.Status.BOUNCED
    if event.event_type == EventType.COMPLAINED:
        return Subscriber.Status.COMPLAINED
    if event.event_type == EventType.UNSUBSCRIBED:
        return Subscriber.Status.UNSUBSCRIBED
    if event.event_type == EventType.REJECTED:
        return REJECTIONS.get(event.reject_reason)
    return None


def suppress(*, email: str, status: Subscriber.Status, detail: str) -> bool:
    """Stop the mail to this address; returns whether it is a subscriber's."""
    if status == Subscriber.Status.UNSUBSCRIBED:
        subscribers = list(Subscriber.objects.filter(email=normalize_email(email)))
        for subscriber in subscribers:
            services.unsubscribe(subscriber=subscriber)
        return bool(subscribers)
    return services.suppress_address(email, status, detail=detail)


@receiver(tracking, dispatch_uid="newsletter-suppress-on-bounce")
def suppress_on_bounce_or_complaint(sender, event, esp_name, **kwargs):
    status = suppression_for(event)
    if status is None or not event.recipient:
        return
    # The detail is logged: it names the event, never the address (the
    # server's answer often quotes it).
    suppress(
        email=event.recipient,
        status=status,
        detail=f"{esp_name} reported {event.event_type}, event {event.event_id}",
    )
