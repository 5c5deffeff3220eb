"""
Invalidation of cached public pages.

Cached pages are keyed on a site-wide generation number; anything that changes what
readers see (an article published or edited, a comment approved) calls
`invalidate_public_pages()`, which bumps the number so every old entry is missed at
once.
"""

from django.core.cache import cache

GENERATION_KEY = "public-pages:generation"


def public_pages_generation() -> int:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        generation = cache.get(GENERATION_KEY, 1)
    return generation


def invalidate_public_pages() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.add(GENERATION_KEY, 1, timeout=None)
