"""Login throttling (django-axes) through the admin's login form: lockouts per
account and address and per address, their expiry, the lockout page, the log
editors read and the superuser's unlock.

Tests log in with force_login(), which axes allows. client.login() would need a
request for axes' backend: client.login(request=HttpRequest(), ...)."""

import io
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from tests.factories import make_staff

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
ADMIN = reverse("admin:index")
ATTACKER = "203.0.113.66"
OFFICE = "198.51.100.7"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def editor():
    user = make_staff("editor", "Editors")
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(client, username, password, address):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": ADMIN},
        REMOTE_ADDR=address,
    )


def fail(client, username, address, times):
    for _ in range(times):
        log_in(client, username, "wrong password", address)


def is_logged_in(client):
    return client.get(ADMIN).status_code == 200


def test_four_wrong_passwords_then_the_right_one_logs_in(client, editor):
    fail(client, "editor", ATTACKER, 4)

    response = log_in(client, "editor", PASSWORD, ATTACKER)

    assert response.status_code == 302
    assert is_logged_in(client)


def test_after_five_wrong_passwords_the_right_one_is_refused(client, editor):
    fail(client, "editor", ATTACKER, 5)

    response = log_in(client, "editor", PASSWORD, ATTACKER)

    assert response.status_code == 429
    assert "axes/lockout.html" in [t.name for t in response.templates]
    assert "Too many failed logins" in response.text
    assert "paused for 15 minutes" in response.text
    assert not is_logged_in(client)


def test_forty_wrong_passwords_then_the_right_one_is_refused(client, editor):
    fail(client, "editor", ATTACKER, 40)

    assert log_in(client, "editor", PASSWORD, ATTACKER).status_code == 429
    assert not is_logged_in(client)


def test_the_locked_account_still_logs_in_from_another_address(client, editor):
    fail(client, "editor", ATTACKER, 10)

    response = log_in(client, "editor", PASSWORD, OFFICE)

    assert response.status_code == 302
    assert is_logged_in(client)


def test_another_account_from_another_address_is_unaffected(client, editor):
    writer = make_staff("writer", "Writers")
    writer.set_password(PASSWORD)
    writer.save()
    fail(client, "editor", ATTACKER, 10)

    assert log_in(client, "writer", PASSWORD, OFFICE).status_code == 302
    assert is_logged_in(client)


def test_one_address_trying_many_accounts_is_locked_out_of_all(client, editor):
    for n in range(20):
        fail(client, f"guess{n}", ATTACKER, 1)

    assert log_in(client, "editor", PASSWORD, ATTACKER).status_code == 429
    assert log_in(client, "editor", PASSWORD, OFFICE).status_code == 302


@override_settings(LOGIN_IP_FAILURE_LIMIT=8)
def test_the_address_limit_is_a_setting(client, editor):
    for n in range(8):
        fail(client, f"guess{n}", ATTACKER, 1)

    assert log_in(client, "editor", PASSWORD, ATTACKER).status_code == 429


def test_the_lock_expires_after_the_cooloff(client, editor):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail(client, "editor", ATTACKER, 5)
        clock.shift(timedelta(minutes=14))
        assert log_in(client, "editor", PASSWORD, ATTACKER).status_code == 429

        # That try started the wait again.
        clock.shift(timedelta(minutes=14))
        assert log_in(client, "editor", PASSWORD, ATTACKER).status_code == 429

        clock.shift(timedelta(minutes=16))
        assert log_in(client, "editor", PASSWORD, ATTACKER).status_code == 302
    assert is_logged_in(client)


def test_editors_read_the_failed_attempts_in_the_admin(client, editor):
    fail(client, "editor", ATTACKER, 5)
    client.force_login(editor)

    attempts = client.get(reverse("admin:axes_accessattempt_changelist"))
    failures = client.get(reverse("admin:axes_accessfailurelog_changelist"))

    assert attempts.status_code == 200
    assert ATTACKER in attempts.text
    assert failures.status_code == 200
    assert ATTACKER in failures.text
    assert AccessFailureLog.objects.filter(username="editor", locked_out=True).exists()


def test_writers_do_not_read_the_login_logs(client):
    client.force_login(make_staff("writer", "Writers"))

    response = client.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == 403


def test_an_administrator_unlocks_an_account(client, editor):
    fail(client, "editor", ATTACKER, 5)
    assert log_in(client, "editor", PASSWORD, ATTACKER).status_code == 429

    call_command("axes_reset_username", "editor", stdout=io.StringIO())

    assert log_in(client, "editor", PASSWORD, ATTACKER).status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_a_forwarded_address_that_is_no_address_is_no_error(client, editor):
    response = client.post(
        LOGIN,
        {"username": "editor", "password": "wrong", "next": ADMIN},
        HTTP_X_FORWARDED_FOR="not-an-address",
    )

    assert response.status_code == 200
    assert AccessAttempt.objects.get().ip_address is None


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_the_forwarded_address_is_counted(client, editor):
    for _ in range(5):
        client.post(
            LOGIN,
            {"username": "editor", "password": "wrong", "next": ADMIN},
            HTTP_X_FORWARDED_FOR=ATTACKER,
        )

    assert AccessAttempt.objects.get().ip_address == ATTACKER
