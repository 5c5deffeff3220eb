"""Small factory helpers for tests. Each returns a saved object."""

import itertools
from datetime import timedelta

from django.utils import timezone

from articles.models import Article, Author, Category

_sequence = itertools.count(1)


def make_category(**fields):
    n = next(_sequence)
    fields.setdefault("name", f"Category {n}")
    fields.setdefault("slug", f"category-{n}")
    return Category.objects.create(**fields)


def make_author(**fields):
    n = next(_sequence)
    fields.setdefault("name", f"Author {n}")
    fields.setdefault("slug", f"author-{n}")
    return Author.objects.create(**fields)


def make_article(*, tags=(), authors=(), **fields):
    """A published article, published an hour ago unless told otherwise."""
    n = next(_sequence)
    fields.setdefault("title", f"Article {n}")
    fields.setdefault("slug", f"article-{n}")
    fields.setdefault("body", f"<p>Body of article {n}.</p>")
    fields.setdefault("status", Article.Status.PUBLISHED)
    fields.setdefault("published_at", timezone.now() - timedelta(hours=1))
    if "category" not in fields:
        fields["category"] = make_category()
    article = Article.objects.create(**fields)
    if tags:
        article.tags.add(*tags)
    if authors:
        article.authors.add(*authors)
    return article
