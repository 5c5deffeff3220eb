"""
"You May Also Like": related articles computed here, without an external service.

Ranking: articles an editor pinned come first, then articles sharing the most tags
with this one, newest first among equals, then the newest of the same category to
fill the block up.

One query. The candidates are gathered first as one UNION of ids (the pinned
articles, those sharing a tag, and the few newest of the category), so the
database ranks a handful of rows found through indexes instead of testing every
article of a busy category (a WHERE ... OR ... IN scans the whole table).
"""

from datetime import UTC, datetime

from django.db.models import (
    BooleanField,
    Count,
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


def related_articles(article: Article, *, limit: int = RELATED_LIMIT) -> list[Article]:
    """Up to `limit` published articles to suggest under `article`.

    Uses `article.tags.all()`, so prefetch the tags to keep this at one query.
    """
    tag_ids = [tag.pk for tag in article.tags.all()]
    pinned_links = Article.related_articles.through.objects.filter(
        from_article_id=article.pk
    )
    tagged = TaggedItem.objects.filter(
        content_type__app_label=Article._meta.app_label,
        content_type__model=Article._meta.model_name,
        tag_id__in=tag_ids,
    )
    in_category = (
        Article.objects.published()
        .filter(category_id=article.category_id)
        .exclude(pk=article.pk)
    )
    # The publication time of the category's (limit+1)th newest article: every
    # article at or after it is among the newest. (No LIMIT inside the UNION
    # itself: SQLite refuses that.)
    cutoff = Subquery(
        in_category.order_by("-published_at", "-id").values("published_at")[
            limit : limit + 1
        ]
    )
    newest_in_category = in_category.filter(
        published_at__gte=Coalesce(cutoff, Value(_LONG_AGO))
    ).values("pk")
    # Any model's items with these tags: "tag_id IN (...)" alone lets SQLite
    # without statistics use the tag index, where the content type condition
    # would have it read every tagged article. Candidates through another
    # model's tags share no tag below and are filtered out there.
    any_tagged = TaggedItem.objects.filter(tag_id__in=tag_ids).values("object_id")
    candidate_ids = pinned_links.values("to_article_id").union(
        newest_in_category, any_tagged
    )

    shared_tags = (
        tagged.filter(object_id=OuterRef("pk"))
        .order_by()
        .values("object_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        Article.objects.published()
        .exclude(pk=article.pk)
        .filter(pk__in=candidate_ids)
        .annotate(
            # Not correlated: SQLite reads the pinned ids once for all rows.
            pinned=ExpressionWrapper(
                Q(pk__in=pinned_links.values("to_article_id")),
                output_field=BooleanField(),
            ),
            shared_tags=Coalesce(
                Subquery(shared_tags, output_field=IntegerField()), Value(0)
            )
            if tag_ids
            else Value(0, output_field=IntegerField()),
        )
        .filter(Q(pinned=True) | Q(pk__in=newest_in_category) | Q(shared_tags__gt=0))
        .select_related("category")
        # The sort holds every candidate's row: leave the longest column out.
        .defer("body")
        .order_by("-pinned", "-shared_tags", "-published_at", "-id")[:limit]
    )
