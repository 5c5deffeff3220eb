"""Purging the shared caches in front of the site (publicpages/purge.py):
what is sent, when, and what a cache that is down does to a save. Real Varnish
answers these purges in tests/test_varnish.py."""

import http.server
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.server import free_port
from publicpages.generation import invalidate_public_pages
from publicpages.purge import ban_all_pages
from tests.factories import make_article

ROOT = Path(__file__).resolve().parent.parent


class RecordingCache(http.server.ThreadingHTTPServer):
    """An HTTP server on a free loopback port that records each request's method
    and path, and answers 200."""

    def __init__(self):
        self.received = []
        recorded = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_BAN(self):
                recorded.append((self.command, self.path))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture
def caches():
    servers = [RecordingCache(), RecordingCache()]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db
def test_every_cache_gets_a_ban_once_the_change_commits(
    caches, settings, django_capture_on_commit_callbacks
):
    settings.FRONTEND_CACHE_URLS = [cache.url for cache in caches]

    with django_capture_on_commit_callbacks(execute=True):
        make_article(title="Published")
        # Before the commit the cache would only fetch the old rows again.
        assert [cache.received for cache in caches] == [[], []]

    for cache in caches:
        assert cache.received and set(cache.received) == {("BAN", "/")}


@pytest.mark.django_db
def test_without_a_shared_cache_nothing_is_sent(
    settings, django_capture_on_commit_callbacks
):
    settings.FRONTEND_CACHE_URLS = []

    with django_capture_on_commit_callbacks() as callbacks:
        invalidate_public_pages()

    assert ban_all_pages not in callbacks


@pytest.mark.django_db
def test_a_cache_that_is_down_is_logged_and_the_save_still_succeeds(
    settings, django_capture_on_commit_callbacks, caplog
):
    settings.FRONTEND_CACHE_URLS = [f"http://127.0.0.1:{free_port()}/"]

    with (
        caplog.at_level(logging.ERROR, logger="publicpages.purge"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        article = make_article(title="Saved anyway")

    assert article.pk is not None
    assert "not purged" in caplog.text


@pytest.mark.slow
def test_a_cache_address_without_a_scheme_is_refused_at_start():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "newsroom.settings",
            "DEBUG": "1",
            "FRONTEND_CACHE_URLS": "127.0.0.1:6081",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "FRONTEND_CACHE_URLS: '127.0.0.1:6081' is not an http://" in result.stderr
