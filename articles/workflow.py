"""
The editorial workflow: what happens to an article between a writer's first draft
and an editor's publication, and copying a story as a new draft.

The admin's buttons and actions call these functions, so the rules hold for every
way in and are tested here rather than through pages.
"""

from django.db import transaction
from django.utils.text import Truncator

from articles.models import Article

COPY_PREFIX = "Copy of "


def _free_copy_slug(slug: str) -> str:
    """A slug no article has or had, made from `slug`."""
    base = f"copy-of-{slug}"[:190].rstrip("-")
    candidate, n = base, 1
    while (
        Article.objects.filter(slug=candidate).exists()
        or Article(slug=candidate).slug_is_redirected()
    ):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@transaction.atomic
def duplicate_as_draft(article: Article, *, user) -> Article:
    """A new draft with the article's words, filing and image, created by `user`.

    The copy shares the original's stored image files (Article keeps shared files
    until the last article using them goes), never its publication time, lead
    flag, comments or redirects."""
    authors = list(article.authors.all())
    tags = list(article.tags.names())
    excerpt_is_custom = article.excerpt_is_custom

    copy = Article.objects.get(pk=article.pk)
    copy.pk = None
    copy.title = Truncator(COPY_PREFIX + article.title).chars(200)
    copy.slug = _free_copy_slug(article.slug)
    copy.status = Article.Status.DRAFT
    copy.published_at = None
    copy.is_featured = False
    copy.comment_count = 0
    copy.created_by = user
    if not excerpt_is_custom:
        copy.excerpt = ""
    copy.save()
    copy.authors.set(authors)
    copy.tags.set(tags)
    return copy
