"""What a developer gets from `make run` and DEBUG: readable console email, a
SITE_URL on the port the server runs on, the same SQLite options however SQLite
is named, and an admin that says whose it is."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.mail import EmailMultiAlternatives

from newsroom.console_email import ReadableConsoleBackend

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

LINK = (
    "http://127.0.0.1:8101/newsletter/confirm/"
    "eyJzIjoxMjN9:1vQ2aB:Zm9vYmFyYmF6cXV4cXV1eHh5enp5eHh5enp5eHh5enp5eHh5enp5=/"
)


def settings_in_a_new_process(tmp_path, **env_changes) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "PYTHONPATH"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "DEBUG": "1",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        **env_changes,
    }
    probe = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps({'database': settings.DATABASES['default'], "
        "'mailer': settings.MAILERS['default']['BACKEND'], "
        "'site_url': settings.SITE_URL}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_console_prints_links_and_subjects_as_they_were_written():
    message = EmailMultiAlternatives(
        subject="Confirm your subscription to Երևան Daily",
        body=f"Please confirm: {LINK}\n",
        from_email="news@example.com",
        to=["reader@example.org"],
    )
    message.attach_alternative(f'<p><a href="{LINK}">Confirm</a></p>', "text/html")
    stream = io.StringIO()

    ReadableConsoleBackend(stream=stream).send_messages([message])

    printed = stream.getvalue()
    assert "Subject: Confirm your subscription to Երևան Daily" in printed
    assert f"Please confirm: {LINK}\n" in printed
    assert f'href="{LINK}"' in printed
    assert "=3D" not in printed


def test_debug_prints_email_with_the_readable_console_backend(tmp_path):
    loaded = settings_in_a_new_process(tmp_path)
    assert loaded["mailer"] == "newsroom.console_email.ReadableConsoleBackend"


def test_sqlite_from_database_url_gets_wal_and_immediate_transactions(tmp_path):
    by_path = settings_in_a_new_process(tmp_path)["database"]
    by_url = settings_in_a_new_process(
        tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'other.sqlite3'}"
    )["database"]

    assert by_url["NAME"] == str(tmp_path / "other.sqlite3")
    assert by_url["OPTIONS"] == by_path["OPTIONS"]
    assert by_url["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "PRAGMA journal_mode=WAL" in by_url["OPTIONS"]["init_command"]


def test_make_run_on_another_port_points_site_url_at_it():
    dry_run = subprocess.run(
        ["make", "-n", "run", "PORT=8101"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry_run.returncode == 0, dry_run.stderr
    server_lines = [line for line in dry_run.stdout.splitlines() if "runserver" in line]
    assert server_lines and "SITE_URL=http://127.0.0.1:8101" in server_lines[0]


@pytest.mark.django_db
def test_the_admin_is_branded_with_the_site_name(client, settings):
    from tests.factories import make_staff

    client.force_login(make_staff("editor", "Editors"))
    page = client.get("/admin/").content.decode()
    assert f"<title>Site administration | {settings.SITE_NAME} newsroom</title>" in (
        page
    )
    assert "Django administration" not in page
