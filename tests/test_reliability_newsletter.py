"""
The newsletter under abuse, a crash and a dead SMTP server.

Sign-up abuse runs in-process. The crash and SMTP tests run the real thing: a
database of their own (a SQLite file, or a scratch PostgreSQL database when
DATABASE_URL points at PostgreSQL), `manage.py db_worker` processes, and the
counting SMTP sink (bench/smtp_sink.py) in another process.
"""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from bench.server import ROOT, ScratchDatabase, free_port, manage, postgres_reachable
from bench.smtp_sink import SinkProcess
from newsletter.models import Newsletter, Subscriber

pytestmark = pytest.mark.slow

DATABASE_URL = os.environ.get("DATABASE_URL", "")
# Claims of a worker silent this long count as abandoned.
STALE_SECONDS = 1


def _newsletter():
    return Newsletter.objects.listed().first() or Newsletter.objects.create(
        name="Morning Briefing", slug="morning-briefing"
    )


@pytest.mark.django_db
def test_two_hundred_sign_ups_of_one_address_send_only_the_allowed_confirmations(
    client, settings
):
    settings.NEWSLETTER_CONFIRMATIONS_PER_DAY = 3
    newsletter = _newsletter()
    spellings = ["victim@example.org", "Victim@Example.org", " VICTIM@example.org "]
    statuses = []
    for n in range(200):
        response = client.post(
            reverse("newsletter:subscribe"),
            {"email": spellings[n % 3], "newsletters": [newsletter.pk]},
            # A different address each time, so the per-address limit, not the
            # per-IP one, is what holds.
            REMOTE_ADDR=f"10.60.{n // 250}.{n % 250 + 1}",
        )
        statuses.append(response.status_code)

    assert set(statuses) == {302}
    to_victim = [m for m in mail.outbox if m.to == ["victim@example.org"]]
    assert 1 <= len(to_victim) <= 3
    assert len(mail.outbox) == len(to_victim)
    assert Subscriber.objects.filter(email="victim@example.org").count() == 1


@pytest.mark.django_db
def test_one_client_signing_up_many_addresses_is_stopped_by_the_ip_limit(
    client, settings
):
    settings.NEWSLETTER_SIGNUP_RATE = 10
    newsletter = _newsletter()
    statuses = [
        client.post(
            reverse("newsletter:subscribe"),
            {"email": f"list{n}@example.org", "newsletters": [newsletter.pk]},
            REMOTE_ADDR="10.61.0.1",
        ).status_code
        for n in range(200)
    ]
    assert statuses[:10] == [302] * 10
    assert statuses[10:] == [429] * 190
    assert len(mail.outbox) == 10


# --- Workers, a crash, and a dead SMTP server ---------------------------------------

SEED = """
import json
from django.utils import timezone
from articles.models import Article, Category
from newsletter import services
from newsletter.models import Issue, IssueArticle, Newsletter, Subscriber

now = timezone.now()
newsletter = Newsletter.objects.create(slug="PREFIXlist", name="PREFIXlist")
people = [
    Subscriber(
        email=f"PREFIXreader{n}@example.org", status="confirmed", confirmed_at=now
    )
    for n in range(CONFIRMED)
]
people += [Subscriber(email=f"PREFIXwaiting{n}@example.org") for n in range(10)]
people += [
    Subscriber(email=f"PREFIXgone{n}@example.org", status="unsubscribed")
    for n in range(10)
]
people = Subscriber.objects.bulk_create(people)
newsletter.subscribers.add(*people)
category, _ = Category.objects.get_or_create(name="Town", slug="town")
article = Article.objects.create(
    title="The ferry runs again", slug=f"ferry-{now.timestamp():.0f}",
    category=category, body="<p>After a month in dry dock.</p>", status="published",
)
issue = Issue.objects.create(newsletter=newsletter, subject="SUBJECT")
IssueArticle.objects.create(issue=issue, article=article)
total = services.start_sending(issue=issue)
print(json.dumps({"issue": issue.pk, "recipients": total}))
"""


class Newsroom:
    """A migrated database and what it takes to run workers against it."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.database = ScratchDatabase(
            workdir, like_url=DATABASE_URL, suffix="newsletter"
        )
        self.env = self.database.env(
            workdir / "static",
            EMAIL_HOST="127.0.0.1",
            NEWSLETTER_BATCH_SIZE="40",
            NEWSLETTER_SMTP_ATTEMPTS="2",
            NEWSLETTER_RETRY_BACKOFF="0",
            NEWSLETTER_STALE_CLAIM_AFTER=str(STALE_SECONDS),
        )
        manage(self.env, "migrate", "--noinput")
        self.workers = []

    def start_issue(self, *, confirmed: int, subject: str, prefix: str) -> dict:
        """A newsletter of its own, its subscribers (PREFIXreaderN@example.org
        confirmed, others not), and an issue being sent to them."""
        code = SEED.replace("CONFIRMED", str(confirmed)).replace("SUBJECT", subject)
        code = code.replace("PREFIX", prefix)
        output = manage(self.env, "shell", "-v", "0", "-c", code).stdout
        return json.loads(output.strip().splitlines()[-1])

    def start_worker(self, smtp_port: int) -> subprocess.Popen:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--queue-name", "newsletter"]
            + ["--no-startup-delay", "--no-reload", "--interval", "0.2", "-v", "0"]
            + ["--skip-checks"],
            cwd=ROOT,
            env={**self.env, "EMAIL_PORT": str(smtp_port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.workers.append(worker)
        return worker

    def in_doubt_bound(self) -> int:
        """Messages a killed worker may leave in doubt, as the workers see it."""
        code = (
            "from django.conf import settings; "
            "print(getattr(settings, 'NEWSLETTER_SENDING_SLICE', 1))"
        )
        output = manage(self.env, "shell", "-v", "0", "-c", code).stdout
        return max(1, int(output.strip().splitlines()[-1]))

    def deliveries(self, issue: int) -> dict[str, int]:
        rows = self.database.sql(
            "SELECT status, count(*) FROM newsletter_delivery WHERE issue_id = ? "
            "GROUP BY status",
            (issue,),
        )
        return dict(rows)

    def claims_are_stale(self, issue: int) -> bool:
        """Whether every claim still held (claimed or sending) is older than
        STALE_SECONDS, so the resume rule treats it as abandoned."""
        [(newest,)] = self.database.sql(
            "SELECT max(claimed_at) FROM newsletter_delivery "
            "WHERE issue_id = ? AND status IN ('claimed', 'sending')",
            (issue,),
        )
        if newest is None:
            return True
        # SQLite gives naive UTC text; PostgreSQL an aware datetime.
        newest = datetime.fromisoformat(str(newest))
        newest = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        return datetime.now(UTC) - newest > timedelta(seconds=STALE_SECONDS)

    def retries_waiting(self) -> list[tuple]:
        """Newsletter tasks waiting to run at a set time (a retry), not at once."""
        return self.database.sql(
            "SELECT id FROM django_tasks_database_dbtaskresult "
            "WHERE queue_name = 'newsletter' AND status = 'READY' "
            "AND run_after < '9000-01-01'"
        )

    def close(self):
        for worker in self.workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        self.database.drop()


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory):
    if DATABASE_URL.startswith("postgres") and not postgres_reachable(DATABASE_URL):
        pytest.skip("PostgreSQL is not reachable")
    newsroom = Newsroom(tmp_path_factory.mktemp("newsletter"))
    yield newsroom
    newsroom.close()


def _wait(condition, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


def test_a_worker_killed_mid_send_loses_nobody_and_doubles_nobody_beyond_the_bound(
    newsroom, tmp_path
):
    confirmed = 160
    with SinkProcess(tmp_path, record=True, delay_ms=10) as sink:
        started = newsroom.start_issue(
            confirmed=confirmed, subject="Crash test", prefix="crash-"
        )
        issue = started["issue"]
        assert started["recipients"] == confirmed
        first = newsroom.start_worker(sink.port)
        assert sink.wait_for(40, timeout=90), "the first worker sent too little"
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = sink.status()["messages"]
        assert killed_at < confirmed, "the send finished before the kill"

        # Once the dead worker's claims are stale, restart a worker, as a
        # supervisor would, and apply the documented resume rule for those
        # claims (newsletter/sending.py).
        _wait(
            lambda: newsroom.claims_are_stale(issue),
            timeout=30,
            message="the killed worker's claims never went stale",
        )
        second = newsroom.start_worker(sink.port)
        resume_env = {**newsroom.env, "EMAIL_PORT": str(sink.port)}
        resumed = manage(
            resume_env, "send_issue", str(issue), "--resume",
            "--stale-after", str(STALE_SECONDS), check=False,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        _wait(
            lambda: (
                not {"pending", "claimed", "sending"} & set(newsroom.deliveries(issue))
            ),
            timeout=120,
            message=f"deliveries never finished: {newsroom.deliveries(issue)}",
        )
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    # The sink has exited: every message it accepted is in its list.
    received = sink.recipients()
    counts = newsroom.deliveries(issue)
    in_doubt = counts.get("in_doubt", 0)
    doubts = newsroom.database.sql(
        "SELECT error FROM newsletter_delivery WHERE issue_id = ? AND status = ?",
        (issue, "in_doubt"),
    )
    # The documented bound (newsletter/sending.py): at most one "slice" of
    # messages per killed worker was mid-hand-over.
    assert in_doubt <= newsroom.in_doubt_bound(), (counts, doubts)
    assert counts.get("sent", 0) + in_doubt == confirmed, counts
    everyone = {f"crash-reader{n}@example.org" for n in range(confirmed)}
    assert set(received) <= everyone, set(received) - everyone
    assert len(everyone - set(received)) <= in_doubt
    assert [a for a, times in received.items() if times > 1] == []


def test_a_refusing_smtp_server_leaves_every_delivery_queued_for_retry(newsroom):
    started = newsroom.start_issue(
        confirmed=30, subject="Nobody listening", prefix="smtp-"
    )
    issue = started["issue"]
    pending = {"pending": 30}
    closed_port = free_port()  # nothing listens there
    worker = newsroom.start_worker(closed_port)
    # The batch task runs, fails to connect, and puts itself back for later.
    _wait(
        lambda: newsroom.retries_waiting() and newsroom.deliveries(issue) == pending,
        timeout=60,
        message=f"no retry queued: {newsroom.deliveries(issue)}",
    )
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=30)

    assert newsroom.deliveries(issue) == pending
    retries = newsroom.retries_waiting()
    assert retries, "no task waits to retry the send"
