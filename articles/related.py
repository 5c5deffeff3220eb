"""
"You May Also Like": related articles computed here, without an external service.

Ranking: articles an editor pinned come first, then articles sharing the most tags
with this one, newest first among equals, then the newest of the same category to
fill the block up. One query: the candidates are the
pinned articles, those sharing a tag and a few of the newest in the category, so the
ranking never scans a whole busy category.
"""

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from taggit.models import TaggedItem

from articles.models import Article

RELATED_LIMIT = 4


def related_articles(article: Article, *, limit: int = RELATED_LIMIT) -> list[Article]:
    """Up to `limit` published articles to suggest under `article`.

    Uses `article.tags.all()`, so prefetch the tags to keep this at one query.
    """
    tag_ids = [tag.pk for tag in article.tags.all()]
    pinned = Article.related_articles.through.objects.filter(
        from_article_id=article.pk, to_article_id=OuterRef("pk")
    )
    tagged = TaggedItem.objects.filter(
        content_type__app_label=Article._meta.app_label,
        content_type__model=Article._meta.model_name,
        tag_id__in=tag_ids,
    )
    shared_tags = (
        tagged.filter(object_id=OuterRef("pk"))
        .order_by()
        .values("object_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    newest_in_category = (
        Article.objects.published()
        .filter(category_id=article.category_id)
        .exclude(pk=article.pk)
        .order_by("-published_at", "-id")
        .values("pk")[: limit + 1]
    )
    candidates = Q(Exists(pinned)) | Q(pk__in=Subquery(newest_in_category))
    if tag_ids:
        candidates |= Q(pk__in=tagged.values("object_id"))
    return list(
        Article.objects.published()
        .exclude(pk=article.pk)
        .filter(candidates)
        .annotate(
            pinned=Exists(pinned),
            shared_tags=Coalesce(
                Subquery(shared_tags, output_field=IntegerField()), Value(0)
            )
            if tag_ids
            else Value(0, output_field=IntegerField()),
        )
        .select_related("category")
        .order_by("-pinned", "-shared_tags", "-published_at", "-id")[:limit]
    )
