"""
Newsletters, their subscribers, the issues editors compose, and one delivery record
per issue and recipient. The sending rules live in sending.py; the workflows that
span models (sign up, confirm, start a send) in services.py.
"""

import contextlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from publicpages.generation import invalidate_public_pages
from safetext.sanitizer import clean_article_html
from safetext.validators import CheckedTextMixin

logger = logging.getLogger(__name__)

SIGNUP_CHOICES_CACHE_KEY = "newsletter:signup-choices"


class NewsletterQuerySet(models.QuerySet):
    def listed(self):
        return self.filter(is_active=True)


class Newsletter(CheckedTextMixin, models.Model):
    class Kind(models.TextChoices):
        EDITORIAL = "editorial", "Composed by editors"
        DAILY_DIGEST = "daily_digest", "Daily digest (builds and sends itself)"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(
        max_length=300, blank=True, help_text="One sentence shown on the sign-up page."
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.EDITORIAL)
    is_active = models.BooleanField(
        "offered",
        default=True,
        help_text="Offered in the sign-up box and on the newsletter page.",
    )
    is_default = models.BooleanField(
        "ticked by default",
        default=False,
        help_text="Ticked in advance in the sign-up box.",
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Lower numbers come first."
    )

    objects = NewsletterQuerySet.as_manager()

    class Meta:
        ordering = ["position", "name"]
        verbose_name = "newsletter"
        verbose_name_plural = "newsletters"

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        forget_signup_choices()

    def get_absolute_url(self):
        return reverse("newsletter:index")

    def get_archive_url(self):
        return reverse("newsletter:archive", args=[self.slug])

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        forget_signup_choices()
        return result


def forget_signup_choices() -> None:
    """The sign-up box on every page reads newsletters from the cache; drop it and
    the cached pages that show it."""
    cache.delete(SIGNUP_CHOICES_CACHE_KEY)
    invalidate_public_pages()


def signup_choices() -> list[dict]:
    """The newsletters offered for sign-up, from the cache (no query per page)."""
    try:
        choices = cache.get(SIGNUP_CHOICES_CACHE_KEY)
    except Exception:
        # The cache (Redis) being down must not take every page down with it.
        logger.exception("Cache unreachable: newsletter choices read from the DB")
        choices = None
    if choices is None:
        choices = list(
            Newsletter.objects.listed().values(
                "id", "name", "slug", "description", "is_default"
            )
        )
        with contextlib.suppress(Exception):
            cache.set(SIGNUP_CHOICES_CACHE_KEY, choices, timeout=None)
    return choices


def normalize_email(email: str) -> str:
    """Addresses are compared and stored in lower case, whole address."""
    return email.strip().lower()


class Subscriber(CheckedTextMixin, models.Model):
    """One email address. Readers have no account: signed links in every email
    stand in for a login."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained (marked as spam)"

    email = models.EmailField(
        max_length=254, help_text="Stored in lower case; compared case-insensitively."
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    newsletters = models.ManyToManyField(
        Newsletter, related_name="subscribers", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    # The record of consent: when, where and from which address it was given.
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_ip = models.GenericIPAddressField(null=True, blank=True)
    consent_source = models.CharField(
        max_length=300,
        blank=True,
        help_text="The page the sign-up came from, or the note of an import.",
    )

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"
        verbose_name = "subscriber"
        verbose_name_plural = "subscribers"
        constraints = [
            # Sign-up looks the address up; one row per address whatever its case.
            models.UniqueConstraint(fields=["email"], name="subscriber_email_unique"),
            models.CheckConstraint(
                condition=Q(email=models.functions.Lower("email")),
                name="subscriber_email_lowercase",
            ),
        ]
        indexes = [
            # Sending: the confirmed subscribers, in id order.
            models.Index(fields=["status", "id"], name="subscriber_status_idx"),
        ]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    @property
    def can_be_mailed(self) -> bool:
        return self.status == self.Status.CONFIRMED


class IssueQuerySet(models.QuerySet):
    def on_the_web(self):
        """Issues that are being mailed or were: each has a public web version,
        the "view in browser" link of its email."""
        return self.filter(
            status__in=[
                Issue.Status.SENDING,
                Issue.Status.PAUSED,
                Issue.Status.CANCELLED,
                Issue.Status.SENT,
            ]
        )

    def archived(self):
        """The issues of the public archive: those that went out. A cancelled
        one is left out of the list; its web version stays for the readers who
        received it."""
        return self.on_the_web().exclude(status=Issue.Status.CANCELLED)

    def with_progress(self):
        """Annotate the total, sent and failed counts of deliveries."""
        return self.annotate(
            deliveries_total=Count("deliveries"),
            deliveries_sent=Count(
                "deliveries", filter=Q(deliveries__status=Delivery.Status.SENT)
            ),
            deliveries_failed=Count(
                "deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)
            ),
        )


class Issue(CheckedTextMixin, models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        # Its send started: a task is writing one delivery per recipient, and
        # workers take nothing from it until that is done.
        PREPARING = "preparing", "Listing recipients"
        SENDING = "sending", "Sending"
        # An operator stopped the send for now; resume_send() carries on.
        PAUSED = "paused", "Paused"
        # An operator stopped the send for good; the rest is never sent.
        CANCELLED = "cancelled", "Cancelled"
        SENT = "sent", "Sent"

    newsletter = models.ForeignKey(
        Newsletter, on_delete=models.PROTECT, related_name="issues"
    )
    subject = models.CharField(max_length=150)
    preheader = models.CharField(
        max_length=200,
        blank=True,
        help_text="The line mail programs show after the subject. Keep it short.",
    )
    intro = models.TextField(
        blank=True,
        help_text="Opening words above the articles. Stored sanitised, like "
        "article bodies.",
    )
    articles = models.ManyToManyField(
        "articles.Article", through="IssueArticle", related_name="+", blank=True
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    send_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Scheduled issues go out by themselves at this time.",
    )
    digest_date = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set on daily digests: the day this issue covers.",
    )
    # The shared body, rendered once when sending starts; every recipient gets it
    # with only their personal links substituted.
    rendered_html = models.TextField(blank=True, editable=False)
    rendered_text = models.TextField(blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set while the mail server is unreachable or refuses everything: the send
    # waits, and a task already queued for this time carries it on.
    waiting_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(
        blank=True,
        editable=False,
        help_text="The mail server's last answer that stopped the send for a while.",
    )

    objects = IssueQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"
        verbose_name = "issue"
        verbose_name_plural = "issues"
        permissions = [("send_issue", "Can send and schedule newsletter issues")]
        constraints = [
            # The daily digest is built at most once per day.
            models.UniqueConstraint(
                fields=["newsletter", "digest_date"], name="issue_one_digest_per_day"
            ),
        ]
        indexes = [
            # "Since the last issue" and scheduled sends look issues up by status.
            models.Index(
                fields=["newsletter", "status", "-started_at"],
                name="issue_newsletter_status_idx",
            ),
        ]

    def __str__(self):
        return self.subject

    def save(self, *args, **kwargs):
        self.intro = clean_article_html(self.intro)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("admin:newsletter_issue_change", args=[self.pk])

    def get_web_url(self):
        """The public web version ("view in browser"), once sending started."""
        return reverse("newsletter:issue", args=[self.newsletter.slug, self.pk])

    @property
    def is_editable(self) -> bool:
        return self.status in {self.Status.DRAFT, self.Status.SCHEDULED}

    def progress(self) -> dict:
        """Counts of this issue's deliveries by status, plus the total."""
        counts = dict.fromkeys(Delivery.Status.values, 0)
        for row in self.deliveries.order_by().values("status").annotate(n=Count("id")):
            counts[row["status"]] = row["n"]
        counts["total"] = sum(counts.values())
        return counts


class IssueArticle(models.Model):
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="items")
    article = models.ForeignKey(
        "articles.Article", on_delete=models.CASCADE, related_name="+"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "article in the issue"
        verbose_name_plural = "articles in the issue"
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "article"], name="issuearticle_once_per_issue"
            ),
        ]

    def __str__(self):
        return f"{self.issue} #{self.position}: {self.article}"


class Delivery(models.Model):
    """One issue to one subscriber. Created for every recipient before anything
    is sent; its status is the record of exactly-once sending (see sending.py)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        # Taken by a worker for its batch; nothing sent yet, safe to hand back.
        CLAIMED = "claimed", "Claimed"
        # Handed to the SMTP server; becomes "sent" when the server accepts it.
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # The subscriber left (or bounced) after the send started.
        SKIPPED = "skipped", "Skipped"
        # Handed to the server without an answer (a crash, a dropped
        # connection): maybe delivered, never resent by itself.
        IN_DOUBT = "in_doubt", "In doubt"
        # The send was cancelled before this one went out.
        CANCELLED = "cancelled", "Cancelled"

    # No index of its own: the two below begin with the issue, and every status
    # change of a sending issue writes an entry in each index of the table.
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A pending row the server refused for now (4xx) waits until then.
    retry_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "delivery"
        verbose_name_plural = "deliveries"
        constraints = [
            # Exactly one delivery per recipient and issue, however often the send
            # is started or resumed.
            models.UniqueConstraint(
                fields=["issue", "subscriber"], name="delivery_once_per_subscriber"
            ),
        ]
        indexes = [
            # Claiming the next pending batch in id order, and progress counts.
            models.Index(fields=["issue", "status", "id"], name="delivery_claim_idx"),
        ]

    def __str__(self):
        return f"{self.issue} → {self.subscriber}"


class SubscriberImport(CheckedTextMixin, models.Model):
    """A CSV list of subscribers an editor uploaded, imported by a task
    (tasks.import_subscribers) so the upload returns at once; the admin page of
    the import shows its progress and, at the end, every row left out and why."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    file_name = models.CharField(max_length=200, blank=True)
    # The uploaded text, kept only until the import is done: it is a list of
    # addresses, and the subscribers hold them from then on.
    csv_text = models.TextField(blank=True)
    newsletters = models.ManyToManyField(Newsletter, related_name="+", blank=True)
    consent_note = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    # One line each, with the row's line number in the file.
    errors = models.JSONField(default=list, blank=True)
    skipped = models.JSONField(default=list, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"
        verbose_name = "subscriber import"
        verbose_name_plural = "subscriber imports"

    def __str__(self):
        return f"{self.file_name or 'Import'} ({self.created_at:%Y-%m-%d %H:%M})"

    def get_absolute_url(self):
        return reverse("admin:newsletter_subscriber_import_status", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}
