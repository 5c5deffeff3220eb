"""
Never mail these addresses again: hard bounces and spam complaints.

    manage.py mark_bounced a@example.com b@example.com
    manage.py mark_bounced --file bounces.txt --complaint
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from newsletter import services
from newsletter.models import Subscriber, normalize_email


class Command(BaseCommand):
    help = "Mark addresses as bounced (or complained) so they are never mailed again."

    def add_arguments(self, parser):
        parser.add_argument("emails", nargs="*")
        parser.add_argument("--file", help="A file with one address per line.")
        parser.add_argument(
            "--complaint",
            action="store_true",
            help="They marked our email as spam (rather than bounced).",
        )
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, emails, file, complaint, dry_run, **options):
        addresses = [normalize_email(e) for e in emails]
        if file:
            with open(file, encoding="utf-8") as handle:
                addresses += [normalize_email(line) for line in handle if line.strip()]
        if not addresses:
            raise CommandError("Give addresses, or --file.")
        known = set(
            Subscriber.objects.filter(email__in=addresses).values_list(
                "email", flat=True
            )
        )
        for address in sorted(set(addresses) - known):
            self.stderr.write(f"Not a subscriber: {address}")
        if dry_run:
            self.stdout.write(f"Would mark {len(known)} subscribers.")
            return
        with transaction.atomic():
            count = services.mark_bounced(emails=list(known), complained=complaint)
        label = "complained" if complaint else "bounced"
        self.stdout.write(self.style.SUCCESS(f"Marked {count} subscribers as {label}."))
