"""What search engines and link previews read: sitemaps, robots.txt, per-page
meta tags, and well-formed pages (one h1, ordered headings, unique ids, every
element closed)."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.test import RequestFactory
from django.utils import timezone
from django.views.defaults import server_error

from articles.models import Article, Correction
from tests.factories import make_article, make_author, make_category

pytestmark = pytest.mark.django_db

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}  # fmt: skip


class _PageChecker(HTMLParser):
    """Collects what a structural check of a page needs."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.ids, self.headings = [], [], [], []
        self.meta = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.headings.append(int(tag[1]))
        if tag == "meta":
            key = attrs.get("property") or attrs.get("name")
            self.meta[key] = attrs.get("content")
        if tag == "link" and attrs.get("rel") == "canonical":
            self.meta["canonical"] = attrs.get("href")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"stray </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()


def check_page(html):
    checker = _PageChecker()
    checker.feed(html)
    assert checker.errors == []
    assert checker.stack == []
    assert len(checker.ids) == len(set(checker.ids)), "duplicate ids"
    assert checker.headings.count(1) == 1, "one h1"
    assert checker.headings[0] == 1
    for before, after in zip(checker.headings, checker.headings[1:], strict=False):
        assert after <= before + 1, f"heading jumps from h{before} to h{after}"
    return checker.meta


@pytest.fixture
def site():
    category = make_category(name="Culture", slug="culture")
    author = make_author(name="Hasmik Grigoryan", slug="hasmik")
    article = make_article(
        title="Museum reopens",
        slug="museum-reopens",
        standfirst="The history museum opens its doors after two years of work.",
        category=category,
        authors=[author],
        tags=["museums"],
        image="articles/2026/11/museum.jpg",
        image_alt="The museum's front hall",
        image_width=1200,
        image_height=800,
        image_renditions={"480": "a-480.webp", "1200": "a-1200.webp"},
    )
    make_article(category=category, tags=["museums"], authors=[author])
    Correction.objects.create(article=article, note="The museum closed in 2024.")
    return article


PAGES = [
    "/",
    "/articles/museum-reopens/",
    "/category/culture/",
    "/tag/museums/",
    "/author/hasmik/",
    "/search/?q=museum",
    "/search/?q=nothing-matches",
    "/search/",
    "/archive/",
    "/corrections/",
]


@pytest.mark.parametrize("url", PAGES)
def test_pages_are_well_formed_with_title_description_canonical_and_social_tags(
    client, site, url
):
    response = client.get(url)
    html = response.content.decode()
    meta = check_page(html)
    assert meta["description"]
    assert meta["canonical"].startswith("http://127.0.0.1:8000/")
    assert meta["og:title"] and meta["og:url"] and meta["og:image"]
    assert meta["twitter:card"] in {"summary", "summary_large_image"}
    assert "<title>" in html


def test_archive_year_and_month_pages_are_well_formed(client, site):
    when = site.published_at
    check_page(client.get(f"/archive/{when:%Y}/").content.decode())
    check_page(client.get(f"/archive/{when:%Y}/{when:%m}/").content.decode())


def test_the_article_page_has_article_social_tags(client, site):
    meta = check_page(client.get(site.get_absolute_url()).content.decode())
    assert meta["og:type"] == "article"
    assert meta["og:title"] == "Museum reopens"
    assert meta["og:description"].startswith("The history museum")
    assert meta["og:image"] == "http://127.0.0.1:8000/media/a-1200.webp"
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["canonical"] == "http://127.0.0.1:8000/articles/museum-reopens/"
    assert meta["article:published_time"] == site.published_at.isoformat()


def test_canonical_of_later_pages_keeps_the_page_number(client):
    category = make_category(slug="news")
    for _ in range(13):
        make_article(category=category)
    meta = check_page(
        client.get("/category/news/?page=2&utm_source=x").content.decode()
    )
    assert meta["canonical"] == "http://127.0.0.1:8000/category/news/?page=2"


def test_the_404_page_is_styled_and_helpful(client):
    response = client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    check_page(html)
    assert "We can’t find that page" in html
    assert 'action="/search/"' in html
    assert "site.css" in html


def test_the_500_page_needs_no_database(django_assert_num_queries):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):
        response = server_error(request)
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b'class="site-title" href="/">Newsroom</a>' in response.content
    assert b"site.css" in response.content


def test_the_sitemap_index_lists_every_section_and_the_news_sitemap(client, site):
    root = ET.fromstring(client.get("/sitemap.xml").content)
    locations = {loc.text for loc in root.iter(f"{SITEMAP}loc")}
    assert locations == {
        f"http://testserver/sitemap-{section}.xml"
        for section in ("home", "articles", "categories", "authors", "tags", "news")
    }


def test_the_sitemaps_list_published_pages_only(client, site):
    make_article(slug="a-draft", status=Article.Status.DRAFT)
    make_article(slug="a-plan", published_at=timezone.now() + timedelta(days=1))
    locations = []
    for section in ("home", "articles", "categories", "authors", "tags"):
        response = client.get(f"/sitemap-{section}.xml")
        assert response.status_code == 200
        root = ET.fromstring(response.content)
        locations += [loc.text for loc in root.iter(f"{SITEMAP}loc")]
    assert "http://testserver/articles/museum-reopens/" in locations
    assert "http://testserver/category/culture/" in locations
    assert "http://testserver/author/hasmik/" in locations
    assert "http://testserver/tag/museums/" in locations
    assert "http://testserver/" in locations
    assert not [loc for loc in locations if "a-draft" in loc or "a-plan" in loc]


def test_big_sitemaps_are_paged(client, monkeypatch):
    from articles.sitemaps import ArticleSitemap

    monkeypatch.setattr(ArticleSitemap, "limit", 2)
    for _ in range(3):
        make_article()
    index = client.get("/sitemap.xml").content.decode()
    assert "http://testserver/sitemap-articles.xml?p=2" in index
    page_two = ET.fromstring(client.get("/sitemap-articles.xml?p=2").content)
    assert len(page_two.findall(f"{SITEMAP}url")) == 1
    assert client.get("/sitemap-nothing.xml").status_code == 404


def test_the_news_sitemap_holds_the_last_two_days(client):
    make_article(title="Fresh & new", slug="fresh")
    make_article(slug="stale", published_at=datetime(2020, 1, 1, tzinfo=UTC))
    response = client.get("/sitemap-news.xml")
    root = ET.fromstring(response.content)
    (url,) = root.findall(f"{SITEMAP}url")
    assert url.findtext(f"{SITEMAP}loc") == "http://testserver/articles/fresh/"
    news = url.find(f"{NEWS}news")
    assert news.findtext(f"{NEWS}title") == "Fresh & new"
    assert news.findtext(f"{NEWS}publication/{NEWS}name") == "Newsroom"
    assert news.findtext(f"{NEWS}publication_date")


def test_robots_txt_points_to_the_sitemaps(client):
    response = client.get("/robots.txt")
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/plain")
    assert "Sitemap: http://testserver/sitemap.xml" in text
    assert "Sitemap: http://testserver/sitemap-news.xml" in text
    assert "Disallow: /admin/" in text


def test_the_article_page_is_under_100_kb_with_its_css(client, site):
    from django.contrib.staticfiles import finders

    html = client.get(site.get_absolute_url()).content
    with open(finders.find("articles/site.css"), "rb") as css:
        size = len(html) + len(css.read())
    assert size < 100_000
