"""
Erase the IP addresses stored with comments older than a number of days.

IPs help with flood control and spam only while a comment is fresh; after that they
are personal data the newsroom has no reason to keep. Run it daily, e.g. from cron:
`manage.py erase_comment_ips` (the default age is COMMENTS_IP_RETENTION_DAYS).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from comments.services import erase_old_ips


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise CommandError(
            f"--days must be a whole number, not {value!r}.", returncode=2
        ) from None
    if days < 0:
        raise CommandError(f"--days must be 0 or more, not {days}.", returncode=2)
    return days


class Command(BaseCommand):
    help = "Erase the IP addresses of comments older than --days days."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            default=None,
            help="Keep IPs this many days (default: COMMENTS_IP_RETENTION_DAYS, "
            f"now {settings.COMMENTS_IP_RETENTION_DAYS}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say how many would be erased, and erase nothing.",
        )

    def handle(self, *args, days=None, dry_run=False, **options):
        days = settings.COMMENTS_IP_RETENTION_DAYS if days is None else _days(days)
        with transaction.atomic():
            count = erase_old_ips(days=days, dry_run=dry_run)
        if options["verbosity"] >= 1:
            verb = "would be erased" if dry_run else "erased"
            self.stdout.write(
                self.style.SUCCESS(
                    f"{count} comment IP address{'es' if count != 1 else ''} older "
                    f"than {days} days {verb}."
                )
            )
