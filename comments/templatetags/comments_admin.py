"""The pending-comments panel on the admin index."""

from django import template
from django.urls import reverse

from comments.models import Comment

register = template.Library()

PANEL_ROWS = 10


@register.inclusion_tag("comments/admin_pending_notice.html", takes_context=True)
def pending_comments_notice(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("comments.change_comment"):
        return {"show": False}
    return {
        "show": True,
        "pending": Comment.objects.pending().count(),
        "oldest": Comment.objects.pending()
        .select_related("article")
        .order_by("created_at")[:PANEL_ROWS],
        "url": reverse("admin:comments_comment_changelist") + "?status__exact=pending",
    }
