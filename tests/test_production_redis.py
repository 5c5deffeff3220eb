"""REDIS_URL: the cache, sessions and page invalidation on the real Redis
at 127.0.0.1:6379, shared by several app servers. Skipped when Redis does not answer.

Every run uses its own key prefix and deletes its keys afterwards.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from unittest import mock

import pytest
import time_machine
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from django.utils import timezone

from articles.models import Article
from publicpages import generation as page_cache
from tests.factories import make_article

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_answers() -> bool:
    import redis

    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not _redis_answers(), reason=f"Redis is not reachable at {REDIS_URL}"
    ),
]


@pytest.fixture
def prefix():
    import redis

    prefix = f"newsroom-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_settings(settings, prefix):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        },
        "template_fragments": settings.CACHES["template_fragments"],
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    return settings


def _app_server_cache(prefix):
    """The cache as another app server process sees it: its own connection."""
    return RedisCache(REDIS_URL, {"KEY_PREFIX": prefix})


def test_redis_url_switches_cache_sessions_and_fragment_cache_on(tmp_path):
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.CACHES['default']['BACKEND'], "
        "settings.SESSION_ENGINE, settings.FRAGMENT_CACHE_SECONDS]))"
    )
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME"}}
    env |= {
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "SECRET_KEY": "s" * 60,
        "REDIS_URL": REDIS_URL,
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "django.core.cache.backends.redis.RedisCache",
        "django.contrib.sessions.backends.cached_db",
        300,
    ]


def test_invalidation_on_one_app_server_reaches_the_others(prefix):
    first, second = _app_server_cache(prefix), _app_server_cache(prefix)
    with mock.patch.object(page_cache, "cache", first):
        before = page_cache.public_pages_generation()

    with mock.patch.object(page_cache, "cache", second):
        page_cache.invalidate_public_pages()

    with mock.patch.object(page_cache, "cache", first):
        assert page_cache.public_pages_generation() == before + 1


@pytest.mark.django_db
def test_a_session_is_read_back_from_redis_without_a_query(
    redis_settings, django_assert_num_queries
):
    from django.contrib.sessions.backends.cached_db import SessionStore

    session = SessionStore()
    session["reader"] = "signed in"
    session.save()

    with django_assert_num_queries(0):
        assert SessionStore(session.session_key).load() == {"reader": "signed in"}


@pytest.mark.django_db
def test_a_second_view_renders_from_fragments(
    redis_settings, django_assert_max_num_queries
):
    redis_settings.FRAGMENT_CACHE_SECONDS = 300
    article = make_article(title="Orchard growers form a cooperative")
    Client().get(article.get_absolute_url())

    # The article itself; the story, menu and comments are fragments of the
    # generation read from Redis.
    with django_assert_max_num_queries(2):
        response = Client().get(article.get_absolute_url())

    assert "Orchard growers form a cooperative" in response.text


@pytest.mark.django_db
def test_pages_render_while_redis_is_down(redis_settings):
    redis_settings.FRAGMENT_CACHE_SECONDS = 300
    article = make_article(title="Orchard growers form a cooperative")
    Client().get(article.get_absolute_url())
    Article.objects.filter(pk=article.pk).update(title="Orchard growers vote")
    redis_settings.CACHES = {
        **redis_settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens there.
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }
    page_cache._last_seen = (0, 0.0)

    response = Client().get(article.get_absolute_url())

    assert response.status_code == 200
    assert '<h1 class="story-title">Orchard growers vote</h1>' in response.text


@pytest.mark.django_db
def test_a_page_changed_on_another_app_server_shows_here_within_a_second(
    redis_settings, prefix
):
    redis_settings.FRAGMENT_CACHE_SECONDS = 300
    article = make_article(title="Harbour crane")
    reader = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        reader.get(article.get_absolute_url())

        Article.objects.filter(pk=article.pk).update(title="Harbour crane returns")
        _app_server_cache(prefix).incr(page_cache.GENERATION_KEY)
        clock.shift(redis_settings.PAGE_CACHE_GENERATION_SECONDS + 0.1)
        page = reader.get(article.get_absolute_url())

    assert "Harbour crane returns" in page.text
