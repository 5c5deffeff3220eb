"""The sign-up box that base.html places on every page."""

from django import template
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from newsletter.models import signup_choices
from publicpages.context_processors import fragment_cache_in

register = template.Library()


@register.inclusion_tag("newsletter/signup_box.html", takes_context=True)
def newsletter_signup_box(context):
    """Costs no query: the newsletters come from the cache (models.signup_choices),
    and only when the choices' cached fragment is missing."""
    request = context.get("request")
    return {
        "signed_in": context.get("signed_in"),
        "newsletters": SimpleLazyObject(signup_choices),
        "action": reverse("newsletter:subscribe"),
        "source": request.path if request is not None else "",
        "fragment_cache": fragment_cache_in(context),
    }
