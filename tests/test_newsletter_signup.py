"""Sign-up: the box on every page, the form, double opt-in's first step."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from newsletter.models import Subscriber
from tests.factories import make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db

SUBSCRIBE = reverse("newsletter:subscribe")


@pytest.fixture
def digest():
    return make_newsletter(name="Morning Briefing", slug="morning", is_default=True)


@pytest.fixture
def alerts():
    return make_newsletter(name="Alerts", slug="alerts")


def sign_up(client, email, *newsletters, **extra):
    data = {"email": email, "newsletters": [n.pk for n in newsletters], **extra}
    return client.post(SUBSCRIBE, data, REMOTE_ADDR=extra.pop("ip", "203.0.113.9"))


def render_box():
    request = RequestFactory().get("/some/page/")
    return Template("{% load newsletter_tags %}{% newsletter_signup_box %}").render(
        Context({"request": request, "csrf_token": "TOKEN123"})
    )


def test_box_lists_newsletters_with_the_default_ticked(digest, alerts):
    html = render_box()
    assert "Sign Up for Our Newsletters" in html
    assert "Get notified of the latest updates." in html
    assert '<label for="newsletter-box-email">Email address</label>' in html
    assert f'value="{digest.pk}" checked' in html
    assert f'value="{alerts.pk}">' in html
    assert 'name="website"' in html  # the honeypot
    # The same box for every reader: no per-reader CSRF token (publicpages.crossorigin).
    assert "TOKEN123" not in html
    assert 'value="/some/page/"' in html  # where the sign-up came from


def test_box_costs_no_query_once_cached(digest, django_assert_num_queries):
    render_box()
    with django_assert_num_queries(0):
        html = render_box()
    assert "Morning Briefing" in html


def test_box_shows_a_renamed_newsletter_at_once(digest):
    render_box()
    digest.name = "Evening Briefing"
    digest.save()
    assert "Evening Briefing" in render_box()


def test_newsletter_page_lists_newsletters(client, digest, alerts):
    response = client.get(reverse("newsletter:index"))
    assert response.status_code == 200
    assert b"Morning Briefing" in response.content
    assert b"Alerts" in response.content


def test_sign_up_sends_one_confirmation_and_records_consent(client, digest):
    response = sign_up(client, "  Reader@Example.ORG ", digest, source="/articles/x/")
    assert response.status_code == 302
    assert response["Location"] == reverse("newsletter:check_inbox")
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "reader@example.org"
    assert subscriber.status == Subscriber.Status.PENDING
    assert list(subscriber.newsletters.all()) == [digest]
    assert subscriber.consent_ip == "203.0.113.9"
    assert subscriber.consent_source.endswith("/articles/x/")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["reader@example.org"]
    assert "/newsletter/confirm/" in mail.outbox[0].body


def test_confirmation_never_echoes_what_was_typed(client, digest):
    sign_up(
        client,
        "victim@example.org",
        digest,
        source="/Buy-cheap-pills-at-spam.example/",
        website="",
    )
    body = mail.outbox[0].body + mail.outbox[0].alternatives[0].content
    assert "spam.example" not in body
    assert "Buy-cheap" not in body


def test_every_case_gets_the_same_answer(client, digest):
    make_subscriber(digest, email="confirmed@example.org")
    make_subscriber(
        digest, email="left@example.org", status=Subscriber.Status.UNSUBSCRIBED
    )
    make_subscriber(
        digest, email="bounced@example.org", status=Subscriber.Status.BOUNCED
    )
    answers = set()
    for email in [
        "new@example.org",
        "new@example.org",
        "CONFIRMED@example.org",
        "left@example.org",
        "bounced@example.org",
    ]:
        response = sign_up(client, email, digest)
        answers.add((response.status_code, response["Location"]))
    assert answers == {(302, reverse("newsletter:check_inbox"))}
    mailed = sorted(message.to[0] for message in mail.outbox)
    # Confirmed and bounced addresses get nothing; the others a confirmation.
    assert mailed == ["left@example.org", "new@example.org", "new@example.org"]


def test_a_confirmed_subscriber_is_not_changed_by_a_stranger(client, digest, alerts):
    subscriber = make_subscriber(digest, email="reader@example.org")
    sign_up(client, "reader@example.org", alerts)
    assert list(subscriber.newsletters.all()) == [digest]
    assert mail.outbox == []


def test_repeated_sign_ups_send_at_most_the_daily_number(client, digest, settings):
    settings.NEWSLETTER_CONFIRMATIONS_PER_DAY = 3
    for _ in range(5):
        sign_up(client, "reader@example.org", digest)
    assert len(mail.outbox) == 3
    assert Subscriber.objects.count() == 1


@pytest.mark.parametrize(
    "spelling",
    ["reader+1@example.org", "Reader+2@Example.org", '"reader"@example.org'],
)
def test_other_spellings_of_an_address_count_against_its_daily_number(
    client, digest, settings, spelling
):
    settings.NEWSLETTER_CONFIRMATIONS_PER_DAY = 1
    sign_up(client, "reader@example.org", digest)
    sign_up(client, spelling, digest, ip="203.0.113.10")
    assert len(mail.outbox) == 1


def test_an_address_at_an_ip_literal_is_refused_with_a_clear_error(client, digest):
    response = sign_up(client, "reader@[192.0.2.1]", digest)
    assert response.status_code == 400
    assert "not an IP address" in response.text
    assert 'value="reader@[192.0.2.1]"' in response.text
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_the_daily_number_starts_again_the_next_day(client, digest, settings):
    import time_machine

    settings.NEWSLETTER_CONFIRMATIONS_PER_DAY = 1
    with time_machine.travel("2026-11-20 10:00Z", tick=False):
        sign_up(client, "reader@example.org", digest)
        sign_up(client, "reader@example.org", digest)
    with time_machine.travel("2026-11-21 10:00Z", tick=False):
        sign_up(client, "reader@example.org", digest)
    assert len(mail.outbox) == 2


def test_sign_ups_are_rate_limited_per_ip(client, digest, settings):
    settings.NEWSLETTER_SIGNUP_RATE = 2
    for n in range(2):
        assert sign_up(client, f"r{n}@example.org", digest).status_code == 302
    response = sign_up(client, "r9@example.org", digest)
    assert response.status_code == 429
    assert b"Too many sign-ups" in response.content
    assert not Subscriber.objects.filter(email="r9@example.org").exists()
    # Another address is not affected.
    other = client.post(
        SUBSCRIBE,
        {"email": "x@example.org", "newsletters": [digest.pk]},
        REMOTE_ADDR="198.51.100.7",
    )
    assert other.status_code == 302


def test_honeypot_gets_the_same_answer_and_nothing_happens(client, digest):
    response = sign_up(client, "bot@example.org", digest, website="http://spam")
    assert response.status_code == 302
    assert response["Location"] == reverse("newsletter:check_inbox")
    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_a_malformed_address_is_refused_and_kept_in_the_field(client, digest):
    response = sign_up(client, "reader@@example", digest)
    assert response.status_code == 400
    content = response.content.decode()
    assert "Enter a complete email address" in content
    assert 'value="reader@@example"' in content
    assert 'aria-invalid="true"' in content
    assert not Subscriber.objects.exists()


def test_an_address_with_hidden_characters_is_refused_and_kept(client, digest):
    response = sign_up(client, "reader@exa\u202emple.org", digest)
    assert response.status_code == 400
    content = response.content.decode()
    assert (
        "This contains hidden control or formatting characters. Please type it again."
        in content
    )
    assert 'value="reader@exa\u202emple.org"' in content
    assert not Subscriber.objects.exists()


def test_the_consent_record_keeps_no_control_characters(client, digest):
    sign_up(client, "reader@example.org", digest, source="/articles/\x1b[2Jx/\u202e")
    assert Subscriber.objects.get().consent_source.endswith("/articles/[2Jx/")


def test_a_referer_with_control_characters_is_recorded_without_them(client, digest):
    # No source in the form: the consent record falls back on the Referer header.
    client.post(
        SUBSCRIBE,
        {"email": "reader@example.org", "newsletters": [digest.pk]},
        headers={"Referer": "http://127.0.0.1:8000/articles/x/\t\x85\x7f"},
    )
    source = Subscriber.objects.get().consent_source
    assert source == "http://127.0.0.1:8000/articles/x/"


def test_a_sign_up_without_a_newsletter_is_refused(client, digest):
    response = sign_up(client, "reader@example.org")
    assert response.status_code == 400
    assert b"Choose at least one newsletter" in response.content


def test_database_refuses_a_second_row_in_another_case(digest):
    from django.db import IntegrityError, transaction

    make_subscriber(email="reader@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        Subscriber.objects.bulk_create([Subscriber(email="READER@example.org")])


@pytest.mark.parametrize("name", ["index", "check_inbox", "unsubscribed"])
def test_a_post_to_a_page_that_takes_none_is_refused(client, name):
    response = client.post(reverse(f"newsletter:{name}"), {"email": "a@example.org"})
    assert response.status_code == 405
    assert Subscriber.objects.count() == 0


PRODUCTION_TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "newsletter"],
    }
}


def test_a_sign_up_runs_the_same_queries_whoever_owns_the_address(client, digest):
    """So the answer's timing cannot tell a stranger who subscribes."""
    make_subscriber(digest, email="confirmed@example.org")
    make_subscriber(
        digest, email="pending@example.org", status=Subscriber.Status.PENDING
    )
    shapes = []
    with override_settings(TASKS=PRODUCTION_TASKS):
        for n, email in enumerate(
            ["confirmed@example.org", "pending@example.org", "new@example.org"]
        ):
            with CaptureQueriesContext(connection) as queries:
                response = sign_up(client, email, digest, ip=f"198.51.100.{n}")
            assert response.status_code == 302
            # The statements, with the values (the address, the IP) left out.
            shapes.append([re.sub(r"'[^']*'|\d+", "?", q["sql"]) for q in queries])
    assert shapes[0] == shapes[1] == shapes[2]
