from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from comments import services
from comments.models import Comment, FollowUpAddress, ModerationPhrase
from publicpages.generation import invalidate_public_pages
from safetext.sanitizer import render_comment_text


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    """The moderation queue. Only Editors (and superusers) hold comment permissions;
    the admin is staff-only, so the email and IP shown here never reach readers."""

    list_display = [
        "excerpt",
        "author_name",
        "author_email",
        "ip_address",
        "article_link",
        "status",
        "by_newsroom",
        "created_at",
    ]
    list_filter = ["status", "by_newsroom", "created_at"]
    search_fields = ["author_name", "author_email", "text", "ip_address"]
    list_select_related = ["article"]
    list_per_page = 50
    date_hierarchy = "created_at"
    actions = ["approve", "mark_spam", "move_to_trash", "restore"]
    fields = [
        "article_link",
        "parent",
        "status",
        "moderation_reason",
        "author_name",
        "author_email",
        "author_url",
        "ip_address",
        "text",
        "preview",
        "by_newsroom",
        "notify_replies",
        "created_at",
    ]
    readonly_fields = [
        "article_link",
        "parent",
        "moderation_reason",
        "ip_address",
        "preview",
        "by_newsroom",
        "created_at",
    ]

    def has_add_permission(self, request):
        # Comments come from the article page, where the moderation rules apply.
        return False

    def changelist_view(self, request, extra_context=None):
        counts = Comment.objects.aggregate(
            pending=Count("pk", filter=Q(status=Comment.Status.PENDING))
        )
        extra_context = {
            "title": f"Comments ({counts['pending']} pending)",
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="comment")
    def excerpt(self, comment):
        return Truncator(comment.text).chars(80)

    @admin.display(description="article", ordering="article__title")
    def article_link(self, comment):
        try:
            edit_url = reverse(
                "admin:articles_article_change", args=[comment.article_id]
            )
        except NoReverseMatch:
            edit_url = comment.article.get_absolute_url()
        return format_html(
            '<a href="{}">{}</a> (<a href="{}">view on site</a>)',
            edit_url,
            comment.article.title,
            comment.get_absolute_url(),
        )

    @admin.display(description="as readers see it")
    def preview(self, comment):
        return format_html("<div>{}</div>", comment.html)

    def save_model(self, request, obj, form, change):
        """Edits re-render the text; a status change goes through the service so
        counts, the page cache and reply notifications follow."""
        new_status = obj.status
        if "text" in form.changed_data:
            obj.html = render_comment_text(obj.text)
        if "status" in form.changed_data:
            obj.status = form.initial["status"]
        super().save_model(request, obj, form, change)
        if new_status != obj.status:
            services.moderate(comments=[obj], status=new_status)
            obj.status = new_status
        elif obj.status == Comment.Status.APPROVED:
            # Once the edit is committed: a page rendered from the old row in the
            # meantime must not be cached under the new generation.
            transaction.on_commit(invalidate_public_pages, robust=True)

    def delete_model(self, request, obj):
        services.delete_comments(comments=[obj])

    def delete_queryset(self, request, queryset):
        services.delete_comments(comments=list(queryset))

    def _moderate(self, request, queryset, status, verb):
        changed = services.moderate(comments=list(queryset), status=status)
        self.message_user(
            request,
            f"{changed} comment{'s' if changed != 1 else ''} {verb}.",
            messages.SUCCESS,
        )

    @admin.action(description="Approve selected comments", permissions=["change"])
    def approve(self, request, queryset):
        self._moderate(request, queryset, Comment.Status.APPROVED, "approved")

    @admin.action(description="Mark selected comments as spam", permissions=["change"])
    def mark_spam(self, request, queryset):
        self._moderate(request, queryset, Comment.Status.SPAM, "marked as spam")

    @admin.action(description="Move selected comments to trash", permissions=["change"])
    def move_to_trash(self, request, queryset):
        self._moderate(request, queryset, Comment.Status.TRASH, "moved to trash")

    @admin.action(
        description="Restore selected comments to pending", permissions=["change"]
    )
    def restore(self, request, queryset):
        self._moderate(request, queryset, Comment.Status.PENDING, "restored to pending")


@admin.register(ModerationPhrase)
class ModerationPhraseAdmin(admin.ModelAdmin):
    list_display = ["phrase", "action", "created_at"]
    list_filter = ["action"]
    search_fields = ["phrase"]


@admin.register(FollowUpAddress)
class FollowUpAddressAdmin(admin.ModelAdmin):
    list_display = ["email", "confirmed_at", "confirmation_sent_at"]
    search_fields = ["email"]
    readonly_fields = ["email", "confirmed_at", "confirmation_sent_at"]

    def has_add_permission(self, request):
        return False
