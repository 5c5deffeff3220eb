"""The articles' panels on the admin's front page: what waits for an editor, and
where each of a writer's stories stands."""

from django import template
from django.db.models import Q

from articles.models import Article, authors_in_byline_order

register = template.Library()

PANEL_ROWS = 20


@register.inclusion_tag("admin/articles/desk.html", takes_context=True)
def newsroom_desk(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("articles.view_article"):
        return {"show": False}
    if user.has_perm("articles.publish_article"):
        return {
            "show": True,
            "is_editor": True,
            "in_review": Article.objects.in_review()
            .prefetch_related(authors_in_byline_order())
            .order_by("submitted_at")[:PANEL_ROWS],
            "in_review_count": Article.objects.in_review().count(),
            "scheduled": Article.objects.scheduled().order_by("published_at")[
                :PANEL_ROWS
            ],
        }
    own = Article.objects.filter(Q(created_by=user) | Q(authors__user=user))
    return {
        "show": True,
        "is_editor": False,
        "own_stories": Article.objects.filter(pk__in=own.values("pk"))
        .exclude(status=Article.Status.PUBLISHED)
        .order_by("-updated_at")[:PANEL_ROWS],
    }
