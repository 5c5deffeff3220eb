"""Template tags the article page uses to place the comment section."""

from django import template

from comments.section import section_context
from publicpages.context_processors import fragment_cache_in

register = template.Library()


@register.inclusion_tag("comments/section.html", takes_context=True)
def comment_section(context, article):
    """The approved comments (within two queries) and the "Leave a Reply" form."""
    return {
        **section_context(context.get("request"), article),
        # For the {% cache %} tag of the threads every reader shares.
        "fragment_cache": fragment_cache_in(context),
    }


@register.inclusion_tag("comments/feed_link.html")
def comments_feed_link(article):
    """The <link rel="alternate"> to the article's comments feed, for its <head>."""
    return {"article": article}


@register.simple_tag
def comment_count_label(article) -> str:
    """ "3 Comments" for listings, from the denormalised count (no query)."""
    count = article.comment_count
    if not count:
        return "No Comments"
    return f"{count} Comment{'s' if count != 1 else ''}"
