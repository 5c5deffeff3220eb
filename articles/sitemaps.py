"""sitemap.xml for search engines, and a Google News sitemap of the last two days."""

from datetime import timedelta

from django.contrib.sitemaps import Sitemap
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from taggit.models import Tag

from articles.models import Article, Author, Category

NEWS_WINDOW = timedelta(days=2)


class HomeSitemap(Sitemap):
    changefreq = "hourly"
    priority = 1.0

    def items(self):
        return ["articles:home"]

    def location(self, item):
        return reverse(item)


class ArticleSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.8
    # Small enough that a crawler gets each page of the sitemap quickly.
    limit = 2000

    def items(self):
        return (
            Article.objects.published()
            .only("slug", "updated_at")
            .order_by("-published_at", "-id")
        )

    def lastmod(self, article):
        return article.updated_at

    def get_latest_lastmod(self):
        # For the index: one aggregate, not every article through lastmod().
        return Article.objects.published().aggregate(latest=Max("updated_at"))["latest"]


class CategorySitemap(Sitemap):
    changefreq = "hourly"
    priority = 0.6

    def items(self):
        return Category.objects.annotate(latest=Max("articles__updated_at")).order_by(
            "position", "name"
        )

    def lastmod(self, category):
        return category.latest


class AuthorSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.4

    def items(self):
        return Author.objects.filter(
            articles__in=Article.objects.published()
        ).distinct()


class TagSitemap(Sitemap):
    changefreq = "daily"
    priority = 0.3

    def items(self):
        return (
            Tag.objects.filter(article__in=Article.objects.published())
            # A tag of punctuation alone slugifies to nothing and has no page.
            .exclude(slug="")
            .distinct()
            .order_by("name")
        )

    def location(self, tag):
        return reverse("articles:tag", args=[tag.slug])


class NewsSitemap(Sitemap):
    """Articles of the last two days, rendered by templates/sitemaps/news.xml with
    the news: tags Google News reads."""

    def items(self):
        return (
            Article.objects.published()
            .filter(published_at__gte=timezone.now() - NEWS_WINDOW)
            .only("slug", "title", "published_at")
            .order_by("-published_at", "-id")[:1000]
        )


SITEMAPS = {
    "home": HomeSitemap,
    "articles": ArticleSitemap,
    "categories": CategorySitemap,
    "authors": AuthorSitemap,
    "tags": TagSitemap,
}

# The index also lists the news sitemap; its section URL, /sitemap-news.xml, is
# routed to the news template before the generic per-section route.
SITEMAP_INDEX = {**SITEMAPS, "news": NewsSitemap}
