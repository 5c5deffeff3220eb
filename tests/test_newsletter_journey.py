"""The whole journey over real SMTP: sign up, confirm, receive, leave with one click."""

import email
import email.policy
import re
import socket

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from newsletter import services
from newsletter.models import Subscriber
from tests.factories import make_article, make_issue, make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default
        )
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"

    def to(self, address):
        return [message for rcpts, message in self.messages if address in rcpts]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_inbox(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    # The test runner swaps every mailer for locmem; this test wants real SMTP.
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 30},
        }
    }
    cache.clear()
    yield inbox
    controller.stop()
    cache.clear()


def parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def link(text, name):
    return re.search(rf"http://127\.0\.0\.1:8000(/newsletter/{name}/[^\s/]+/)", text)[1]


def test_sign_up_confirm_receive_and_unsubscribe_over_smtp(client, smtp_inbox):
    newsletter = make_newsletter(name="Morning Briefing", slug="morning")
    neighbour = make_subscriber(newsletter, email="neighbour@example.org")
    address = "reader@example.org"

    # Sign up: only the confirmation arrives.
    response = client.post(
        reverse("newsletter:subscribe"),
        {"email": "Reader@Example.org", "newsletters": [newsletter.pk]},
    )
    assert response.status_code == 302
    [confirmation] = smtp_inbox.to(address)
    text, html = parts(confirmation)
    confirm_path = link(text, "confirm")
    assert confirm_path in html

    # Following the link (as a mail scanner would) changes nothing.
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert b"Confirm my subscription" in page.content
    assert Subscriber.objects.get(email=address).status == Subscriber.Status.PENDING

    # Pressing the button confirms, and a welcome email follows.
    assert client.post(confirm_path).status_code == 302
    subscriber = Subscriber.objects.get(email=address)
    assert subscriber.status == Subscriber.Status.CONFIRMED
    assert subscriber.consent_at is not None
    assert len(smtp_inbox.to(address)) == 2
    assert "Welcome" in smtp_inbox.to(address)[1]["Subject"]

    # An issue goes out and reaches them over SMTP.
    article = make_article(title="Harbour ferry gets a new timetable")
    issue = make_issue(
        newsletter,
        articles=[article],
        subject="Ferry news",
        preheader="And more from the harbour",
        intro="<p>Good morning.</p><script>alert(1)</script>",
    )
    services.start_sending(issue=issue)
    [received] = smtp_inbox.to(address)[2:]
    assert received["Subject"] == "Ferry news"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["List-Id"] == "Morning Briefing <morning.127.0.0.1>"
    assert re.fullmatch(r"<[^@>]+@127\.0\.0\.1>", received["Message-ID"])
    assert received.get_content_type() == "multipart/alternative"
    text, html = parts(received)
    for body in (text, html):
        assert "Harbour ferry gets a new timetable" in body
        assert "http://127.0.0.1:8000" + article.get_absolute_url() in body
        assert "Newsroom Media" in body  # publisher in the footer
    assert "And more from the harbour" in html  # preheader
    assert "alert(1)" not in html
    unsubscribe_url = received["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url in html and unsubscribe_url in text
    assert link(text, "preferences") in html

    # The one-click POST a mail provider makes: no cookie, no CSRF token.
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(
        unsubscribe_url.removeprefix("http://127.0.0.1:8000"),
        {"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 302
    assert Subscriber.objects.get(email=address).status == (
        Subscriber.Status.UNSUBSCRIBED
    )

    # The next issue does not reach them; it still reaches the neighbour.
    services.start_sending(issue=make_issue(newsletter, subject="Next day"))
    assert len(smtp_inbox.to(address)) == 3
    assert [m["Subject"] for m in smtp_inbox.to(neighbour.email)] == [
        "Ferry news",
        "Next day",
    ]
