"""
Restore a backup made by `manage.py backup`: the database is replaced by the one
in the archive and the archive's media files are written into MEDIA_ROOT.

    manage.py restore backups/newsroom-20261128-120000.tar.gz
    manage.py restore nightly.tar.gz --dry-run     # check the archive, change nothing
    manage.py restore nightly.tar.gz --noinput     # no confirmation question

Run `manage.py migrate` first on an empty database: a JSON backup is loaded into the
current schema. A pg_dump backup brings its own schema. Stop the app servers and
task workers while restoring.
"""

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from newsroom.cli import one_line_errors
from newsroom.management.commands.backup import postgres_environment
from publicpages.generation import invalidate_public_pages


class Command(BaseCommand):
    help = "Replace the database and media files with those in a backup archive."

    def create_parser(self, prog_name, subcommand, **kwargs):
        return one_line_errors(super().create_parser(prog_name, subcommand, **kwargs))

    def add_arguments(self, parser):
        parser.add_argument("archive", help="A .tar.gz made by manage.py backup.")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the archive and say what it holds; change nothing.",
        )
        parser.add_argument(
            "--no-media", action="store_true", help="Leave MEDIA_ROOT as it is."
        )

    def handle(self, *args, archive, interactive, dry_run, no_media, **options):
        path = Path(archive)
        if not path.is_file():
            raise CommandError(f"No backup archive at {path}.", returncode=2)
        try:
            with tarfile.open(path, "r:gz") as tar:
                manifest = json.load(tar.extractfile("manifest.json"))
        except (tarfile.TarError, KeyError, OSError, ValueError):
            raise CommandError(
                f"{path} is not a backup made by manage.py backup.", returncode=2
            ) from None

        database_format = manifest["database_format"]
        if database_format == "pg_dump" and connection.vendor != "postgresql":
            raise CommandError(
                f"{path} holds a pg_dump backup; it restores only to PostgreSQL.",
                returncode=2,
            )
        summary = (
            f"{path}: {database_format} backup of {manifest['created_at']}"
            f"{', with media' if manifest['media'] else ''}"
        )
        if dry_run:
            self.stdout.write(f"{summary}. Dry run: nothing changed.")
            return
        if interactive:
            answer = input(
                f"This replaces every row in the database "
                f"{settings.DATABASES['default']['NAME']} with {summary}.\n"
                "Type 'yes' to continue: "
            )
            if answer != "yes":
                raise CommandError("Restore cancelled.")

        with tempfile.TemporaryDirectory(prefix="newsroom-restore-") as work:
            work = Path(work)
            with tarfile.open(path, "r:gz") as tar:
                # The "data" filter refuses absolute paths, links out of the
                # directory and device files.
                tar.extractall(work, filter="data")
            if database_format == "pg_dump":
                self._pg_restore(work / "database.pgdump")
            else:
                self._load_json(work / "database.json")
            if manifest["media"] and not no_media and (work / "media").is_dir():
                self._restore_media(work / "media")

        invalidate_public_pages()
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f"Restored {summary}."))

    def _load_json(self, dump: Path) -> None:
        with transaction.atomic():
            # flush empties every table and recreates content types and
            # permissions, which the dump refers to by natural key.
            call_command("flush", interactive=False, verbosity=0)
            call_command("loaddata", str(dump), verbosity=0)

    def _pg_restore(self, dump: Path) -> None:
        connection.close()
        result = subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-acl",
                "--single-transaction",
                "--dbname",
                settings.DATABASES["default"]["NAME"],
                str(dump),
            ],
            env=postgres_environment(),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise CommandError(f"pg_restore failed: {result.stderr.strip()}")

    def _restore_media(self, source: Path) -> None:
        media_root = Path(settings.MEDIA_ROOT)
        for file in source.rglob("*"):
            if file.is_file():
                destination = media_root / file.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(file, destination)
