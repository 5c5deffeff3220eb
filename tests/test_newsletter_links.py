"""Signed links: confirm, preferences, one-click unsubscribe; expired and tampered."""

import re

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from newsletter import tokens
from newsletter.models import Subscriber
from tests.factories import make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db


@pytest.fixture
def newsletter():
    return make_newsletter(name="Morning Briefing")


@pytest.fixture
def pending(newsletter):
    return make_subscriber(newsletter, status=Subscriber.Status.PENDING)


def confirm_path(subscriber):
    token = tokens.make_confirm_token(subscriber.pk)
    return reverse("newsletter:confirm", args=[token])


def manage_token(subscriber):
    return tokens.make_manage_token(subscriber.pk)


def test_opening_the_confirmation_link_only_shows_a_button(client, pending):
    response = client.get(confirm_path(pending))
    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    pending.refresh_from_db()
    assert pending.status == Subscriber.Status.PENDING
    assert mail.outbox == []


def test_pressing_the_button_confirms_and_welcomes_once(client, pending):
    path = confirm_path(pending)
    response = client.post(path, follow=True)
    assert b"Your subscription is confirmed" in response.content
    assert client.post(path).status_code == 302
    pending.refresh_from_db()
    assert pending.status == Subscriber.Status.CONFIRMED
    assert pending.confirmed_at == pending.consent_at
    assert [m.subject for m in mail.outbox] == ["Welcome to Newsroom's newsletters"]


def test_an_expired_confirmation_link_is_refused(client, pending, settings):
    settings.NEWSLETTER_CONFIRM_MAX_AGE = 3600
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        path = confirm_path(pending)
    with time_machine.travel("2026-11-01 10:30Z", tick=False):
        response = client.post(path)
    assert response.status_code == 400
    assert b"This link has expired" in response.content
    pending.refresh_from_db()
    assert pending.status == Subscriber.Status.PENDING


@pytest.mark.parametrize("change", ["flip-last", "old-format", "wrong-salt"])
def test_a_tampered_confirmation_link_is_refused(client, pending, change):
    token = tokens.make_confirm_token(pending.pk)
    if change == "flip-last":
        token = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif change == "old-format":
        # Links once carried the address too, under another salt.
        token = signing.dumps(
            {"id": pending.pk, "email": pending.email}, salt="newsletter.confirm"
        )
    else:
        token = tokens.make_manage_token(pending.pk)
    response = client.post(reverse("newsletter:confirm", args=[token]))
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert not Subscriber.objects.filter(status=Subscriber.Status.CONFIRMED).exists()


def test_a_confirmation_link_cannot_undo_an_unsubscribe(client, pending):
    path = confirm_path(pending)
    pending.status = Subscriber.Status.UNSUBSCRIBED
    pending.save()
    assert client.post(path).status_code == 400
    pending.refresh_from_db()
    assert pending.status == Subscriber.Status.UNSUBSCRIBED


def test_preferences_change_newsletters(client, newsletter):
    other = make_newsletter(name="Alerts")
    subscriber = make_subscriber(newsletter)
    url = reverse("newsletter:preferences", args=[manage_token(subscriber)])

    page = client.get(url)
    assert page.status_code == 200
    assert subscriber.email.encode() in page.content

    response = client.post(url, {"newsletters": [other.pk]})
    assert response.status_code == 200
    assert b"Your choices are saved" in response.content
    assert list(subscriber.newsletters.all()) == [other]


def test_choosing_no_newsletter_unsubscribes(client, newsletter):
    subscriber = make_subscriber(newsletter)
    url = reverse("newsletter:preferences", args=[manage_token(subscriber)])
    client.post(url, {})
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_preferences_with_a_tampered_token_are_refused(client, newsletter):
    subscriber = make_subscriber(newsletter)
    token = manage_token(subscriber).replace(f"{subscriber.pk}:", "999999:")
    response = client.get(reverse("newsletter:preferences", args=[token]))
    assert response.status_code == 400


def test_one_click_get_asks_and_unsubscribes_nobody(client, newsletter):
    subscriber = make_subscriber(newsletter)
    url = reverse("newsletter:unsubscribe", args=[manage_token(subscriber)])
    response = client.get(url)
    assert response.status_code == 200
    assert b"<button" in response.content
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


def test_one_click_post_unsubscribes_without_csrf_token(newsletter):
    subscriber = make_subscriber(newsletter)
    url = reverse("newsletter:unsubscribe", args=[manage_token(subscriber)])
    response = Client(enforce_csrf_checks=True).post(
        url,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.unsubscribed_at is not None


def test_one_click_post_with_a_forged_token_does_nothing(newsletter):
    subscriber = make_subscriber(newsletter)
    forged = f"{subscriber.pk}:{'x' * 27}"
    response = Client(enforce_csrf_checks=True).post(
        reverse("newsletter:unsubscribe", args=[forged])
    )
    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


def test_the_preferences_form_refuses_a_post_from_another_site(newsletter):
    subscriber = make_subscriber(newsletter)
    url = reverse("newsletter:preferences", args=[manage_token(subscriber)])
    response = Client(enforce_csrf_checks=True).post(
        url, {"unsubscribe": "1"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED


def test_the_emailed_confirmation_link_carries_an_id_not_the_address(client):
    newsletter = make_newsletter(slug="daily", is_default=True)
    client.post(
        reverse("newsletter:subscribe"),
        {"email": "reader@example.org", "newsletters": [newsletter.pk]},
    )
    [message] = mail.outbox
    token = re.search(r"/newsletter/confirm/([^/\s]+)/", message.body).group(1)
    subscriber = Subscriber.objects.get(email="reader@example.org")
    assert signing.loads(token, salt=tokens.CONFIRM_SALT) == subscriber.pk
