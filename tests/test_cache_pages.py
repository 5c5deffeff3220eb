"""The public page cache (newsroom.middleware.PublicPageCacheMiddleware)."""

import re
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.cache import cache
from django.http import HttpResponse
from django.template import engines
from django.test import Client
from django.urls import path
from django.utils import timezone

from articles import cache as cache_module
from articles.cache import GENERATION_KEY
from articles.models import Article
from comments import services as comment_services
from comments.models import Comment
from newsroom.middleware import RecentPages
from tests.factories import make_article

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{64})"')


def _token_page(request):
    """A page with a form and an inline script, like the real ones."""
    template = engines["django"].from_string(
        "<form method=post>{% csrf_token %}</form>"
        '<script nonce="{{ csp_nonce }}">var n = "{{ csp_nonce }}";</script>'
        "<p>{{ csrf_token }}</p>"
    )
    return HttpResponse(template.render({}, request))


def _accept_post(request):
    return HttpResponse("accepted")


def _private_page(request):
    response = HttpResponse("a preview for its editor")
    response["Cache-Control"] = "private"
    return response


# This module doubles as a URLconf for the tests of token and nonce handling.
urlpatterns = [
    path("page/", _token_page, name="token_page"),
    path("post/", _accept_post, name="accept_post"),
    path("private/", _private_page, name="private_page"),
]


@pytest.fixture
def page_cache(settings):
    settings.PAGE_CACHE_SECONDS = 300
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def token_urls(page_cache, settings):
    settings.ROOT_URLCONF = __name__
    settings.PAGE_CACHE_URL_NAMES = ["token_page", "private_page"]


def _get(client, url, **headers):
    return client.get(url, headers=headers)


def _entry(size, *, expires_in=300):
    """A cache entry of `size` bytes, as RecentPages sees it."""
    return {
        "parts": [b"x" * size],
        "expires_at": timezone.now().timestamp() + expires_in,
    }


def test_the_second_reader_is_served_from_cache_without_queries(
    page_cache, client, django_assert_num_queries
):
    article = make_article(title="Night trains return to the northern line")
    first = client.get(article.get_absolute_url())
    assert first["X-Page-Cache"] == "MISS"

    with django_assert_num_queries(0):
        second = Client().get(article.get_absolute_url())

    assert second.status_code == 200
    assert second["X-Page-Cache"] == "HIT"
    assert "Night trains return to the northern line" in second.text


def test_home_listing_and_feed_pages_are_cached(page_cache, client):
    article = make_article()
    addresses = [
        "/",
        article.category.get_absolute_url(),
        "/feed/",
    ]
    for address in addresses:
        client.get(address)

    assert [client.get(a)["X-Page-Cache"] for a in addresses] == ["HIT"] * 3


def test_search_is_not_cached(page_cache, client):
    client.get("/search/?q=ferry")

    assert "X-Page-Cache" not in client.get("/search/?q=ferry")


def test_the_query_string_is_part_of_the_key(page_cache, client):
    make_article()
    client.get("/?page=1")

    assert client.get("/?page=1")["X-Page-Cache"] == "HIT"
    assert client.get("/?page=2").get("X-Page-Cache") != "HIT"


def test_head_is_answered_from_the_cached_get(page_cache, client):
    article = make_article()
    client.get(article.get_absolute_url())

    assert client.head(article.get_absolute_url())["X-Page-Cache"] == "HIT"


def test_each_reader_gets_a_token_that_matches_their_own_cookie(token_urls):
    first, second = Client(), Client()
    first.get("/page/")

    page = second.get("/page/")

    assert page["X-Page-Cache"] == "HIT"
    tokens = TOKEN.findall(page.text)
    assert len(tokens) == 1
    assert tokens[0] not in first.get("/page/").text
    assert "csrftoken" in page.cookies
    assert "__PAGE_CACHE" not in page.text


def test_a_post_with_the_token_from_a_cached_page_is_accepted(token_urls):
    Client().get("/page/")
    reader = Client(enforce_csrf_checks=True)
    page = reader.get("/page/")
    assert page["X-Page-Cache"] == "HIT"

    accepted = reader.post(
        "/post/", {"csrfmiddlewaretoken": TOKEN.search(page.text)[1]}
    )
    forged = reader.post("/post/", {"csrfmiddlewaretoken": "x" * 64})

    assert accepted.status_code == 200
    assert forged.status_code == 403


def test_a_returning_reader_keeps_the_secret_of_their_token_cookie(token_urls):
    Client().get("/page/")
    reader = Client(enforce_csrf_checks=True)
    reader.get("/page/")
    cookie = reader.cookies["csrftoken"].value

    page = reader.get("/page/")

    assert page["X-Page-Cache"] == "HIT"
    assert reader.cookies["csrftoken"].value == cookie
    token = TOKEN.search(page.text)[1]
    assert reader.post("/post/", {"csrfmiddlewaretoken": token}).status_code == 200


def test_a_cached_page_gets_a_fresh_nonce_matching_its_csp_header(token_urls):
    Client().get("/page/")

    page = Client().get("/page/")

    nonce = re.search(r'<script nonce="([^"]+)">var n = "\1";', page.text)[1]
    assert f"'nonce-{nonce}'" in page["Content-Security-Policy"]
    assert nonce not in Client().get("/page/").text


def test_publishing_an_article_shows_it_at_once(page_cache, client):
    make_article()
    draft = make_article(title="Budget vote moved to Thursday", status="draft")
    assert "Budget vote moved to Thursday" not in client.get("/").text

    draft.status = Article.Status.PUBLISHED
    draft.published_at = timezone.now()
    draft.save()

    assert "Budget vote moved to Thursday" in client.get("/").text


def test_editing_an_article_shows_the_edit_at_once(page_cache, client):
    article = make_article(title="Bridge closes for repairs")
    client.get(article.get_absolute_url())

    article.title = "Bridge closes for repairs until May"
    article.save()

    assert (
        "Bridge closes for repairs until May"
        in client.get(article.get_absolute_url()).text
    )


def test_unpublishing_an_article_removes_it_at_once(page_cache, client):
    article = make_article()
    assert client.get(article.get_absolute_url()).status_code == 200

    article.status = Article.Status.DRAFT
    article.save()

    assert client.get(article.get_absolute_url()).status_code == 404


def test_approving_a_comment_shows_it_at_once(
    page_cache, client, django_capture_on_commit_callbacks
):
    article = make_article()
    comment = Comment.objects.create(
        article=article,
        author_name="Lusine",
        author_email="lusine@example.org",
        text="The ferry is back on Sundays too.",
        html="<p>The ferry is back on Sundays too.</p>",
    )
    assert "back on Sundays" not in client.get(article.get_absolute_url()).text

    with django_capture_on_commit_callbacks(execute=True):
        comment_services.moderate(comments=[comment], status=Comment.Status.APPROVED)

    assert "back on Sundays" in client.get(article.get_absolute_url()).text


def test_a_change_made_on_another_app_server_shows_within_a_second(page_cache, client):
    article = make_article(title="Ferry timetable")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client.get(article.get_absolute_url())
        # Another server saves the article: a new row and a new generation.
        Article.objects.filter(pk=article.pk).update(title="Ferry timetable for winter")
        cache.incr(GENERATION_KEY)
        assert "for winter" not in client.get(article.get_absolute_url()).text

        clock.shift(page_cache.PAGE_CACHE_GENERATION_SECONDS + 0.1)

        assert "for winter" in client.get(article.get_absolute_url()).text


def test_a_page_served_lately_needs_no_round_trip_to_the_cache(page_cache, client):
    article = make_article()
    with time_machine.travel(timezone.now(), tick=False):
        client.get(article.get_absolute_url())
        with mock.patch(
            "newsroom.middleware.cache.get", side_effect=AssertionError("cache asked")
        ):
            response = client.get(article.get_absolute_url())

    assert response["X-Page-Cache"] == "HIT"
    assert article.title in response.text


def test_pages_kept_in_memory_are_not_served_once_the_cache_lost_the_generation(
    page_cache, client
):
    article = make_article(title="Tram line")
    memo_expired = page_cache.PAGE_CACHE_GENERATION_SECONDS + 0.1
    with time_machine.travel(timezone.now(), tick=False) as clock:
        cache.clear()  # Redis starts empty: a new count.
        clock.shift(memo_expired)
        client.get(article.get_absolute_url())
        cache.clear()  # Redis restarts empty: the count starts again.
        Article.objects.filter(pk=article.pk).update(title="Tram line extended")

        clock.shift(memo_expired)

        assert "Tram line extended" in client.get(article.get_absolute_url()).text


def test_pages_kept_in_memory_drop_the_least_recently_served_past_their_size():
    recent = RecentPages(max_bytes=250)
    recent.add("home", _entry(100))
    recent.add("story", _entry(100))
    recent.get("home")  # served again: now the most recent

    recent.add("feed", _entry(100))

    assert recent.get("story") is None
    assert recent.get("home") is not None
    assert recent.get("feed") is not None
    assert recent.size == 200


def test_a_page_larger_than_the_memory_for_pages_is_not_kept():
    recent = RecentPages(max_bytes=250)

    recent.add("home", _entry(300))

    assert recent.get("home") is None
    assert recent.size == 0


def test_a_page_kept_in_memory_is_not_served_past_its_expiry():
    recent = RecentPages(max_bytes=250)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        recent.add("home", _entry(100, expires_in=60))

        clock.shift(60)

        assert recent.get("home") is None
        assert recent.size == 0


def test_renaming_a_category_shows_at_once(page_cache, client):
    article = make_article()
    client.get("/")

    article.category.name = "Regions and Provinces"
    article.category.save()

    assert "Regions and Provinces" in client.get("/").text


def test_tagging_an_article_shows_at_once(page_cache, client):
    article = make_article()
    client.get(article.get_absolute_url())

    article.tags.add("Water supply")

    assert "Water supply" in client.get(article.get_absolute_url()).text


def test_a_response_the_view_marks_private_is_not_stored(token_urls, client):
    client.get("/private/")

    assert client.get("/private/")["Cache-Control"] == "private"
    assert "X-Page-Cache" not in client.get("/private/")


def test_readers_still_get_pages_when_the_cache_is_down(page_cache, client):
    article = make_article()

    with mock.patch(
        "newsroom.middleware.cache.get", side_effect=ConnectionError("no redis")
    ):
        response = client.get(article.get_absolute_url())

    assert response.status_code == 200
    assert article.title in response.text


def test_a_scheduled_article_appears_on_time(page_cache, client):
    make_article()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        make_article(
            title="Polls open in the capital",
            published_at=timezone.now() + timedelta(minutes=10),
        )
        assert "Polls open in the capital" not in client.get("/").text
        assert client.get("/")["X-Page-Cache"] == "HIT"

        clock.shift(timedelta(minutes=10, seconds=1))

        assert "Polls open in the capital" in client.get("/").text


def test_the_author_of_a_pending_comment_bypasses_the_cache(
    page_cache, client, settings
):
    article = make_article()
    client.get(article.get_absolute_url())
    client.cookies[settings.COMMENTS_PENDING_COOKIE] = "signed-ids"

    response = client.get(article.get_absolute_url())

    assert response["X-Page-Cache"] == "BYPASS"
    assert "private" in response["Cache-Control"]


def test_a_signed_in_editor_is_never_served_or_stored(
    page_cache, client, django_user_model
):
    article = make_article()
    editor = django_user_model.objects.create_user("editor", is_staff=True)
    client.force_login(editor)

    response = client.get(article.get_absolute_url())

    assert response["X-Page-Cache"] == "BYPASS"
    assert "private" in response["Cache-Control"]
    assert Client().get(article.get_absolute_url())["X-Page-Cache"] == "MISS"


def test_a_cached_page_keeps_the_headers_the_view_gave_it(page_cache, client):
    make_article()
    first = client.get("/feed/")

    second = client.get("/feed/")

    assert second["X-Page-Cache"] == "HIT"
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Content-Type"].startswith("application/rss+xml")


def test_a_cached_page_says_how_long_it_is(page_cache, client):
    article = make_article()
    client.get(article.get_absolute_url())

    response = client.get(article.get_absolute_url())

    assert response["X-Page-Cache"] == "HIT"
    assert response["Content-Length"] == str(len(response.content))


def test_a_cached_page_carries_the_security_headers(page_cache, client):
    article = make_article()
    first = client.get(article.get_absolute_url())

    second = client.get(article.get_absolute_url())

    assert second["X-Page-Cache"] == "HIT"
    for header in (
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
        "Permissions-Policy",
    ):
        assert second[header] == first[header]


def test_a_feed_may_be_kept_by_shared_caches(page_cache, client):
    make_article()

    for response in (client.get("/feed/"), client.get("/feed/")):
        cache_control = set(response["Cache-Control"].split(", "))
        assert {"public", "max-age=60", "s-maxage=60"} <= cache_control


def test_a_browser_revalidates_a_cached_page_with_a_304(
    page_cache, client, django_assert_num_queries
):
    article = make_article()
    etag = client.get(article.get_absolute_url())["ETag"]

    with django_assert_num_queries(0):
        response = client.get(
            article.get_absolute_url(), headers={"If-None-Match": etag}
        )

    assert response.status_code == 304


def test_the_cache_is_off_at_zero_seconds(settings, client):
    settings.PAGE_CACHE_SECONDS = 0
    article = make_article()
    client.get(article.get_absolute_url())

    assert "X-Page-Cache" not in client.get(article.get_absolute_url())


def test_a_release_with_new_static_files_misses_the_pages_of_the_last(
    page_cache, client, monkeypatch
):
    article = make_article()
    client.get(article.get_absolute_url())
    assert client.get(article.get_absolute_url())["X-Page-Cache"] == "HIT"

    # The next release: other hashed CSS and JS, the same generation.
    monkeypatch.setattr(cache_module, "static_files_version", lambda: "next-release")

    assert client.get(article.get_absolute_url())["X-Page-Cache"] == "MISS"


def test_each_process_remembers_which_view_serves_a_path_but_not_long_ones(
    page_cache, client
):
    from newsroom.middleware import MAX_REMEMBERED_PATH, _remembered_view_name

    article = make_article()
    _remembered_view_name.cache_clear()
    client.get(article.get_absolute_url())
    assert client.get(article.get_absolute_url())["X-Page-Cache"] == "HIT"
    assert _remembered_view_name.cache_info().currsize == 1

    long_path = "/articles/" + "x" * MAX_REMEMBERED_PATH + "/"
    assert client.get(long_path).status_code == 404
    assert _remembered_view_name.cache_info().currsize == 1


def test_a_changed_urlconf_is_resolved_afresh(page_cache, rf, settings):
    from newsroom.middleware import _is_cacheable_address

    settings.PAGE_CACHE_URL_NAMES = ["articles:detail", "token_page"]
    assert _is_cacheable_address(rf.get("/articles/a-story/"))
    assert not _is_cacheable_address(rf.get("/page/"))

    settings.ROOT_URLCONF = __name__
    assert not _is_cacheable_address(rf.get("/articles/a-story/"))
    assert _is_cacheable_address(rf.get("/page/"))
