"""The newsletter's panel on the admin's front page: sends under way."""

from django import template

from newsletter.models import Issue

register = template.Library()

UNDER_WAY = [Issue.Status.PREPARING, Issue.Status.SENDING, Issue.Status.PAUSED]


@register.inclusion_tag("admin/newsletter/sends_in_progress.html", takes_context=True)
def sends_in_progress(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("newsletter.view_issue"):
        return {"show": False}
    issues = (
        Issue.objects.filter(status__in=UNDER_WAY)
        .with_progress()
        .select_related("newsletter")
        .order_by("started_at")
    )
    return {"show": True, "issues": issues}
