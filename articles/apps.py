from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save


class ArticlesConfig(AppConfig):
    name = "articles"
    verbose_name = "Articles"

    def ready(self):
        # Cached public pages show categories, bylines and tags too, and list an
        # article's authors, tags and related stories (many-to-many changes do not
        # go through Article.save). Invalidation only; no domain logic here.
        from taggit.models import Tag

        from articles import checks  # noqa: F401 (registers the system checks)
        from articles.models import Article, Author, Byline, Category, Figure, Photo

        for model in (Category, Author, Byline, Figure, Photo, Tag):
            post_save.connect(_invalidate, sender=model, dispatch_uid=f"pages-{model}")
            post_delete.connect(
                _invalidate, sender=model, dispatch_uid=f"pages-del-{model}"
            )
        for relation in (Article.authors, Article.tags, Article.related_articles):
            m2m_changed.connect(
                _invalidate_m2m,
                sender=relation.through,
                dispatch_uid=f"pages-m2m-{relation.through}",
            )


def _invalidate(**kwargs):
    from publicpages.generation import invalidate_public_pages

    # Now, and again after commit so a page rendered from the old rows in the
    # meantime does not stay cached under the new generation.
    invalidate_public_pages()
    transaction.on_commit(invalidate_public_pages)


def _invalidate_m2m(action, **kwargs):
    if action.startswith("post_"):
        _invalidate()
