"""
Cached fragments: the parts of a page that are the same for every reader, rendered
once per generation of the public pages (publicpages/generation.py) and reused until
anything readers see changes.

Whole pages are kept by the shared cache in front of the site, if there is one
(docs/deployment.md). Every page it does not answer is rendered here: its first
request after a change, a reader with comment cookies, an editor, a site without
a shared cache. With fragments, that render reuses the story, its surroundings and
the approved comments, and renders only what is the reader's own (their comments
awaiting moderation, their saved name).

Rules for a fragment:
- it holds nothing personal: no form, no CSRF token, no CSP nonce, nothing that
  depends on the user or the cookies;
- everything it shows changes only with the generation (every save of an article,
  category or author, every comment approved or removed starts a new one), or with
  the values it is keyed on;
- the data it shows is computed lazily (articles.views.StoryParts,
  comments.section.Threads), so a hit runs none of those queries.

Keys carry the generation; a fragment never outlives the moment the next
scheduled article goes live. (Why not Django's {% cache %} tag, which the
{% fragment %} tag resembles: it knows no generation and no scheduled
publication, keeps no copy in the process, and raises when Redis is down.) The
cache is the default one (Redis in production, shared by every process). When
it cannot be reached, or with FRAGMENT_CACHE_SECONDS = 0, fragments are rendered
every time.
"""

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from django.core.cache.utils import make_template_fragment_key
from django.utils import timezone

from publicpages.generation import (
    lifetime_until_next_publication,
    public_pages_generation,
    static_files_version,
)

logger = logging.getLogger(__name__)


class RecentFragments:
    """
    The fragments one process stored or fetched lately, most recently used last.
    At most `max_bytes` of content: adding past that drops the least recently
    used. The keys carry the generation, as in the shared cache, so a new
    generation misses these too; an entry is never used past its expires_at,
    which ends before the next scheduled article goes live.
    """

    def __init__(self, *, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._entries = OrderedDict()  # key: (entry, size)
        # gunicorn's threads share one instance per process.
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            entry, _ = self._entries.get(key, (None, 0))
            if entry is None:
                return None
            if entry["expires_at"] <= timezone.now().timestamp():
                self._remove(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def add(self, key: str, entry: dict) -> None:
        size = sum(len(part) for part in entry["parts"])
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._remove(key)
            self._entries[key] = (entry, size)
            self.size += size
            while self.size > self.max_bytes:
                self._remove(next(iter(self._entries)))

    def _remove(self, key: str) -> None:
        _, size = self._entries.pop(key)
        self.size -= size


# Each process keeps the fragments it used lately, so most hits need no round trip
# to Redis. Entries are {"parts": [html], "expires_at": timestamp}.
_recent = RecentFragments(max_bytes=settings.FRAGMENT_CACHE_LOCAL_MB * 2**20)


def fragment_timeout(generation: int) -> int:
    """FRAGMENT_CACHE_SECONDS, cut short so no fragment outlives the moment the
    next scheduled article goes live."""
    # At least a second: Django's caches store nothing for a timeout of 0.
    return max(
        lifetime_until_next_publication(settings.FRAGMENT_CACHE_SECONDS, generation), 1
    )


def cached_fragment(name: str, vary_on: Iterable, render: Callable[[], str]) -> str:
    """The fragment `name` for the values `vary_on`, from the cache or from
    `render()` (then stored)."""
    if not settings.FRAGMENT_CACHE_SECONDS:
        return render()
    generation = public_pages_generation(max_age=settings.PAGE_CACHE_GENERATION_SECONDS)
    if not generation:
        return render()
    key = make_template_fragment_key(
        f"{name}:v1:{generation}:{static_files_version()}", list(vary_on)
    )
    entry = _recent.get(key)
    if entry is None:
        try:
            entry = cache.get(key)
        except Exception:
            logger.warning("Cache unreachable: fragment %s rendered", name)
            return render()
        if entry is None:
            entry = _store(key, render(), generation)
        if entry["expires_at"]:
            _recent.add(key, entry)
    return entry["parts"][0]


def _store(key: str, html: str, generation: int) -> dict:
    try:
        timeout = fragment_timeout(generation)
        entry = {"parts": [html], "expires_at": timezone.now().timestamp() + timeout}
        cache.set(key, entry, timeout)
    except Exception:
        logger.warning("Cache unreachable: fragment not stored")
        return {"parts": [html], "expires_at": 0}
    return entry
