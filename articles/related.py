"""
"You May Also Like": related articles computed here, without an external service.

Ranking: articles an editor pinned come first, then articles sharing the most tags
with this one, newest first among equals, then the newest of the same category to
fill the block up.

One query, which reads a few dozen rows whatever the size of the archive. Only
these candidates can make the block: the pinned articles; the `limit` newest of
the category; the `limit` newest sharing a tag (an article sharing one tag that
is not among them has `limit` newer ones sharing at least as many above it); and
every article sharing two tags or more, which few do. The query fetches the
candidates by primary key, "pk IN (pinned UNION newest ... UNION ...)" with
nothing else in the outer WHERE (so SQLite plans it the same with or without
statistics, and PostgreSQL as a semi-join), with their ranking figures; Python
drops the unpublished and ranks them.
"""

from datetime import UTC, datetime

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from taggit.models import TaggedItem

from articles.models import Article

RELATED_LIMIT = 4
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


def _newest(articles, n):
    """The ids of the n newest of `articles` (more if several share the n-th's
    publication time), as a range down to the n-th newest: a LIMIT inside a
    UNION is more than SQLite accepts."""
    nth_newest = Subquery(
        articles.order_by("-published_at", "-id").values("published_at")[n - 1 : n]
    )
    return articles.filter(
        published_at__gte=Coalesce(nth_newest, Value(_LONG_AGO))
    ).values("pk")


def related_articles(article: Article, *, limit: int = RELATED_LIMIT) -> list[Article]:
    """Up to `limit` published articles to suggest under `article`.

    Uses `article.tags.all()`, so prefetch the tags to keep this at one query.
    """
    tag_ids = [tag.pk for tag in article.tags.all()]
    pinned_ids = Article.related_articles.through.objects.filter(
        from_article_id=article.pk
    ).values("to_article_id")
    tagged = TaggedItem.objects.filter(
        content_type__app_label=Article._meta.app_label,
        content_type__model=Article._meta.model_name,
        tag_id__in=tag_ids,
    )
    others = Article.objects.published().exclude(pk=article.pk)
    parts = [
        pinned_ids,
        _newest(others.filter(category_id=article.category_id), limit),
    ]
    if tag_ids:
        sharing_one = others.filter(Exists(tagged.filter(object_id=OuterRef("pk"))))
        parts.append(_newest(sharing_one, limit))
    if len(tag_ids) > 1:
        # Tagged items of any model: "tag_id IN (...)" alone keeps SQLite on the
        # tag index (with the content type it would read every tagged article).
        # A few extra candidates do no harm; they share no tag below.
        parts.append(
            TaggedItem.objects.filter(tag_id__in=tag_ids)
            .values("object_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=2)
            .values("object_id")
        )

    shared_tags = (
        tagged.filter(object_id=OuterRef("pk"))
        .order_by()
        .values("object_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    found = (
        Article.objects.filter(pk__in=parts[0].union(*parts[1:]))
        .annotate(
            pinned=ExpressionWrapper(Q(pk__in=pinned_ids), output_field=BooleanField()),
            shared_tags=Coalesce(
                Subquery(shared_tags, output_field=IntegerField()), Value(0)
            )
            if tag_ids
            else Value(0, output_field=IntegerField()),
        )
        .select_related("category")
        .defer("body")
    )
    ranked = [
        other
        for other in found
        if other.is_published
        and other.pk != article.pk
        and (
            other.pinned
            or other.shared_tags
            or other.category_id == article.category_id
        )
    ]
    ranked.sort(
        key=lambda other: (
            other.pinned,
            other.shared_tags,
            other.published_at,
            other.pk,
        ),
        reverse=True,
    )
    return ranked[:limit]
