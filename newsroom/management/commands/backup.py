"""
Back up the database and the uploaded media into one .tar.gz.

    manage.py backup                      # backups/newsroom-20261128-120000.tar.gz
    manage.py backup --output /srv/backups/nightly.tar.gz
    manage.py backup --format json        # portable, even on PostgreSQL

The archive holds manifest.json (when, what format, the applied migrations), the
database (database.json from dumpdata with natural foreign keys, or
database.pgdump from pg_dump on PostgreSQL) and media/ (a copy of MEDIA_ROOT).
`manage.py restore` reads it back. Sessions, content types, permissions and the
task queue are left out of the JSON: Django recreates the first three, and queued
tasks belong to the moment they were queued.
"""

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import django
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from newsroom.cli import one_line_errors

# Not in the JSON dump (see the module docstring).
JSON_EXCLUDE = [
    "contenttypes",
    "auth.permission",
    "sessions",
    "django_tasks_database",
]


def postgres_environment() -> dict:
    """libpq variables for pg_dump / pg_restore from the default database."""
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    for variable, key in [
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ]:
        if db.get(key):
            env[variable] = str(db[key])
    return env


class Command(BaseCommand):
    help = "Back up the database and the media files into one .tar.gz archive."

    def create_parser(self, prog_name, subcommand, **kwargs):
        return one_line_errors(super().create_parser(prog_name, subcommand, **kwargs))

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            help="Where to write the archive (default: "
            "backups/newsroom-<date>-<time>.tar.gz in the project directory).",
        )
        parser.add_argument(
            "--format",
            dest="requested_format",
            choices=["auto", "json", "pg_dump"],
            default="auto",
            help="How to save the database. auto: pg_dump on PostgreSQL when the "
            "pg_dump program is installed, JSON otherwise.",
        )
        parser.add_argument(
            "--no-media", action="store_true", help="Leave MEDIA_ROOT out."
        )

    def handle(self, *args, output, requested_format, no_media, **options):
        database_format = self._database_format(requested_format)
        target = self._target(output)

        with tempfile.TemporaryDirectory(prefix="newsroom-backup-") as work:
            work = Path(work)
            if database_format == "pg_dump":
                self._pg_dump(work / "database.pgdump")
            else:
                call_command(
                    "dumpdata",
                    # References to content types, permissions and users by
                    # natural key, since those are recreated with new ids. Primary
                    # keys stay: URLs use them, and taggit's natural key for tagged
                    # items (the object id alone) would merge an object's tags.
                    natural_foreign=True,
                    exclude=JSON_EXCLUDE,
                    output=str(work / "database.json"),
                    verbosity=0,
                )
            manifest = {
                "created_at": timezone.now().isoformat(),
                "database_format": database_format,
                "database_vendor": connection.vendor,
                "django": django.get_version(),
                "media": not no_media,
                "migrations": self._applied_migrations(),
            }
            (work / "manifest.json").write_text(json.dumps(manifest, indent=2))

            partial = target.with_name(target.name + ".partial")
            with tarfile.open(partial, "w:gz") as archive:
                archive.add(work / "manifest.json", arcname="manifest.json")
                for name in ("database.json", "database.pgdump"):
                    if (work / name).exists():
                        archive.add(work / name, arcname=name)
                media_root = Path(settings.MEDIA_ROOT)
                if not no_media and media_root.is_dir():
                    archive.add(media_root, arcname="media")
            # Only a complete archive gets the final name.
            partial.replace(target)

        if options["verbosity"] >= 1:
            size = target.stat().st_size / 1024
            self.stdout.write(
                self.style.SUCCESS(
                    f"Backed up the database ({database_format}) "
                    f"{'' if no_media else 'and media '}to {target} ({size:.0f} KiB)."
                )
            )

    def _database_format(self, requested: str) -> str:
        has_pg_dump = shutil.which("pg_dump") is not None
        if requested == "pg_dump":
            if connection.vendor != "postgresql":
                raise CommandError(
                    "--format pg_dump needs PostgreSQL; this database is "
                    f"{connection.vendor}.",
                    returncode=2,
                )
            if not has_pg_dump:
                raise CommandError("pg_dump is not installed.", returncode=2)
            return "pg_dump"
        if requested == "auto" and connection.vendor == "postgresql" and has_pg_dump:
            return "pg_dump"
        return "json"

    def _target(self, output: str | None) -> Path:
        if output:
            target = Path(output)
            if not target.parent.is_dir():
                raise CommandError(
                    f"No directory {target.parent} to write the backup in.",
                    returncode=2,
                )
            if not target.name.endswith((".tar.gz", ".tgz")):
                raise CommandError(
                    "The archive name must end in .tar.gz.", returncode=2
                )
            return target
        directory = Path(settings.BASE_DIR) / "backups"
        directory.mkdir(exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return directory / f"newsroom-{stamp}.tar.gz"

    def _pg_dump(self, path: Path) -> None:
        result = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", "--no-acl", "-f", str(path)],
            env=postgres_environment(),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise CommandError(f"pg_dump failed: {result.stderr.strip()}")

    def _applied_migrations(self) -> dict:
        latest = {}
        for app, name in MigrationRecorder(connection).applied_migrations():
            latest.setdefault(app, []).append(name)
        return {app: sorted(names)[-1] for app, names in sorted(latest.items())}
