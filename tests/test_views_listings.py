"""Category, tag and author pages, and the date archives."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articles.models import Article
from tests.factories import make_article, make_author, make_category

pytestmark = pytest.mark.django_db


def _queries(client, url):
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_a_category_page_lists_only_its_published_articles(client):
    politics = make_category(name="Politics", slug="politics", description="Power.")
    make_article(title="Vote tonight", category=politics)
    make_article(title="Quiet draft", category=politics, status=Article.Status.DRAFT)
    make_article(title="Football news")
    html = client.get("/category/politics/").content.decode()
    assert "<h1>Politics</h1>" in html
    assert "Power." in html
    assert "Vote tonight" in html
    assert "Quiet draft" not in html
    assert "Football news" not in html
    assert 'aria-current="page"' in html


def test_a_category_page_links_its_feeds(client):
    make_category(slug="science")
    html = client.get("/category/science/").content.decode()
    assert 'type="application/rss+xml"' in html
    assert 'href="/category/science/feed/"' in html
    assert 'href="/category/science/feed/atom/"' in html


def test_unknown_category_tag_and_author_are_404(client):
    for url in ("/category/nope/", "/tag/nope/", "/author/nope/"):
        assert client.get(url).status_code == 404


def test_a_tag_page_lists_tagged_articles(client):
    make_article(title="Wine festival", tags=["wine"])
    make_article(title="Bread prices", tags=["bread"])
    html = client.get("/tag/wine/").content.decode()
    assert "Wine festival" in html
    assert "Bread prices" not in html
    assert 'href="/tag/wine/feed/"' in html


def test_an_author_page_shows_the_bio_and_their_articles(client):
    author = make_author(name="Lilit Sargsyan", slug="lilit", bio="Covers science.")
    make_article(title="Telescope data", authors=[author])
    make_article(title="Someone else")
    html = client.get("/author/lilit/").content.decode()
    assert "<h1>Lilit Sargsyan</h1>" in html
    assert "Covers science." in html
    assert "Telescope data" in html
    assert "Someone else" not in html


def test_listings_paginate(client):
    category = make_category(slug="local")
    for n in range(14):
        make_article(
            category=category,
            title=f"Local {n:02d}",
            published_at=timezone.now() - timedelta(hours=n + 1),
        )
    first = client.get("/category/local/").content.decode()
    second = client.get("/category/local/?page=2").content.decode()
    assert "Local 00" in first and "Local 12" not in first
    assert "Local 12" in second and "Local 13" in second
    assert client.get("/category/local/?page=3").status_code == 404


@pytest.mark.parametrize("kind", ["category", "tag", "author"])
def test_listing_queries_do_not_grow_with_page_size(client, kind):
    category = make_category(slug="c")
    author = make_author(slug="a")

    def add(n):
        for _ in range(n):
            make_article(category=category, tags=["t"], authors=[author, make_author()])

    url = {"category": "/category/c/", "tag": "/tag/t/", "author": "/author/a/"}[kind]
    add(2)
    with_two = _queries(client, url)
    add(10)
    with_twelve = _queries(client, url)
    assert with_two == with_twelve
    assert with_twelve <= 6


def test_year_and_month_archives(client):
    make_article(title="Spring story", published_at=datetime(2025, 4, 10, tzinfo=UTC))
    make_article(title="Autumn story", published_at=datetime(2025, 10, 2, tzinfo=UTC))
    make_article(title="Old story", published_at=datetime(2024, 4, 10, tzinfo=UTC))
    year = client.get("/archive/2025/").content.decode()
    assert "Spring story" in year and "Autumn story" in year
    assert "Old story" not in year
    assert 'href="/archive/2025/04/"' in year
    month = client.get("/archive/2025/04/").content.decode()
    assert "Spring story" in month and "Autumn story" not in month
    assert "<h1>April 2025</h1>" in month
    index = client.get("/archive/").content.decode()
    assert 'href="/archive/2025/10/"' in index


def test_archives_hide_drafts_and_scheduled_articles(client):
    now = timezone.now()
    make_article(title="Visible", published_at=now - timedelta(minutes=5))
    make_article(title="Hidden draft", status=Article.Status.DRAFT)
    make_article(title="Later today", published_at=now + timedelta(minutes=30))
    html = client.get(f"/archive/{now.year}/").content.decode()
    assert "Visible" in html
    assert "Hidden draft" not in html and "Later today" not in html


@pytest.mark.parametrize(
    "url", ["/archive/1999/", "/archive/2025/13/", "/archive/2025/00/"]
)
def test_empty_or_impossible_archives_are_404(client, url):
    make_article(published_at=datetime(2025, 4, 10, tzinfo=UTC))
    assert client.get(url).status_code == 404


def test_archive_queries_do_not_grow_with_page_size(client):
    when = datetime(2025, 4, 10, tzinfo=UTC)
    make_article(published_at=when, authors=[make_author()])
    few = _queries(client, "/archive/2025/04/")
    for n in range(10):
        make_article(published_at=when + timedelta(hours=n), authors=[make_author()])
    assert _queries(client, "/archive/2025/04/") == few


def test_tags_in_other_alphabets_have_pages_and_feeds(client):
    article = make_article(title="Yerevan water", tags=["Երևան", "Café crème"])
    html = client.get(article.get_absolute_url()).content.decode()
    assert 'href="/tag/%D5%A5%D6%80%D5%A5%D6%82%D5%A1%D5%B6/"' in html
    assert client.get("/tag/երեւան/").status_code == 200
    assert "Yerevan water" in client.get("/tag/café-crème/").content.decode()
    assert client.get("/tag/café-crème/feed/").status_code == 200


def test_a_tag_without_a_slug_is_shown_but_not_linked(client):
    article = make_article(tags=["!!!", "water"])
    response = client.get(article.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="tag">!!!</span>' in html
    assert client.get("/sitemap-tags.xml").status_code == 200


def test_cards_on_a_category_page_do_not_repeat_the_category(client):
    category = make_category(name="Sport", slug="sport")
    make_article(category=category)
    html = client.get("/category/sport/").content.decode()
    assert 'class="kicker"><a href="/category/sport/"' not in html
    make_article(category=category, tags=["derby"])
    assert (
        'class="kicker"><a href="/category/sport/"'
        in client.get("/tag/derby/").content.decode()
    )
