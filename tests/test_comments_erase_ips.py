"""manage.py erase_comment_ips"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.factories import make_article, make_comment

pytestmark = pytest.mark.django_db


def comments_aged(days_ago):
    article = make_article()
    return [
        make_comment(
            article,
            ip_address="192.0.2.10",
            created_at=timezone.now() - timedelta(days=days),
        )
        for days in days_ago
    ]


def test_it_erases_ips_older_than_the_given_days():
    old, recent = comments_aged([40, 5])
    out = StringIO()
    call_command("erase_comment_ips", "--days", "30", stdout=out)
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.ip_address is None
    assert recent.ip_address == "192.0.2.10"
    assert "1 comment IP address older than 30 days erased." in out.getvalue()


def test_the_default_age_comes_from_the_settings(settings):
    settings.COMMENTS_IP_RETENTION_DAYS = 3
    old, recent = comments_aged([4, 2])
    call_command("erase_comment_ips", stdout=StringIO())
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.ip_address, recent.ip_address) == (None, "192.0.2.10")


def test_a_dry_run_counts_and_erases_nothing():
    old, _ = comments_aged([40, 50])
    out = StringIO()
    call_command("erase_comment_ips", "--days", "30", "--dry-run", stdout=out)
    old.refresh_from_db()
    assert old.ip_address == "192.0.2.10"
    assert "2 comment IP addresses older than 30 days would be erased." in (
        out.getvalue()
    )


def test_it_is_quiet_at_verbosity_zero():
    comments_aged([40])
    out = StringIO()
    call_command("erase_comment_ips", "--days", "30", verbosity=0, stdout=out)
    assert out.getvalue() == ""


@pytest.mark.parametrize("days", ["soon", "-1", "1.5"])
def test_a_bad_number_of_days_is_refused_with_exit_status_2(days):
    with pytest.raises(CommandError, match="--days must be") as refused:
        call_command("erase_comment_ips", "--days", days, stdout=StringIO())
    assert refused.value.returncode == 2


@pytest.mark.slow
def test_on_the_command_line_the_refusal_is_one_line_and_exit_status_2(settings):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "erase_comment_ips", "--days", "soon"],
        capture_output=True,
        text=True,
        env={"DEBUG": "1", "PATH": "/usr/bin:/bin", "SQLITE_PATH": ":memory:"},
        check=False,
        cwd=settings.BASE_DIR,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "CommandError: --days must be a whole number, not 'soon'."
    )
