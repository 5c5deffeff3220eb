"""Rate limits and throttles live in the database, so every process (gunicorn's
workers, the task worker, another app server) counts the same hits and a restart
forgets none of them."""

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ratelimit.limits import (
    clear_limit,
    delete_expired_windows,
    email_limit_key,
    is_rate_limited,
    window_ends_at,
)
from ratelimit.models import Window
from tests.comments_helpers import post
from tests.factories import make_article, make_newsletter

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_it_allows_the_limit_and_refuses_the_next_hit():
    outcomes = [
        is_rate_limited("signup:192.0.2.1", limit=3, period=60) for _ in range(4)
    ]
    assert outcomes == [False, False, False, True]


@pytest.mark.django_db
def test_a_limit_counts_each_key_apart():
    assert not is_rate_limited("signup:192.0.2.1", limit=1, period=60)
    assert not is_rate_limited("signup:192.0.2.2", limit=1, period=60)
    assert is_rate_limited("signup:192.0.2.1", limit=1, period=60)


@pytest.mark.django_db
def test_a_new_window_opens_once_the_period_has_passed():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert not is_rate_limited("k", limit=1, period=60)
        traveller.shift(timedelta(seconds=59))
        assert is_rate_limited("k", limit=1, period=60)
        traveller.shift(timedelta(seconds=1))
        assert not is_rate_limited("k", limit=1, period=60)
        assert window_ends_at("k") == timezone.now() + timedelta(seconds=60)


@pytest.mark.django_db
def test_clearing_a_limit_opens_a_new_window():
    is_rate_limited("k", limit=1, period=60)
    clear_limit("k")
    assert window_ends_at("k") is None
    assert not is_rate_limited("k", limit=1, period=60)


@pytest.mark.django_db
def test_expired_windows_are_deleted_when_a_new_key_opens_one():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        is_rate_limited("old", limit=1, period=60)
        is_rate_limited("current", limit=1, period=3600)
        traveller.shift(timedelta(minutes=2))
        is_rate_limited("new", limit=1, period=60)
    assert sorted(Window.objects.values_list("key", flat=True)) == ["current", "new"]
    assert delete_expired_windows() == 0


@pytest.mark.django_db
def test_a_limit_outlives_the_in_process_cache(client, settings):
    """A restart empties the in-process cache; the count must survive it."""
    settings.NEWSLETTER_SIGNUP_RATE = 1
    newsletter = make_newsletter(is_default=True)

    def sign_up(email):
        return client.post(
            reverse("newsletter:subscribe"),
            {"email": email, "newsletters": [newsletter.pk]},
            REMOTE_ADDR="203.0.113.7",
        )

    assert sign_up("a@example.org").status_code == 302
    cache.clear()
    response = sign_up("b@example.org")
    assert response.status_code == 429


@pytest.mark.django_db
def test_the_moderator_notice_throttle_outlives_the_in_process_cache(client, settings):
    settings.COMMENTS_MODERATOR_EMAILS = ["desk@newsroom.example"]
    article = make_article()
    post(client, article, comment="Held first")
    cache.clear()
    post(client, article, comment="Held second")
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_connections_hitting_a_limit_at_once_are_counted_exactly():
    """Threads with their own database connections, on whichever database
    DATABASE_URL names: each hit is counted once, whatever the interleaving."""
    barrier = threading.Barrier(8)
    outcomes, errors = [], []

    def hit():
        try:
            barrier.wait(timeout=10)
            outcomes.append(is_rate_limited("signup:192.0.2.9", limit=5, period=60))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(outcomes) == [False] * 5 + [True] * 3


# Separate processes on one SQLite file, as gunicorn's workers are ----------------


def _manage(*args: str, database: Path) -> list[str]:
    """The command line and environment of one more app server process."""
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME"}}
    env |= {"SECRET_KEY": "s" * 60, "SQLITE_PATH": str(database)}
    return [sys.executable, "manage.py", *args], env


def _run(*args: str, database: Path) -> subprocess.CompletedProcess:
    command, env = _manage(*args, database=database)
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


HITS = (
    "from ratelimit.limits import is_rate_limited\n"
    "print(''.join('x' if is_rate_limited('signup:192.0.2.1', limit=6, period=3600)"
    " else '.' for _ in range(5)))"
)
SHELL_HITS = ("shell", "--no-imports", "-c", HITS)


@pytest.fixture
def database(tmp_path):
    database = tmp_path / "db.sqlite3"
    result = _run("migrate", "ratelimit", database=database)
    assert result.returncode == 0, result.stderr
    return database


@pytest.mark.slow
def test_processes_running_at_once_share_one_limit(database):
    command, env = _manage(*SHELL_HITS, database=database)
    workers = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    allowed = sum(stdout.count(".") for stdout, _ in outputs)
    refused = sum(stdout.count("x") for stdout, _ in outputs)
    assert (allowed, refused) == (6, 4)


@pytest.mark.slow
def test_a_restarted_process_keeps_the_count(database):
    first = _run(*SHELL_HITS, database=database)
    second = _run(*SHELL_HITS, database=database)
    assert (first.stdout.strip(), second.stdout.strip()) == (".....", ".xxxx")


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("Reader@Example.org", "reader@example.org"),
        ("reader+news@example.org", "reader@example.org"),
        ('"reader"@example.org', "reader@example.org"),
        ('"read+er"@example.org', "read@example.org"),
        ('"re\\ader"@example.org', "reader@example.org"),
    ],
)
def test_an_address_limit_key_is_the_same_for_every_spelling(address, key):
    assert email_limit_key(address) == key
