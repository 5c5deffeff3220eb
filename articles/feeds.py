"""RSS and Atom feeds for the site, each category, tag and author.

Each feed carries the excerpt, bylines, category and tags, and the featured image as
an enclosure. Conditional GETs are answered as for every page: the ETag is a hash
of the feed (ConditionalGetMiddleware), and Last-Modified is not sent
(publicpages.middleware.PublicCacheControlMiddleware says why).
"""

import mimetypes

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Enclosure, Rss201rev2Feed
from django.utils.html import escape
from django.views.decorators.http import require_safe

from articles.listings import AUTHOR, CATEGORY, TAG, Listing
from articles.models import Article, Correction, authors_in_byline_order
from publicpages.addresses import absolute_url
from safetext.validators import strip_xml_illegal

FEED_ITEMS = 20
# The enclosure is the rendition closest to this width: big enough for a reader
# app, far smaller than the original.
ENCLOSURE_WIDTH = 960


def enclosure_for(article: Article) -> Enclosure | None:
    """The article's image as an enclosure, or None without an image."""
    renditions = article.image_renditions or {}
    if renditions:
        width = min(renditions, key=lambda w: abs(int(w) - ENCLOSURE_WIDTH))
        name, mime_type = renditions[width], "image/webp"
    elif article.image:
        name = article.image.name
        mime_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    else:
        return None
    try:
        length = default_storage.size(name)
    except (OSError, NotImplementedError):
        # RSS asks for a length; 0 is the accepted value for "unknown".
        length = 0
    return Enclosure(default_storage.url(name), str(length), mime_type)


def _xml_safe(value):
    if isinstance(value, str):
        return strip_xml_illegal(value)
    if isinstance(value, (list, tuple)):
        return [_xml_safe(item) for item in value]
    return value


class XmlSafeFeedMixin:
    """Drops the characters XML cannot carry from every text of the feed. New text
    cannot hold them (safetext.validators), but one old row written around save()
    must not make a whole feed unreadable (or a 500)."""

    def __init__(self, *args, **kwargs):
        super().__init__(
            *map(_xml_safe, args), **{k: _xml_safe(v) for k, v in kwargs.items()}
        )

    def add_item(self, *args, **kwargs):
        super().add_item(
            *map(_xml_safe, args), **{k: _xml_safe(v) for k, v in kwargs.items()}
        )


class RssFeed(XmlSafeFeedMixin, Rss201rev2Feed):
    pass


class AtomFeed(XmlSafeFeedMixin, Atom1Feed):
    pass


class LatestArticlesFeed(Feed):
    feed_type = RssFeed

    def articles(self, obj):
        """The published articles this feed is about."""
        return Article.objects.published()

    def title(self, obj):
        return settings.SITE_NAME

    def link(self, obj):
        return "/"

    def description(self, obj):
        return settings.SITE_DESCRIPTION

    def subtitle(self, obj):
        return self.description(obj)

    def items(self, obj):
        return (
            self.articles(obj)
            .select_related("category")
            .prefetch_related(authors_in_byline_order(), "tags")
            .order_by("-published_at", "-id")[:FEED_ITEMS]
        )

    def item_title(self, item):
        return item.title

    def item_description(self, item):
        # Feed readers render a description as HTML: the plain-text excerpt is
        # escaped, so "<img onerror=...>" in a story reads as it does on the page.
        return escape(item.excerpt or item.standfirst)

    def item_pubdate(self, item):
        return item.published_at

    def item_comments(self, item):
        """RSS <comments>: where readers discuss the article, if they may."""
        if not (item.comments_enabled or item.comment_count):
            return None
        return absolute_url(item.get_absolute_url() + "#comments")

    def item_updateddate(self, item):
        return item.updated_at

    def item_author_name(self, item):
        return ", ".join(author.name for author in item.authors.all()) or None

    def item_author_link(self, item):
        authors = list(item.authors.all())
        return absolute_url(authors[0].get_absolute_url()) if authors else None

    def item_categories(self, item):
        return [item.category.name, *(tag.name for tag in item.tags.all())]

    def item_enclosures(self, item):
        enclosure = enclosure_for(item)
        if enclosure and enclosure.url.startswith("/"):
            enclosure.url = absolute_url(enclosure.url)
        return [enclosure] if enclosure else []


class ListingFeed(LatestArticlesFeed):
    """The feed of a category's, tag's or author's page: the same stories."""

    listing: Listing

    def get_object(self, request, slug):
        return self.listing.get(slug)

    def articles(self, obj):
        return self.listing.articles(obj)

    def title(self, obj):
        return f"{obj.name} | {settings.SITE_NAME}"

    def link(self, obj):
        return self.listing.url(obj)


class CategoryFeed(ListingFeed):
    listing = CATEGORY

    def description(self, obj):
        return obj.description or f"The latest {obj.name} articles."


class TagFeed(ListingFeed):
    listing = TAG

    def description(self, obj):
        return f"Articles tagged {obj.name}."


class AuthorFeed(ListingFeed):
    listing = AUTHOR

    def description(self, obj):
        return f"Articles by {obj.name}."


class CorrectionsFeed(Feed):
    """The corrections page as a feed: every correction and update of a
    published story, newest first."""

    feed_type = RssFeed

    def title(self):
        return f"Corrections | {settings.SITE_NAME}"

    def link(self):
        return reverse("articles:corrections")

    def description(self):
        return f"Corrections and updates to {settings.SITE_NAME} stories."

    def items(self):
        return (
            Correction.objects.filter(article__in=Article.objects.published())
            .select_related("article")
            .only("kind", "note", "created_at", "article__title", "article__slug")[
                :FEED_ITEMS
            ]
        )

    def item_title(self, item):
        return f"{item.get_kind_display()}: {item.article.title}"

    def item_description(self, item):
        # Plain text, escaped: feed readers render descriptions as HTML.
        return escape(item.note)

    def item_pubdate(self, item):
        return item.created_at


def rss(feed_class):
    return require_safe(feed_class())


def atom(feed_class):
    feed = feed_class()
    feed.feed_type = AtomFeed
    return require_safe(feed)
