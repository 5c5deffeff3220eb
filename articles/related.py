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
candidates by primary key ("pk IN (...) OR pk IN (...)", nothing else in the
outer WHERE, so SQLite plans it the same with or without statistics) with their
ranking figures; Python drops the unpublished and ranks them.
"""

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
    # Newest first (the model's ordering), so a slice is "the n newest".
    others = Article.objects.published().exclude(pk=article.pk).values("pk")
    candidates = Q(pk__in=pinned_ids) | Q(
        pk__in=others.filter(category_id=article.category_id)[:limit]
    )
    if tag_ids:
        # Walks article_published_idx newest first and stops at the limit-th
        # article with one of the tags.
        sharing_one = others.filter(Exists(tagged.filter(object_id=OuterRef("pk"))))
        candidates |= Q(pk__in=sharing_one[:limit])
    if len(tag_ids) > 1:
        # Tagged items of any model: "tag_id IN (...)" alone keeps SQLite on the
        # tag index (with the content type it would read every tagged article).
        # A few extra candidates do no harm; they share no tag below.
        sharing_two = (
            TaggedItem.objects.filter(tag_id__in=tag_ids)
            .values("object_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=2)
            .values("object_id")
        )
        candidates |= Q(pk__in=sharing_two)

    shared_tags = (
        tagged.filter(object_id=OuterRef("pk"))
        .order_by()
        .values("object_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    found = (
        Article.objects.filter(candidates)
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
