"""Settings for the test suite: the real settings, made fast and hermetic."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# Plain log lines keep pytest's captured output readable.
os.environ.setdefault("LOG_FORMAT", "plain")

from newsroom.settings import *  # noqa: E402, F403
from newsroom.settings import STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Always the in-process cache, even with REDIS_URL exported: every test starts by
# emptying it (tests/conftest.py), which must never flush somebody's Redis. The
# tests of Redis itself (tests/test_production_redis.py) make their own.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "newsroom-tests",
    },
    "template_fragments": CACHES["template_fragments"],  # noqa: F405
}
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
MEDIA_ROOT = tempfile.mkdtemp(prefix="newsroom-test-media-")
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
TASKS = {
    "default": {
        "BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
        "QUEUES": ["default", "newsletter"],
    }
}

# The test client and the live server speak plain HTTP on 127.0.0.1.
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Static files straight from the apps: no collectstatic, no "No directory at" warning.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Cached fragments are off here (tests/test_fragments.py switches them on): the
# query budgets of the pages are measured on the render that fragments save.
FRAGMENT_CACHE_SECONDS = 0

# SQLite tests use a file, as production does: an in-memory database shared between
# threads fails concurrent writers with "table is locked" instead of queueing them
# on the busy timeout, so tests of concurrent posts could not pass on it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.mkdtemp(prefix="newsroom-test-db-"), "test.db")
    }
