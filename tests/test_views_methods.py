"""Public pages, feeds and sitemaps answer GET and HEAD, and 405 to anything else
(TRACE, OPTIONS, POST, PUT...)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_article, make_author, make_category, make_comment

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():
    article = make_article(
        slug="story",
        category=make_category(slug="sport"),
        authors=[make_author(slug="levon")],
        tags=["chess"],
        published_at=timezone.now() - timedelta(hours=1),
    )
    make_comment(article)
    return article


def public_urls(article):
    year, month = article.published_at.strftime("%Y %m").split()
    return [
        "/",
        "/articles/story/",
        "/category/sport/",
        "/tag/chess/",
        "/author/levon/",
        "/archive/",
        f"/archive/{year}/",
        f"/archive/{year}/{month}/",
        "/search/?q=story",
        "/robots.txt",
        "/feed/",
        "/feed/atom/",
        "/category/sport/feed/",
        "/category/sport/feed/atom/",
        "/tag/chess/feed/",
        "/tag/chess/feed/atom/",
        "/author/levon/feed/",
        "/author/levon/feed/atom/",
        "/comments/feed/",
        "/comments/feed/story/",
        "/sitemap.xml",
        "/sitemap-news.xml",
        "/sitemap-articles.xml",
    ]


def test_public_urls_answer_get_and_head(client, published):
    for url in public_urls(published):
        assert client.get(url).status_code == 200, url
        assert client.head(url).status_code == 200, url


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "POST", "PUT", "DELETE"])
def test_public_urls_refuse_other_methods(client, published, method):
    for url in public_urls(published):
        response = client.generic(method, url)
        assert response.status_code == 405, (method, url)
        assert set(response["Allow"].split(", ")) == {"GET", "HEAD"}, url
