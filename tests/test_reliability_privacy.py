"""
Privacy: commenters' email addresses never reach a public page, feed or sitemap.

Readers comment through the real form (some ticking "remember me", so their address
is printed back into the form for them), then look at the pages; then an anonymous
crawler follows every link from the home page, the sitemaps, robots.txt and the feeds,
with the page cache on, and searches everything it gets for the addresses, their
encodings and their MD5 and SHA-256 hashes (what Gravatar-style avatars would leak).
"""

import hashlib
import re
import urllib.parse
from html import unescape

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from comments import services
from comments.forms import form_timestamp
from comments.models import Comment
from tests.factories import make_article, make_author, make_category

ADDRESSES = [
    "Quiet.Reader@Example.org",
    "whistle+blower@example.net",
    "neighbour.on.elm.street@example.com",
]
MAX_PAGES = 400
START = [
    "/",
    "/sitemap.xml",
    "/sitemap-news.xml",
    "/robots.txt",
    "/feed/",
    "/feed/atom/",
]
SKIP = ("/admin/", "/static/", "/media/")


def forbidden_strings(address: str) -> set[str]:
    """The address and what it could be turned into, all lower case."""
    found = set()
    for variant in {address, address.lower(), address.strip().lower()}:
        found |= {
            variant.lower(),
            urllib.parse.quote(variant).lower(),
            urllib.parse.quote_plus(variant).lower(),
            hashlib.md5(variant.encode()).hexdigest(),
            hashlib.sha256(variant.encode()).hexdigest(),
        }
    return found


LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']|<loc>([^<]+)</loc>""", re.I)
SITEMAP_LINE = re.compile(r"^Sitemap:\s*(\S+)", re.M)


def links_in(body: str) -> set[str]:
    """Same-site paths linked from HTML, XML (feeds, sitemaps) or robots.txt."""
    site = urllib.parse.urlsplit(django_settings.SITE_URL).netloc
    paths = set()
    for match in list(LINK.finditer(body)) + list(SITEMAP_LINE.finditer(body)):
        url = unescape(next(group for group in match.groups() if group)).strip()
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"", "http", "https"}:
            continue
        if parts.netloc and parts.netloc not in {"testserver", site}:
            continue
        if not parts.path.startswith("/") or parts.path.startswith(SKIP):
            continue
        paths.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def crawl(client: Client, start: list[str]) -> dict[str, str]:
    """Every reachable page's body (and Link headers), by path."""
    seen, queue, pages = set(), list(start), {}
    while queue and len(pages) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code in {301, 302, 303, 307, 308}:
            queue.append(urllib.parse.urlsplit(response["Location"]).path)
            continue
        body = response.content.decode(errors="replace")
        headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        pages[path] = body + "\n" + headers
        queue.extend(links_in(body) - seen)
    return pages


@pytest.mark.django_db
def test_no_public_page_feed_or_sitemap_shows_a_commenters_address(settings):
    settings.COMMENTS_MIN_SECONDS = 0
    settings.FRAGMENT_CACHE_SECONDS = 300
    author = make_author(name="Mara Lind", slug="mara-lind")
    articles = [
        make_article(
            title=f"Elm Street story {n}",
            slug=f"elm-street-{n}",
            category=make_category(),
            tags=["elm-street", f"part-{n}"],
            authors=[author],
        )
        for n in range(3)
    ]
    commenters = []
    for n, address in enumerate(ADDRESSES):
        commenter = Client(REMOTE_ADDR=f"10.30.0.{n + 1}")
        for article in articles:
            commenter.get(article.get_absolute_url())
            response = commenter.post(
                reverse("comments:post", args=[article.pk]),
                {
                    "name": f"Reader {n}",
                    "email": address,
                    "url": f"https://blog{n}.example.com/",
                    "comment": f"My view on {article.title}, from reader {n}.",
                    "remember": "yes",
                    "notify": "yes",
                    "homepage": "",
                    "ts": form_timestamp(article.pk),
                },
                REMOTE_ADDR=f"10.30.{len(commenters)}.{articles.index(article) + 1}",
            )
            assert response.status_code == 303, response.content[:300]
        commenters.append(commenter)
    # One address's comments approved, one left pending, one marked spam: none of
    # them may show an address.
    for address, status in zip(
        ADDRESSES,
        [Comment.Status.APPROVED, Comment.Status.PENDING, Comment.Status.SPAM],
        strict=True,
    ):
        services.moderate(
            comments=list(Comment.objects.filter(author_email=address.lower())),
            status=status,
        )
    approved = Comment.objects.approved().first()
    services.post_comment(
        article=approved.article,
        name="Editor reply",
        email="desk@example.com",
        text="Thanks, we have corrected the street name.",
        parent=approved,
    )
    # The commenters look at their comments: their own pages carry their address in
    # the form. Those pages must not be what the cache hands to anyone else.
    for commenter, address in zip(commenters, ADDRESSES, strict=True):
        for article in articles:
            body = commenter.get(article.get_absolute_url()).content.decode()
            assert address.lower() in body.lower()

    start = START + [reverse("comments:feed", args=[a.slug]) for a in articles]
    pages = crawl(Client(), start)

    print(f"crawled {len(pages)} pages")
    assert len(pages) >= 20, sorted(pages)
    assert any(path.startswith("/articles/") for path in pages)
    assert any("/feed/" in path for path in pages)
    assert "Reader 0" in "".join(pages.values())
    leaks = {}
    for path, body in pages.items():
        lowered = body.lower()
        if hits := [s for a in ADDRESSES for s in forbidden_strings(a) if s in lowered]:
            leaks[path] = hits
    assert leaks == {}


def test_the_crawler_sees_an_address_and_its_hash_when_they_are_there():
    # Guards the check: the same search on a page that does leak finds it.
    address = ADDRESSES[0]
    digest = hashlib.md5(address.lower().encode()).hexdigest()
    body = f'<img src="https://avatars.example/{digest}?s=40">'
    assert any(s in body.lower() for s in forbidden_strings(address))
    body = "mailto:quiet.reader%40example.org"
    assert any(s in body.lower() for s in forbidden_strings(address))
    assert links_in('<a href="/a/?page=2">x</a><loc>http://testserver/b/</loc>') == {
        "/a/?page=2",
        "/b/",
    }
