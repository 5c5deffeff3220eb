"""Template tags that place the newsletter sign-up box on any page."""

from django import template

register = template.Library()


@register.inclusion_tag("newsletter/signup_box.html", takes_context=True)
def newsletter_signup_box(context):
    return {"request": context.get("request")}
