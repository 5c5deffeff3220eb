"""
Real Varnish (Debian's varnishd) with the shipped deploy/varnish/newsroom.vcl in
front of the live test server: what readers get through the cache, and that every
change readers see is there at the next request (the app bans the cache when the
change commits; FRONTEND_CACHE_URLS).

Skipped, with a message, where varnishd is not installed (`make test` installs
it). How fast a change gets through is measured by bench/run.py, not here.
"""

import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from http.cookiejar import CookieJar

import pytest
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, Correction
from bench.server import Varnish, varnishd_path
from comments.models import Comment
from comments.services import moderate
from tests.comments_helpers import form_data
from tests.factories import make_article, make_comment

pytestmark = [
    pytest.mark.varnish,
    pytest.mark.skipif(
        varnishd_path() is None,
        reason="varnishd is not installed (apt-get install varnish; make test does)",
    ),
]


@pytest.fixture(scope="module")
def varnishd(live_server):
    # The live server listens on IPv4 loopback, where Varnish looks for it.
    with Varnish(urllib.parse.urlsplit(live_server.url).port) as varnish:
        yield varnish


@pytest.fixture
def varnish(varnishd, settings):
    """Varnish with nothing stored, and the app purging it."""
    settings.FRONTEND_CACHE_URLS = [varnishd.url + "/"]
    varnishd.ban_everything()
    return varnishd


class Reader:
    """One reader's client through the cache: their own cookies, no redirects
    followed (a form's answer is a 303)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies = CookieJar()

        class NoRedirects(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirects
        )

    def get(self, path: str):
        return self._open(urllib.request.Request(self.base_url + path))

    def post(self, path: str, data: dict):
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=body))

    def _open(self, request):
        try:
            with self.opener.open(request, timeout=10) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read())


class Response:
    def __init__(self, status, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.text = body.decode(errors="replace")

    @property
    def cache(self) -> str:
        return self.headers.get("X-Cache", "")


def cached(reader: Reader, path: str) -> Response:
    """`path` as readers get it once Varnish has stored it (the second request)."""
    reader.get(path)
    response = reader.get(path)
    assert response.cache == "HIT", (path, response.status, response.headers.items())
    return response


def post_comment(reader: Reader, article, **fields) -> Response:
    """Post the article's comment form through the cache, with the form's token
    when the page has one."""
    page = reader.get(article.get_absolute_url())
    data = form_data(article, **fields)
    if 'name="csrfmiddlewaretoken"' in page.text:
        token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1]
        data["csrfmiddlewaretoken"] = token.split('"', 1)[0]
    return reader.post(reverse("comments:post", args=[article.pk]), data)


@pytest.mark.parametrize("page", ["article", "home", "feed"])
def test_a_public_page_is_stored_and_served_again_from_the_cache(varnish, page):
    article = make_article(title="Ferry timetable")
    path = {"article": article.get_absolute_url(), "home": "/", "feed": "/feed/"}
    reader = Reader(varnish.url)

    first = reader.get(path[page])
    second = reader.get(path[page])

    assert (first.status, first.cache) == (200, "MISS")
    assert (second.status, second.cache) == (200, "HIT")
    assert second.text == first.text
    assert "Ferry timetable" in second.text
    assert "Age" in second.headers


def test_a_published_article_is_on_the_cached_pages_at_the_next_request(varnish):
    make_article(title="Older news")
    reader = Reader(varnish.url)
    for path in ("/", "/feed/"):
        assert "The bridge reopens" not in cached(reader, path).text

    make_article(title="The bridge reopens")

    for path in ("/", "/feed/"):
        assert "The bridge reopens" in reader.get(path).text


def test_an_edited_headline_replaces_the_cached_one_at_the_next_request(varnish):
    article = make_article(title="Bridge closed for repairs")
    reader = Reader(varnish.url)
    for path in (article.get_absolute_url(), "/"):
        assert "Bridge closed for repairs" in cached(reader, path).text

    article.title = "Bridge reopens after repairs"
    article.save()

    for path in (article.get_absolute_url(), "/"):
        text = reader.get(path).text
        assert "Bridge reopens after repairs" in text
        assert "Bridge closed for repairs" not in text


def test_a_correction_is_on_the_cached_pages_at_the_next_request(varnish):
    article = make_article()
    reader = Reader(varnish.url)
    for path in (article.get_absolute_url(), "/corrections/", "/corrections/feed/"):
        assert "misspelt" not in cached(reader, path).text

    Correction.objects.create(article=article, note="A name was misspelt.")

    for path in (article.get_absolute_url(), "/corrections/", "/corrections/feed/"):
        assert "misspelt" in reader.get(path).text


def test_an_approved_comment_is_on_the_cached_article_at_the_next_request(varnish):
    article = make_article()
    pending = make_comment(article, status=Comment.Status.PENDING, text="Held back")
    reader = Reader(varnish.url)
    assert "Held back" not in cached(reader, article.get_absolute_url()).text

    moderate(comments=[pending], status=Comment.Status.APPROVED)

    assert "Held back" in reader.get(article.get_absolute_url()).text


def test_a_scheduled_article_is_in_the_cached_feed_once_its_time_comes(varnish):
    make_article(title="Already out")
    make_article(
        title="Due shortly",
        published_at=timezone.now() + timedelta(seconds=4),
    )
    reader = Reader(varnish.url)
    # No purge happens at publication time: the feed's shared lifetime ends then.
    assert "Due shortly" not in cached(reader, "/feed/").text

    deadline = time.monotonic() + 15
    while "Due shortly" not in reader.get("/feed/").text:
        assert time.monotonic() < deadline, "the scheduled article never showed"
        time.sleep(0.2)


def test_a_readers_pending_comment_and_saved_email_never_reach_another_reader(
    varnish,
):
    article = make_article(title="Water prices")
    writer, other = Reader(varnish.url), Reader(varnish.url)
    cached(other, article.get_absolute_url())

    posted = post_comment(
        writer,
        article,
        name="Lusine",
        email="lusine@example.org",
        comment="Prices went up twice this year.",
        remember="on",
    )
    assert posted.status == 303
    assert posted.cache == "PASS"
    assert Comment.objects.get(article=article).status == Comment.Status.PENDING

    own = writer.get(article.get_absolute_url())
    assert own.cache == "PASS"
    assert "Prices went up twice this year." in own.text
    assert "lusine@example.org" in own.text

    # The other reader still gets the shared copy, as it was before.
    theirs = other.get(article.get_absolute_url())
    assert (theirs.status, theirs.cache) == (200, "HIT")
    assert "Prices went up twice this year." not in theirs.text
    assert "lusine@example.org" not in theirs.text
    assert "Lusine" not in theirs.text

    # Nor is the writer's own page stored for the next reader to come.
    varnish.ban_everything()
    writer.get(article.get_absolute_url())
    fresh = Reader(varnish.url).get(article.get_absolute_url())
    assert (fresh.status, fresh.cache) == (200, "MISS")
    assert "Prices went up twice this year." not in fresh.text
    assert "lusine@example.org" not in fresh.text


def test_a_comment_form_is_passed_to_the_app_and_saved(varnish):
    article = make_article()
    reader = Reader(varnish.url)

    response = post_comment(reader, article, comment="Sent through the cache.")

    assert (response.status, response.cache) == (303, "PASS")
    assert Comment.objects.filter(article=article, text="Sent through the cache.")


def test_the_admin_is_never_stored(varnish):
    reader = Reader(varnish.url)

    responses = [reader.get("/admin/login/") for _ in range(2)]

    assert [(r.status, r.cache) for r in responses] == [(200, "PASS"), (200, "PASS")]


def test_a_ban_from_outside_the_purgers_list_is_refused(varnish):
    make_article(title="Stays cached")
    reader = Reader(varnish.url)
    cached(reader, "/feed/")

    # Loopback answers on all of 127/8; 127.0.0.2 is not in the ACL.
    connection = http.client.HTTPConnection(
        "127.0.0.1", varnish.port, source_address=("127.0.0.2", 0), timeout=5
    )
    connection.request("BAN", "/")
    status = connection.getresponse().status
    connection.close()

    assert status == 405
    assert reader.get("/feed/").cache == "HIT"


@pytest.mark.parametrize("method", ["BAN", "PURGE"])
def test_a_purge_from_the_app_servers_empties_the_cache(varnish, method):
    make_article(title="Purged")
    reader = Reader(varnish.url)
    cached(reader, "/feed/")

    request = urllib.request.Request(varnish.url + "/feed/", method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200

    assert reader.get("/feed/").cache == "MISS"


def test_a_draft_is_never_stored_in_the_cache(varnish):
    draft = make_article(title="Not yet", status=Article.Status.DRAFT)
    reader = Reader(varnish.url)

    responses = [reader.get(draft.get_absolute_url()) for _ in range(2)]

    assert [r.status for r in responses] == [404, 404]
    assert responses[1].cache != "HIT"
