"""
Build and send today's daily digest, if anything new was published.

Run it once a day (cron, a scheduler, or `enqueue` the send_daily_digest task).
It is safe to run more than once: the day's issue is built at most once, and a day
without new articles is skipped.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from newsletter import services


class Command(BaseCommand):
    help = "Send the daily digest of new articles (skips days without any)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="The day to build, YYYY-MM-DD (default: today)."
        )
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, date: str | None, dry_run, **options):
        day = None
        if date:
            try:
                day = _parse(date)
            except ValueError:
                raise CommandError(f"--date {date!r} is not YYYY-MM-DD.") from None
        for line in services.send_daily_digest(day=day, dry_run=dry_run):
            self.stdout.write(line)


def _parse(value: str) -> date:
    return date.fromisoformat(value)
