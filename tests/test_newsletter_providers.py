"""Email services through django-anymail: chosen by EMAIL_PROVIDER, mailing
through the service's API, and its signed webhooks suppressing addresses."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from newsletter import services
from newsletter.models import Issue, Subscriber
from tests.factories import make_article, make_issue, make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
ANYMAIL_TEST_BACKEND = {"default": {"BACKEND": "anymail.backends.test.EmailBackend"}}
MAILGUN_KEY = "mailgun-webhook-signing-key"
POSTMARK_AUTH = "postmark:webhook-password"


def settings_in_a_fresh_process(**env):
    """The settings module, read from scratch with these variables."""
    probe = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps({'mailers': settings.MAILERS, "
        "'anymail': getattr(settings, 'ANYMAIL', None)}))"
    )
    keep = {"PATH", "HOME", "LANG", "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if key in keep}
        | {"DJANGO_SETTINGS_MODULE": "newsroom.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode:
        return result.stderr.strip().splitlines()[-1]
    return json.loads(result.stdout)


@pytest.mark.slow
def test_smtp_stays_the_default():
    read = settings_in_a_fresh_process(DEBUG="0", SECRET_KEY="x" * 50)
    assert read["mailers"]["default"]["BACKEND"] == (
        "django.core.mail.backends.smtp.EmailBackend"
    )
    assert read["anymail"] is None


@pytest.mark.slow
def test_a_provider_and_its_keys_come_from_the_environment():
    read = settings_in_a_fresh_process(
        EMAIL_PROVIDER="postmark",
        ANYMAIL_API_KEY="server-token",
        ANYMAIL_WEBHOOK_SECRET="postmark:one,postmark:two",
    )
    assert read["mailers"] == {
        "default": {"BACKEND": "anymail.backends.postmark.EmailBackend"}
    }
    assert read["anymail"] == {
        "POSTMARK_SERVER_TOKEN": "server-token",
        "WEBHOOK_SECRET": ["postmark:one", "postmark:two"],
    }


@pytest.mark.slow
def test_an_unknown_provider_is_refused_by_name():
    error = settings_in_a_fresh_process(EMAIL_PROVIDER="carrier-pigeon")
    assert error.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert "EMAIL_PROVIDER must be one of smtp, amazon_ses, brevo, mailgun," in error
    assert "not 'carrier-pigeon'" in error


@pytest.mark.slow
def test_a_provider_without_its_webhook_key_is_refused():
    error = settings_in_a_fresh_process(EMAIL_PROVIDER="mailgun", ANYMAIL_API_KEY="key")
    assert error.endswith(
        "ANYMAIL_WEBHOOK_SIGNING_KEY must be set with EMAIL_PROVIDER=mailgun."
    )


# Mailing through the service ----------------------------------------------------


@override_settings(MAILERS=ANYMAIL_TEST_BACKEND)
def test_an_issue_goes_out_through_the_service():
    newsletter = make_newsletter()
    make_subscriber(newsletter, email="reader@example.org")
    issue = make_issue(newsletter, articles=[make_article(title="Budget passes")])

    services.start_sending(issue=issue)

    [message] = mail.outbox
    assert message.anymail_status.status == {"sent"}
    assert message.anymail_test_params["to"][0].addr_spec == "reader@example.org"
    assert "Budget passes" in message.alternatives[0].content
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


@override_settings(MAILERS=ANYMAIL_TEST_BACKEND)
def test_a_confirmation_goes_out_through_the_service():
    newsletter = make_newsletter()
    services.subscribe(
        email="new@example.org", newsletter_ids=[newsletter.pk], ip=None, source=""
    )
    [message] = mail.outbox
    assert message.anymail_status.status == {"sent"}
    assert message.to == ["new@example.org"]


# Webhooks -----------------------------------------------------------------------


def mailgun_event(event, *, key=MAILGUN_KEY, **event_data):
    timestamp, token = "1767225600", "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    signature = hmac.new(
        key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {"event": event, "timestamp": 1767225600.5, **event_data},
    }


def post_mailgun(client, payload):
    return client.post(
        reverse("newsletter:webhook", args=["mailgun"]),
        json.dumps(payload),
        content_type="application/json",
    )


mailgun = override_settings(
    EMAIL_PROVIDER="mailgun",
    ANYMAIL={"MAILGUN_API_KEY": "key", "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY},
)
postmark = override_settings(
    EMAIL_PROVIDER="postmark",
    ANYMAIL={"POSTMARK_SERVER_TOKEN": "token", "WEBHOOK_SECRET": [POSTMARK_AUTH]},
)


@mailgun
def test_a_signed_mailgun_hard_bounce_suppresses_the_address(client):
    subscriber = make_subscriber(make_newsletter(), email="gone@example.org")
    payload = mailgun_event(
        "failed",
        severity="permanent",
        reason="bounce",
        recipient="Gone@example.org",
        **{"delivery-status": {"code": 550, "message": "5.1.1 No such user"}},
    )

    response = post_mailgun(client, payload)

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.BOUNCED


@mailgun
def test_a_badly_signed_mailgun_call_is_refused_and_changes_nothing(client):
    subscriber = make_subscriber(make_newsletter(), email="reader@example.org")
    payload = mailgun_event("complained", key="a-guess", recipient="reader@example.org")

    response = post_mailgun(client, payload)

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


@mailgun
def test_a_temporary_mailgun_failure_keeps_the_address(client):
    subscriber = make_subscriber(make_newsletter(), email="full@example.org")
    payload = mailgun_event(
        "failed", severity="temporary", recipient="full@example.org"
    )

    assert post_mailgun(client, payload).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


@mailgun
def test_a_mailgun_complaint_marks_the_address_complained(client):
    subscriber = make_subscriber(make_newsletter(), email="angry@example.org")
    assert (
        post_mailgun(
            client, mailgun_event("complained", recipient="angry@example.org")
        ).status_code
        == 200
    )
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.COMPLAINED


def post_postmark(client, payload, *, auth=POSTMARK_AUTH):
    return client.post(
        reverse("newsletter:webhook", args=["postmark"]),
        json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()},
    )


POSTMARK_SPAM_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "Type": "SpamComplaint",
    "ID": 42,
    "Email": "angry@example.org",
    "BouncedAt": "2026-12-01T10:00:00Z",
    "Description": "The subscriber explicitly marked this message as spam.",
}


@postmark
def test_a_postmark_complaint_with_the_secret_suppresses_the_address(client):
    subscriber = make_subscriber(make_newsletter(), email="angry@example.org")

    assert post_postmark(client, POSTMARK_SPAM_COMPLAINT).status_code == 200

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.COMPLAINED


@postmark
def test_a_postmark_call_without_the_secret_is_refused(client):
    subscriber = make_subscriber(make_newsletter(), email="angry@example.org")

    response = post_postmark(client, POSTMARK_SPAM_COMPLAINT, auth="postmark:guess")

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


@postmark
def test_only_the_configured_provider_has_a_webhook(client):
    subscriber = make_subscriber(make_newsletter(), email="gone@example.org")
    payload = mailgun_event("failed", severity="permanent", recipient=subscriber.email)

    assert post_mailgun(client, payload).status_code == 404
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


def test_with_smtp_there_is_no_webhook(client):
    response = client.post(
        reverse("newsletter:webhook", args=["postmark"]),
        "{}",
        content_type="application/json",
    )
    assert response.status_code == 404


@postmark
def test_an_unsubscribe_through_the_service_unsubscribes(client):
    subscriber = make_subscriber(make_newsletter(), email="done@example.org")
    payload = {
        "RecordType": "SubscriptionChange",
        "Recipient": "done@example.org",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "ChangedAt": "2026-12-01T10:00:00Z",
    }

    assert post_postmark(client, payload).status_code == 200

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
