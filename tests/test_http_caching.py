"""HTTP caching of the public pages (publicpages.middleware, Django's
ConditionalGetMiddleware and GZipMiddleware): the same bytes and headers
for every reader without a cookie of their own, validators that never give a
stale 304, and what is a reader's own never marked shareable."""

import gzip
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache, caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, Correction
from comments import services as comment_services
from comments.models import Comment
from tests.comments_helpers import post
from tests.factories import (
    make_article,
    make_author,
    make_comment,
    make_subscriber,
)

pytestmark = pytest.mark.django_db

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.fixture
def article():
    return make_article(
        title="Night trains return",
        slug="night-trains-return",
        tags=["rail"],
        authors=[make_author(slug="mara-lind")],
        body="<p>" + "The sleeper leaves at nine. " * 200 + "</p>",
    )


@pytest.fixture
def fragment_cache(settings):
    settings.FRAGMENT_CACHE_SECONDS = 300


def public_addresses(article) -> list[str]:
    published = article.published_at
    return [
        "/",
        article.get_absolute_url(),
        article.category.get_absolute_url(),
        reverse("articles:tag", args=["rail"]),
        reverse("articles:author", args=["mara-lind"]),
        reverse("articles:archive"),
        reverse("articles:year", args=[published.year]),
        reverse("articles:month", args=[published.year, f"{published.month:02}"]),
        reverse("articles:search") + "?q=sleeper",
        reverse("articles:feed"),
        reverse("articles:atom"),
        reverse("articles:category_feed", args=[article.category.slug]),
        reverse("comments:feed", args=[article.slug]),
        "/sitemap.xml",
        "/robots.txt",
        reverse("newsletter:index"),
        reverse("newsletter:check_inbox"),
    ]


def test_no_public_page_sets_a_cookie_or_varies_on_one(article):
    for address in public_addresses(article):
        response = Client().get(address)

        assert response.status_code == 200, address
        assert not response.cookies, address
        assert "Cookie" not in response.get("Vary", ""), address
        cache_control = response["Cache-Control"]
        assert cache_control.startswith("public"), (address, cache_control)
        assert "s-maxage=" in cache_control, address
        assert "stale-while-revalidate=" in cache_control, address


def test_public_pages_say_how_long_caches_may_keep_them(article, settings):
    settings.PAGE_CACHE_MAX_AGE = 0
    settings.PAGE_CACHE_SHARED_MAX_AGE = 300
    settings.PAGE_CACHE_STALE_WHILE_REVALIDATE = 30

    response = Client().get(article.get_absolute_url())

    assert set(response["Cache-Control"].split(", ")) == {
        "public",
        "max-age=0",
        "s-maxage=300",
        "stale-while-revalidate=30",
    }


def test_no_cache_keeps_a_page_past_the_next_scheduled_article(article, settings):
    settings.PAGE_CACHE_SHARED_MAX_AGE = 300
    with time_machine.travel(timezone.now(), tick=False):
        make_article(
            status=Article.Status.PUBLISHED,
            published_at=timezone.now() + timedelta(seconds=40),
        )
        response = Client().get("/")

    assert "s-maxage=40" in response["Cache-Control"]


def test_every_worker_sends_the_same_bytes_and_etag(article, fragment_cache, settings):
    first = Client().get(article.get_absolute_url(), headers=GZIP)
    # What another gunicorn worker or app server has: a generation number it
    # reads from the cache (emptied here, so a new one) and no fragments of
    # its own.
    cache.clear()
    settings.PAGE_CACHE_GENERATION_SECONDS = 0
    caches["template_fragments"].clear()
    second = Client().get(article.get_absolute_url(), headers=GZIP)

    assert first["ETag"] == second["ETag"]
    assert gzip.decompress(first.content) == gzip.decompress(second.content)


@pytest.mark.parametrize("kind", ["home", "article", "feed"])
def test_a_repeat_request_with_the_etag_gets_a_304(article, kind):
    address = {
        "home": "/",
        "article": article.get_absolute_url(),
        "feed": "/feed/",
    }[kind]
    # Within one minute: the comment form's bot-check timestamp moves on the
    # minute (comments.forms.TIMESTAMP_STEP), and with it the page and its ETag.
    with time_machine.travel(timezone.now(), tick=False):
        first = Client().get(address, headers=GZIP)
        again = Client().get(address, headers={**GZIP, "If-None-Match": first["ETag"]})

    assert again.status_code == 304
    assert again.content == b""
    assert again["Cache-Control"] == first["Cache-Control"]


def _revalidate(address, etag):
    return Client().get(address, headers={"If-None-Match": etag})


def test_an_approved_comment_never_leaves_a_stale_304(
    article, fragment_cache, django_capture_on_commit_callbacks
):
    address = article.get_absolute_url()
    comment = make_comment(article, status=Comment.Status.PENDING, text="Finally.")
    etag = Client().get(address)["ETag"]

    with django_capture_on_commit_callbacks(execute=True):
        comment_services.moderate(comments=[comment], status=Comment.Status.APPROVED)
    response = _revalidate(address, etag)

    assert response.status_code == 200
    assert "Finally." in response.text


def test_a_correction_never_leaves_a_stale_304(article, fragment_cache):
    addresses = [article.get_absolute_url(), "/corrections/"]
    etags = [Client().get(address)["ETag"] for address in addresses]

    Correction.objects.create(article=article, note="The date was wrong.")

    for address, etag in zip(addresses, etags, strict=True):
        response = _revalidate(address, etag)
        assert response.status_code == 200
        assert "The date was wrong." in response.text


def test_an_edit_never_leaves_a_stale_304(article, fragment_cache):
    address = article.get_absolute_url()
    etag = Client().get(address)["ETag"]

    article.title = "Night trains return for good"
    article.save()
    response = _revalidate(address, etag)

    assert response.status_code == 200
    assert "Night trains return for good" in response.text


def test_a_new_related_article_never_leaves_a_stale_304(article, fragment_cache):
    address = article.get_absolute_url()
    etag = Client().get(address)["ETag"]

    make_article(title="Sleeper cabins sell out", tags=["rail"])
    response = _revalidate(address, etag)

    assert response.status_code == 200
    assert "Sleeper cabins sell out" in response.text


def test_pages_and_feeds_are_compressed_and_vary_on_accept_encoding(article):
    for address in (article.get_absolute_url(), "/", "/feed/"):
        response = Client().get(address, headers=GZIP)

        assert response["Content-Encoding"] == "gzip", address
        assert "Accept-Encoding" in response["Vary"], address
        assert b"<" in gzip.decompress(response.content)


def test_a_reader_with_a_pending_comment_gets_a_private_page(article, settings):
    settings.COMMENTS_MAX_LINKS = 0  # every comment is held for moderation
    reader = Client()

    response = post(reader, article, comment="Held for a look, https://x.example")
    own = reader.get(article.get_absolute_url())
    everyone = Client().get(article.get_absolute_url())

    assert response.status_code == 303
    assert "awaiting moderation" in own.text
    assert own["Cache-Control"] == "private, no-store"
    assert "https://x.example" not in everyone.text
    assert everyone["Cache-Control"].startswith("public")


def test_a_remembered_name_and_email_come_only_on_a_private_page(article):
    reader = Client()

    post(reader, article, remember="yes", email="anahit@example.org")
    own = reader.get(article.get_absolute_url())
    everyone = Client().get(article.get_absolute_url())

    assert 'value="anahit@example.org"' in own.text
    assert own["Cache-Control"] == "private, no-store"
    assert "anahit@example.org" not in everyone.text


def test_a_signed_in_editor_gets_private_pages(article, admin_client):
    response = admin_client.get(article.get_absolute_url())

    assert response["Cache-Control"] == "private, no-store"


def test_a_subscribers_own_pages_are_never_stored(article):
    from newsletter.tokens import make_manage_token

    subscriber = make_subscriber()
    token = make_manage_token(subscriber.pk)

    for name in ("newsletter:preferences", "newsletter:unsubscribe"):
        response = Client().get(reverse(name, args=[token]))

        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert "public" not in response["Cache-Control"]


def test_a_response_to_a_post_is_not_marked_shareable(article):
    response = post(Client(), article)

    assert "public" not in response.get("Cache-Control", "")
