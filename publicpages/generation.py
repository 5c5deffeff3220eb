"""
What readers see changes: the generation number of the public pages, and how long
a copy of a page may be kept.

Cached fragments ({% cache %}, timed and keyed by publicpages/context_processors.py)
carry a site-wide generation number; anything that changes what readers see (an
article published or edited, a comment approved) calls `invalidate_public_pages()`,
which bumps the number so every old fragment is missed at once, and purges the
shared HTTP caches in front of the site (FRONTEND_CACHE_URLS). The number is kept
in Redis when REDIS_URL is set, so a bump on one app server is seen by all of them.

Each process reuses the generation it last read for PAGE_CACHE_GENERATION_SECONDS
instead of asking Redis on every request. A change made in this process is seen
here at once (invalidating records the new number); a change made in another one
(another gunicorn worker, another app server) reaches this process's readers at
most that many seconds late.

Whole pages are not cached here: they carry Cache-Control for browsers and shared
caches (publicpages.middleware.PublicCacheControlMiddleware), whose lifetimes end
before the next scheduled article goes live (`seconds_until_next_publication`).
"""

import functools
import logging
import secrets
import time

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.utils.module_loading import import_string

from publicpages.purge import purge_frontend_caches

logger = logging.getLogger(__name__)

GENERATION_KEY = "public-pages:generation"

# The generation this process last read or started, and when (time.time()).
_last_seen = (0, 0.0)


def public_pages_generation(*, max_age: float = 0) -> int:
    """The current generation; 0 while the cache cannot be reached (pages are
    then rendered fresh, and nothing is stored).

    With max_age, a generation this process read or started less than max_age
    seconds ago is returned without asking the cache."""
    global _last_seen
    generation, seen_at = _last_seen
    now = time.time()
    if generation and 0 <= now - seen_at < max_age:
        return generation
    try:
        generation = cache.get(GENERATION_KEY)
        if generation is None:
            first = _first_generation()
            cache.add(GENERATION_KEY, first, timeout=None)
            generation = cache.get(GENERATION_KEY, first)
    except Exception:
        logger.error("Cache unreachable: page generation unknown", exc_info=True)
        _last_seen = (0, 0.0)
        return 0
    _last_seen = (generation, now)
    return generation


def invalidate_public_pages() -> None:
    """Start a new generation, and purge the shared caches in front of the site
    once the transaction commits (publicpages/purge.py). Never raises: a
    write that reached the database must not fail because a cache is down (pages
    then expire by their TTL)."""
    global _last_seen
    try:
        try:
            _last_seen = (cache.incr(GENERATION_KEY), time.time())
        except ValueError:
            cache.add(GENERATION_KEY, _first_generation(), timeout=None)
            _last_seen = (0, 0.0)
    except Exception:
        _last_seen = (0, 0.0)
        logger.error("Cache unreachable: cached pages not invalidated", exc_info=True)
    # After the new generation: a shared cache fetches its pages again at once,
    # and they must not be rendered from the old fragments.
    purge_frontend_caches()


def _first_generation() -> int:
    # Random, not 1: a count that starts again because Redis lost the key must
    # not come back to a number that pages are still stored under.
    return secrets.randbelow(2**48) + 1


@functools.cache
def static_files_version() -> str:
    """The hash of the collected static files' manifest ("" without one): part of
    every page and fragment key, so a release whose CSS or JS changed starts with
    new entries. Stored pages name the hashed files of the release that rendered
    them, which the next release may no longer have."""
    return getattr(staticfiles_storage, "manifest_hash", "") or ""


def seconds_until_next_publication(generation: int) -> float | None:
    """Seconds until the next scheduled article is due, or None if none is
    scheduled. Scheduling an article saves it, and every save starts a new
    generation: each process looks it up once per generation (0, the cache is
    unreachable: every time), and again after NEXT_PUBLICATION_SECONDS."""
    global _next_publication
    now = time.time()
    if not generation:
        due = _next_publication_timestamp()
        return due - now if due else None
    seen_generation, seen_at, due = _next_publication
    if (
        seen_generation != generation
        or not 0 <= now - seen_at < NEXT_PUBLICATION_SECONDS
        or (due and due <= now)
    ):
        due = _next_publication_timestamp()
        _next_publication = (generation, now, due)
    return due - now if due else None


def lifetime_until_next_publication(seconds: int, generation: int) -> int:
    """`seconds`, cut short so nothing kept that long (a page in a cache, a
    fragment) outlives the moment the next scheduled article goes live."""
    until_next = seconds_until_next_publication(generation)
    if until_next is None:
        return seconds
    return min(seconds, max(int(until_next), 0))


# Without Redis, each process's generation is its own: an article another
# worker schedules reaches this one's look-up at most this late.
NEXT_PUBLICATION_SECONDS = 60
# The generation, when (time.time()) and the due time (0: none) last looked up.
_next_publication = (0, 0.0, 0.0)


def _next_publication_timestamp() -> float:
    # The app that schedules pages names its look-up in settings, so this
    # package depends on none of them.
    next_at = import_string(settings.PUBLIC_PAGES_NEXT_PUBLICATION)()
    return next_at.timestamp() if next_at else 0
