from django.urls import path, re_path, register_converter

from articles import feeds, views


class TagSlugConverter:
    """Tag slugs keep their letters (django-taggit slugifies with Unicode
    allowed): "Երևան" is /tag/երեւան/, which the built-in slug converter
    refuses."""

    regex = r"[-\w]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(TagSlugConverter, "tagslug")

app_name = "articles"

urlpatterns = [
    path("", views.home, name="home"),
    path("articles/<slug:slug>/", views.article_detail, name="detail"),
    path("category/<slug:slug>/", views.category_detail, name="category"),
    path("tag/<tagslug:slug>/", views.tag_detail, name="tag"),
    path("author/<slug:slug>/", views.author_detail, name="author"),
    path("archive/", views.ArticleArchiveIndex.as_view(), name="archive"),
    re_path(
        r"^archive/(?P<year>[0-9]{4})/$",
        views.ArticleYearArchive.as_view(),
        name="year",
    ),
    re_path(
        r"^archive/(?P<year>[0-9]{4})/(?P<month>[0-9]{2})/$",
        views.ArticleMonthArchive.as_view(),
        name="month",
    ),
    path("search/", views.search, name="search"),
    path("corrections/", views.corrections, name="corrections"),
    path(
        "corrections/feed/", feeds.rss(feeds.CorrectionsFeed), name="corrections_feed"
    ),
    # Feeds: RSS at feed/, Atom at feed/atom/, for the site and each listing.
    path("feed/", feeds.rss(feeds.LatestArticlesFeed), name="feed"),
    path("feed/atom/", feeds.atom(feeds.LatestArticlesFeed), name="atom"),
    path(
        "category/<slug:slug>/feed/",
        feeds.rss(feeds.CategoryFeed),
        name="category_feed",
    ),
    path(
        "category/<slug:slug>/feed/atom/",
        feeds.atom(feeds.CategoryFeed),
        name="category_atom",
    ),
    path("tag/<tagslug:slug>/feed/", feeds.rss(feeds.TagFeed), name="tag_feed"),
    path("tag/<tagslug:slug>/feed/atom/", feeds.atom(feeds.TagFeed), name="tag_atom"),
    path("author/<slug:slug>/feed/", feeds.rss(feeds.AuthorFeed), name="author_feed"),
    path(
        "author/<slug:slug>/feed/atom/",
        feeds.atom(feeds.AuthorFeed),
        name="author_atom",
    ),
]
