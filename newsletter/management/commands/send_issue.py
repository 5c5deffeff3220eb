"""
Send or resume an issue from the shell, with a progress bar.

    manage.py send_issue 12             # start sending issue 12 from this process
    manage.py send_issue 12 --resume    # finish an interrupted send
    manage.py send_issue --due          # start scheduled issues whose time has
                                        # come, and restart stalled sends (cron)
    manage.py send_issue --status 12    # where the send of issue 12 stands

A resume first applies the crash rule of newsletter/sending.py to rows older than
--stale-after seconds: claimed-but-unsent rows go back to the queue, rows caught
mid-hand-over become "in doubt" and are reported, never resent (unless
--resend-in-doubt). Several resumes (or workers) may run at once without overlap.
"""

import sys
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from newsletter import sending, services
from newsletter.models import Delivery, Issue


class Command(BaseCommand):
    help = "Send, resume or start due newsletter issues from the shell."

    def add_arguments(self, parser):
        parser.add_argument("issue_id", nargs="?", type=int)
        parser.add_argument(
            "--resume",
            action="store_true",
            help="Continue an issue that is already sending.",
        )
        parser.add_argument(
            "--stale-after",
            type=int,
            default=settings.NEWSLETTER_STALE_CLAIM_AFTER,
            help="Seconds after which a worker's claim counts as abandoned "
            "(default: %(default)s). Use 0 only when no worker is running.",
        )
        parser.add_argument(
            "--resend-in-doubt",
            action="store_true",
            help="Also resend deliveries in doubt, accepting possible duplicates.",
        )
        parser.add_argument(
            "--due",
            action="store_true",
            help="Start every scheduled issue whose time has come, and queue "
            "again the pending rows of sends whose workers died.",
        )
        parser.add_argument(
            "--status",
            action="store_true",
            help="Print where the send stands in one line, and change nothing.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be sent and change nothing.",
        )

    def handle(
        self,
        *args,
        issue_id,
        resume,
        stale_after,
        resend_in_doubt,
        due,
        status,
        dry_run,
        verbosity,
        **options,
    ):
        self.verbosity = verbosity
        if due:
            if dry_run:
                self.stdout.write("--due does nothing with --dry-run.")
                return
            for issue in services.send_due_issues():
                self.stdout.write(f"Started issue {issue.pk}: {issue}")
            for issue_id, counts in services.resume_stalled_sends().items():
                if counts["requeued"] or counts["released"] or counts["in_doubt"]:
                    self.stdout.write(
                        f"Issue {issue_id}: {counts['released']} abandoned claims "
                        f"released, {counts['in_doubt']} newly in doubt, "
                        f"{counts['requeued']} pending queued again."
                    )
            return
        if issue_id is None:
            raise CommandError("Give an issue id, or --due.")
        try:
            issue = Issue.objects.select_related("newsletter").get(pk=issue_id)
        except Issue.DoesNotExist:
            raise CommandError(f"There is no issue {issue_id}.") from None
        if status:
            self.stdout.write(
                services.describe_progress(services.send_progress(issue, failures=0))
            )
            return

        if issue.is_editable:
            if resume:
                raise CommandError("This issue has not started sending; drop --resume.")
            if dry_run:
                self.stdout.write(f"Would start sending “{issue}”.")
                return
            try:
                total = services.start_sending(issue=issue)
            except ValidationError as error:
                raise CommandError(error.message) from None
            self.stdout.write(f"Sending “{issue}” to {total} subscribers.")
        elif issue.status in {Issue.Status.SENDING, Issue.Status.PAUSED}:
            if not resume:
                raise CommandError("This issue is already sending; use --resume.")
            if dry_run:
                self.stdout.write(str(issue.progress()))
                return
            # Now, even if it was waiting for the mail server.
            Issue.objects.filter(pk=issue.pk).update(waiting_until=None)
            recovered = sending.recover_stale(
                issue.pk, older_than=timedelta(seconds=stale_after)
            )
            self.stdout.write(
                f"{recovered['released']} abandoned claims back in the queue, "
                f"{recovered['in_doubt']} newly in doubt."
            )
        else:
            if not resend_in_doubt:
                self.stdout.write(f"“{issue}” is {issue.get_status_display().lower()}.")
                self._report(issue)
                return

        if resend_in_doubt and not dry_run:
            count = Delivery.objects.filter(
                issue=issue, status=Delivery.Status.IN_DOUBT
            ).update(status=Delivery.Status.PENDING, claimed_by="", claimed_at=None)
            Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENDING)
            self.stdout.write(f"Resending {count} deliveries in doubt.")

        total = issue.progress()["total"]
        if issue.status == Issue.Status.PAUSED:
            services.resume_send(issue)
        try:
            sending.send_all(issue.pk, on_batch=lambda result: self._bar(result, issue))
        except sending.ServerUnavailable as error:
            raise CommandError(
                f"The mail server is unavailable ({error}); the send waits and "
                "resumes by itself."
            ) from None
        if self.verbosity and sys.stdout.isatty():
            self.stdout.write("")
        sending.finish_if_done(issue.pk)
        issue.refresh_from_db()
        self._report(issue)
        if total and verbosity:
            self.stdout.write(self.style.SUCCESS("Done."))

    def _bar(self, result, issue):
        if not self.verbosity:
            return
        counts = issue.progress()
        done = (
            counts["total"] - counts["pending"] - counts["claimed"] - counts["sending"]
        )
        total = counts["total"] or 1
        width = 30
        filled = width * done // total
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{counts['total']} "
            f"sent {counts['sent']} failed {counts['failed']}"
        )
        if sys.stdout.isatty():
            self.stdout.write("\r" + line, ending="")
            self.stdout.flush()
        else:
            self.stdout.write(line)

    def _report(self, issue):
        progress = services.send_progress(issue, failures=0)
        counts = progress.counts
        self.stdout.write(services.describe_progress(progress))
        if counts["in_doubt"]:
            self.stdout.write(
                self.style.WARNING(
                    f"{counts['in_doubt']} deliveries are in doubt (handed to the "
                    "mail server without an answer) and were not resent. "
                    "--resend-in-doubt resends them, maybe twice."
                )
            )
