"""
The pages that list one category's, tag's or author's articles, and their feeds.

Each is described once here (what it lists, by which field) and served by one
view (articles.views) and one pair of feeds (articles.feeds), so a page and its
feed always list the same stories.
"""

from dataclasses import dataclass

from django.db import models
from django.shortcuts import get_object_or_404
from django.urls import reverse
from taggit.models import Tag

from articles.models import Article, Author, Category


@dataclass(frozen=True)
class Listing:
    # The URL names ("category", "category_feed", "category_atom"), the
    # template (articles/category_detail.html) and the object's name in it.
    name: str
    model: type[models.Model]
    # The Article field the listing filters on.
    field: str

    def get(self, slug: str):
        return get_object_or_404(self.model, slug=slug)

    def articles(self, obj) -> models.QuerySet[Article]:
        """The published articles the page and its feeds list."""
        return Article.objects.published().filter(**{self.field: obj})

    def url(self, obj, kind: str = "") -> str:
        """The page's address, or with kind "feed" or "atom" one of its feeds'."""
        name = f"{self.name}_{kind}" if kind else self.name
        return reverse(f"articles:{name}", args=[obj.slug])


CATEGORY = Listing("category", Category, "category")
TAG = Listing("tag", Tag, "tags")
AUTHOR = Listing("author", Author, "authors")
