from django.conf import settings
from django.db import models
from django.utils import timezone

from articles.models import Article
from safetext.validators import CheckedTextMixin


class CommentQuerySet(models.QuerySet):
    def approved(self):
        """Comments any reader may see."""
        return self.filter(status=Comment.Status.APPROVED)

    def pending(self):
        return self.filter(status=Comment.Status.PENDING)


class Comment(CheckedTextMixin, models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        SPAM = "spam", "Spam"
        TRASH = "trash", "Trash"

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="comments"
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="replies",
        help_text="The comment this one replies to.",
    )
    # The top-level comment of the thread, so one query fetches whole threads.
    thread = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    depth = models.PositiveSmallIntegerField(default=1, editable=False)

    author_name = models.CharField("name", max_length=100)
    author_email = models.EmailField(
        "email", help_text="Never shown to readers, in any page or feed."
    )
    author_url = models.URLField("website", max_length=200, blank=True)
    text = models.TextField(help_text="What the commenter typed, as plain text.")
    html = models.TextField(
        editable=False, help_text="The text rendered once, when it was saved."
    )

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    moderation_reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why the rules held this comment or called it spam.",
    )
    by_newsroom = models.BooleanField(
        "by the newsroom",
        default=False,
        help_text="Written by a staff member while signed in.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="comments",
    )
    ip_address = models.GenericIPAddressField(
        "IP address",
        null=True,
        blank=True,
        help_text="Erased after COMMENTS_IP_RETENTION_DAYS by erase_comment_ips.",
    )
    notify_replies = models.BooleanField(
        default=False,
        help_text="Email the commenter about approved replies (once the address "
        "is confirmed).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Set once a moderators' notice has listed the comment. A flag rather than
    # "created after the last notice", which would miss a comment whose
    # transaction committed after a notice that started later.
    moderators_notified = models.BooleanField(default=False, editable=False)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        get_latest_by = "created_at"
        verbose_name = "comment"
        verbose_name_plural = "comments"
        indexes = [
            # The comment section: an article's approved top-level comments in order.
            models.Index(
                fields=["article", "status", "parent", "created_at"],
                name="comment_section_idx",
            ),
            # The comment section: the replies of one page of threads.
            models.Index(fields=["thread", "status"], name="comment_thread_idx"),
            # The moderation queue and the moderators' notice: pending, by age.
            models.Index(fields=["status", "created_at"], name="comment_status_idx"),
            # Auto-approval and duplicates: earlier comments by the same address.
            models.Index(
                fields=["author_email", "status"], name="comment_author_email_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "spam", "trash"]),
                name="comment_status_valid",
            ),
            # A reply always knows its thread; a top-level comment has neither.
            models.CheckConstraint(
                condition=(
                    models.Q(parent__isnull=True, thread__isnull=True, depth=1)
                    | models.Q(parent__isnull=False, thread__isnull=False, depth__gt=1)
                ),
                name="comment_thread_consistent",
            ),
        ]

    def __str__(self):
        return f"{self.author_name} on {self.article}"

    def get_absolute_url(self):
        return f"{self.article.get_absolute_url()}#comment-{self.pk}"

    @property
    def is_public(self):
        return self.status == self.Status.APPROVED


class ModerationPhrase(CheckedTextMixin, models.Model):
    """Words, addresses or IP prefixes editors want held or sent to spam, on top of
    COMMENTS_MODERATION_KEYWORDS and COMMENTS_BLOCKLIST in the settings."""

    class Action(models.TextChoices):
        HOLD = "hold", "Hold for moderation"
        SPAM = "spam", "Send to spam"

    phrase = models.CharField(
        max_length=200,
        unique=True,
        help_text="Matched, ignoring case, anywhere in the name, email, website, "
        'text or IP address. "casino", "@spam.example" and "203.0.113." all work.',
    )
    action = models.CharField(max_length=4, choices=Action.choices, default=Action.HOLD)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["phrase"]
        verbose_name = "moderation phrase"
        verbose_name_plural = "moderation phrases"

    def __str__(self):
        return self.phrase

    def save(self, *args, **kwargs):
        self.phrase = self.phrase.strip().lower()
        super().save(*args, **kwargs)


class FollowUpAddress(CheckedTextMixin, models.Model):
    """An address that confirmed it wants follow-up emails. Nothing is sent to an
    address until it is confirmed here."""

    email = models.EmailField(unique=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]
        verbose_name = "follow-up address"
        verbose_name_plural = "follow-up addresses"

    def __str__(self):
        return self.email


class ModeratorNotice(models.Model):
    """One batched email to moderators; the next one covers comments since then."""

    sent_at = models.DateTimeField(default=timezone.now)
    comment_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-sent_at"]
        get_latest_by = "sent_at"
        verbose_name = "moderator notice"
        verbose_name_plural = "moderator notices"

    def __str__(self):
        return f"{self.comment_count} pending, {self.sent_at:%Y-%m-%d %H:%M}"
