"""manage.py backup and restore: a round trip on whichever database the run uses
(SQLite, or PostgreSQL with DATABASE_URL, where pg_dump is tried too)."""

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from articles.models import Article, Author, Category, User
from tests.factories import make_article, make_author

ROOT = Path(__file__).resolve().parent.parent

# Real commits: restore flushes and reloads the database in its own transaction.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("flush_as_in_production"),
]


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


def _newsroom(media_root):
    editor = User.objects.create_user("marine", email="marine@example.org")
    editor.groups.add(Group.objects.get_or_create(name="Editors")[0])
    author = make_author(name="Marine Hakobyan", user=editor)
    article = make_article(
        title="Harvest festival returns to the valley",
        tags=["Farming", "Festivals"],
        authors=[author],
        image="articles/2026/11/harvest.jpg",
    )
    photo = media_root / "articles/2026/11/harvest.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8\xff not really a jpeg")
    return article


def _wipe(media_root):
    Article.objects.all().delete()
    Author.objects.all().delete()
    Category.objects.all().delete()
    User.objects.all().delete()
    shutil.rmtree(media_root)
    media_root.mkdir()


def _assert_restored(media_root):
    article = Article.objects.get()
    assert article.title == "Harvest festival returns to the valley"
    assert sorted(article.tags.names()) == ["Farming", "Festivals"]
    author = article.authors.get()
    assert author.name == "Marine Hakobyan"
    assert author.user.username == "marine"
    assert list(author.user.groups.values_list("name", flat=True)) == ["Editors"]
    photo = media_root / "articles/2026/11/harvest.jpg"
    assert photo.read_bytes() == b"\xff\xd8\xff not really a jpeg"


@pytest.mark.parametrize("database_format", ["json", "pg_dump"])
def test_a_backup_restores_the_database_and_media(
    media_root, tmp_path, database_format
):
    if database_format == "pg_dump" and (
        connection.vendor != "postgresql" or not shutil.which("pg_dump")
    ):
        pytest.skip("pg_dump backups need PostgreSQL and the pg_dump program")
    _newsroom(media_root)
    archive = tmp_path / "nightly.tar.gz"

    call_command(
        "backup", output=str(archive), requested_format=database_format, verbosity=0
    )
    _wipe(media_root)
    assert not Article.objects.exists()
    call_command("restore", str(archive), interactive=False, verbosity=0)

    _assert_restored(media_root)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "manifest.json" in names
    assert "media/articles/2026/11/harvest.jpg" in names


def test_a_dry_run_changes_nothing(media_root, tmp_path):
    _newsroom(media_root)
    archive = tmp_path / "nightly.tar.gz"
    call_command("backup", output=str(archive), requested_format="json", verbosity=0)
    _wipe(media_root)
    out = io.StringIO()

    call_command("restore", str(archive), dry_run=True, stdout=out)

    assert "Dry run: nothing changed" in out.getvalue()
    assert not Article.objects.exists()


def _manage(*args, tmp_path):
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "newsroom.test_settings")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["restore", "/no/such/backup.tar.gz"], "No backup archive at"),
        (["restore", "manage.py"], "is not a backup made by manage.py backup"),
        (["backup", "--output", "/no/such/dir/b.tar.gz"], "No directory"),
        (["backup", "--format", "zip"], "invalid choice"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_status_2(tmp_path, args, message):
    result = _manage(*args, tmp_path=tmp_path)

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
