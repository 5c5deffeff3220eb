"""Management commands: import, daily digest, send_issue from the shell."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from newsletter.models import Issue, Newsletter, Subscriber
from tests.factories import make_article, make_issue, make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def newsletter():
    return make_newsletter(name="Morning Briefing", slug="morning")


def write_csv(tmp_path, text):
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_reports_each_bad_row_and_imports_the_good(tmp_path, newsletter):
    alerts = make_newsletter(slug="alerts")
    make_subscriber(email="left@example.org", status=Subscriber.Status.UNSUBSCRIBED)
    path = write_csv(
        tmp_path,
        "email,newsletters,consent_at\n"
        "Ann@Example.org,alerts,2025-03-01\n"  # line 2: good
        "not an address,,\n"  # line 3
        ",,\n"  # line 4
        "bob@example.org,nonsense,\n"  # line 5
        "ann@example.org,,\n"  # line 6: repeats line 2
        "cy@example.org,,yesterday\n"  # line 7
        "left@example.org,,\n"  # line 8: unsubscribed, never re-added
        "dee@example.org,,\n",  # line 9: good
    )

    out, err = run(
        "import_subscribers", path, "--newsletter", "morning", "--consent", "Fair"
    )

    assert err.splitlines() == [
        "line 3: 'not an address' is not a valid email address.",
        "line 4: no email address.",
        "line 5: unknown newsletter 'nonsense'.",
        "line 6: ann@example.org repeats line 2.",
        "line 7: consent_at 'yesterday' is not a date.",
    ]
    assert "line 8: left@example.org is unsubscribed; not subscribed again." in out
    assert "Imported 2 new and 0 existing" in out
    ann = Subscriber.objects.get(email="ann@example.org")
    assert ann.status == Subscriber.Status.CONFIRMED
    assert ann.consent_source == "Import: Fair"
    assert ann.consent_at.date().isoformat() == "2025-03-01"
    assert set(ann.newsletters.all()) == {newsletter, alerts}
    left = Subscriber.objects.get(email="left@example.org")
    assert left.status == Subscriber.Status.UNSUBSCRIBED
    assert mail.outbox == []  # prior consent: no confirmation emails


def test_import_dry_run_changes_nothing(tmp_path, newsletter):
    path = write_csv(tmp_path, "email\nann@example.org\n")
    out, _ = run(
        "import_subscribers",
        path,
        "--newsletter",
        "morning",
        "--consent",
        "x",
        "--dry-run",
    )
    assert "Would import 1 new" in out
    assert not Subscriber.objects.exists()


def test_import_needs_an_email_column(tmp_path, newsletter):
    path = write_csv(tmp_path, "address\nann@example.org\n")
    _, err = run(
        "import_subscribers", path, "--newsletter", "morning", "--consent", "x"
    )
    assert 'line 1: the first line must name an "email" column.' in err


def test_import_refuses_an_unknown_newsletter(tmp_path):
    path = write_csv(tmp_path, "email\nann@example.org\n")
    with pytest.raises(CommandError, match="Unknown newsletter: nope"):
        run("import_subscribers", path, "--newsletter", "nope", "--consent", "x")


@pytest.fixture
def digest():
    # Only this test's digest (the data migration's one may be there too).
    Newsletter.objects.filter(kind=Newsletter.Kind.DAILY_DIGEST).delete()
    newsletter = make_newsletter(
        name="Daily Digest", slug="digest", kind=Newsletter.Kind.DAILY_DIGEST
    )
    make_subscriber(newsletter, email="reader@example.org")
    return newsletter


def test_daily_digest_skips_a_day_without_new_articles(digest):
    out, _ = run("send_daily_digest")
    assert "no new articles" in out
    assert not Issue.objects.exists()
    assert mail.outbox == []


def test_daily_digest_sends_new_articles_once_a_day(digest):
    make_article(title="Council votes on budget")
    make_article(title="Old story", published_at=timezone.now() - timedelta(days=3))

    run("send_daily_digest")
    out, _ = run("send_daily_digest")

    assert "exists already" in out
    issue = Issue.objects.get()
    assert issue.digest_date == timezone.localdate()
    assert [i.article.title for i in issue.items.all()] == ["Council votes on budget"]
    assert len(mail.outbox) == 1
    assert "Council votes on budget" in mail.outbox[0].body


def test_next_days_digest_holds_only_articles_since_the_last(digest):
    with time_machine.travel("2026-11-10 07:00Z"):
        make_article(title="Monday story")
        run("send_daily_digest")
    with time_machine.travel("2026-11-11 07:00Z"):
        make_article(title="Tuesday story")
        run("send_daily_digest")
    tuesday = Issue.objects.get(digest_date="2026-11-11")
    assert [i.article.title for i in tuesday.items.all()] == ["Tuesday story"]


def test_send_issue_sends_and_reports_progress(newsletter, settings):
    settings.NEWSLETTER_BATCH_SIZE = 2
    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "newsletter"],
        }
    }
    for _ in range(5):
        make_subscriber(newsletter)
    issue = make_issue(newsletter, articles=[make_article()])

    out, _ = run("send_issue", str(issue.pk))

    assert "Sending" in out and "to 5 subscribers" in out
    assert "[" in out and "5/5" in out  # the progress bar
    assert "5 sent, 0 failed, 0 in doubt" in out
    assert len(mail.outbox) == 5
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_send_issue_refuses_to_start_a_sending_issue_without_resume(newsletter):
    issue = make_issue(newsletter)
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENDING)
    with pytest.raises(CommandError, match="--resume"):
        run("send_issue", str(issue.pk))
