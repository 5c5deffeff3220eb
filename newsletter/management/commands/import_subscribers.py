"""
Import subscribers who already agreed to receive a newsletter, from CSV.

    manage.py import_subscribers list.csv --newsletter daily-digest \
        --consent "Signed up on the paper form at the 2026 book fair"

The CSV needs an "email" column; "newsletters" (slugs separated by ";") and
"consent_at" are optional. Bad rows are reported with their line number and left
out; the good rows are imported. Addresses that unsubscribed or bounced are never
subscribed again.
"""

from django.core.management.base import BaseCommand, CommandError

from newsletter.models import Newsletter
from newsletter.subscriber_csv import import_rows


class Command(BaseCommand):
    help = "Import subscribers with prior consent from a CSV file."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument(
            "--newsletter",
            action="append",
            default=[],
            help="Slug of a newsletter every row is subscribed to (repeatable).",
        )
        parser.add_argument(
            "--consent",
            required=True,
            help="Where and when these people agreed; kept with each of them.",
        )
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, path, newsletter, consent, dry_run, verbosity, **options):
        newsletters = list(Newsletter.objects.filter(slug__in=newsletter))
        missing = set(newsletter) - {n.slug for n in newsletters}
        if missing:
            raise CommandError(f"Unknown newsletter: {', '.join(sorted(missing))}")
        try:
            with open(path, encoding="utf-8-sig", newline="") as handle:
                report = import_rows(
                    handle,
                    newsletters=newsletters,
                    consent_note=consent,
                    dry_run=dry_run,
                )
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text.") from None
        for line in report.errors:
            self.stderr.write(line)
        if verbosity:
            for line in report.skipped:
                self.stdout.write(line)
        prefix = "Would import" if dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix} {report.created} new and {report.updated} existing "
                f"subscribers; {len(report.errors)} rows had errors, "
                f"{len(report.skipped)} were skipped."
            )
        )
