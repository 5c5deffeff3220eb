"""
Re-clean every stored article body with the current allow-list.

Bodies are sanitised once, when saved, and pages print the stored HTML. When the
allow-list in safetext/sanitizer.py changes (bump POLICY_VERSION), run this so that
what is already stored follows the new rules too.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from articles.models import Article
from publicpages.generation import invalidate_public_pages
from safetext.sanitizer import POLICY_VERSION, clean_article_html


class Command(BaseCommand):
    help = "Re-sanitise all stored article bodies with the current allow-list."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the bodies that would change, without writing anything.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Rows read and written per batch (default 500).",
        )

    def handle(self, *args, dry_run, batch_size, verbosity, **options):
        checked = 0
        pending = []
        changed = 0
        with transaction.atomic():
            rows = Article.objects.order_by("pk").values_list("pk", "body")
            for pk, body in rows.iterator(chunk_size=batch_size):
                checked += 1
                clean = clean_article_html(body)
                if clean == body:
                    continue
                changed += 1
                if verbosity >= 2:
                    self.stdout.write(f"  article {pk} changes")
                pending.append(Article(pk=pk, body=clean))
                if len(pending) >= batch_size:
                    self._write(pending, dry_run, batch_size)
                    pending = []
            self._write(pending, dry_run, batch_size)

        if changed and not dry_run:
            invalidate_public_pages()
        verb = "would change" if dry_run else "changed"
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Checked {checked} articles against sanitiser policy "
                    f"{POLICY_VERSION}: {changed} {verb}."
                )
            )

    def _write(self, articles, dry_run, batch_size):
        # bulk_update skips save(): the bodies are already clean and the excerpts
        # (plain text) cannot carry markup, so nothing else needs recomputing.
        if articles and not dry_run:
            Article.objects.bulk_update(articles, ["body"], batch_size=batch_size)
