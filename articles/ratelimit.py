"""
A small fixed-window rate limiter on Django's cache.

The cache is in-process by default and Redis when REDIS_URL is set, so limits hold
across app servers in production.
"""

from django.conf import settings
from django.core.cache import cache


def client_ip(request) -> str:
    """The reader's IP address. Behind a proxy, set TRUSTED_PROXY_COUNT so the
    address is taken from X-Forwarded-For instead of the proxy's own."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def is_rate_limited(key: str, *, limit: int, period: int) -> bool:
    """Count one hit against `key`; True once more than `limit` hits fall in the
    current window of `period` seconds."""
    cache_key = f"ratelimit:{key}"
    # add() is atomic: only the first hit of a window creates the counter.
    if cache.add(cache_key, 1, timeout=period):
        return limit < 1
    try:
        count = cache.incr(cache_key)
    except ValueError:
        # The window expired between add() and incr(): this hit opens a new one.
        cache.set(cache_key, 1, timeout=period)
        count = 1
    return count > limit
