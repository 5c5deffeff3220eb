"""
Project-wide middleware: a response header, the page readers get when the database
is down, and the public page cache.
"""

import functools
import hashlib
import logging
import re

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.middleware.csrf import _unmask_cipher_token, get_token
from django.template.loader import get_template
from django.urls import Resolver404, get_resolver, get_urlconf
from django.utils import timezone
from django.utils.cache import patch_cache_control

from articles.cache import (
    RecentPages,
    page_cache_key,
    page_cache_timeout,
    public_pages_generation,
)

logger = logging.getLogger(__name__)


class PermissionsPolicyMiddleware:
    """Send the Permissions-Policy header built from settings.PERMISSIONS_POLICY."""

    def __init__(self, get_response):
        self.get_response = get_response
        policy = getattr(settings, "PERMISSIONS_POLICY", {})
        self.header = ", ".join(
            f"{feature}=({' '.join(allow)})" for feature, allow in policy.items()
        )

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response


class DatabaseUnavailableMiddleware:
    """Answer 503 with the site's own page, not a bare 500, when a view cannot reach
    the database. A form sent at that moment was not saved, and the page says so;
    the browser's Back button returns to the form with the text still in it."""

    retry_after = 30

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error(
            "Database unavailable: %s %s",
            request.method,
            request.path,
            exc_info=exception,
        )
        return database_unavailable_response(request, retry_after=self.retry_after)


def database_unavailable_response(request, *, retry_after: int) -> HttpResponse:
    # Rendered without the request: context processors may need the database.
    html = get_template("503.html").render(
        {
            "site_name": settings.SITE_NAME,
            "form_not_saved": request.method not in {"GET", "HEAD", "OPTIONS"},
            "retry_after": retry_after,
        }
    )
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(retry_after)
    patch_cache_control(response, no_store=True)
    return response


# A masked CSRF token as {% csrf_token %} prints it: 64 letters and digits.
_TOKEN_CANDIDATE = re.compile(rb"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])")
CSRF_PLACEHOLDER = b"__PAGE_CACHE_CSRF_TOKEN__"
NONCE_PLACEHOLDER = b"__PAGE_CACHE_CSP_NONCE__"
_PLACEHOLDERS = re.compile(b"(%s|%s)" % (CSRF_PLACEHOLDER, NONCE_PLACEHOLDER))
# Headers that belong to one response, not to the stored page.
_UNSTORED_HEADERS = {
    "cache-control",
    "content-length",
    "etag",
    "expires",
    "set-cookie",
    "vary",
    "x-page-cache",
}


class PublicPageCacheMiddleware:
    """
    Serve anonymous readers the home, article, listing and feed pages from the cache.

    Only GET and HEAD for the URL names in PAGE_CACHE_URL_NAMES, from readers
    without a session, flash messages or the comment cookies (their pages are
    personal). Stored pages are split around placeholders where the CSRF token and
    CSP nonce were; each response joins them with fresh ones, so forms on a cached
    page work and the token cookie is set as usual. Entries are keyed on the
    generation in articles.cache, so any change readers should see misses every
    old entry. Each process also keeps the pages it served lately
    (PAGE_CACHE_LOCAL_MB), so most hits need no round trip to Redis.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.recent = RecentPages(max_bytes=settings.PAGE_CACHE_LOCAL_MB * 2**20)

    def __call__(self, request):
        if not _is_cacheable_address(request):
            return self.get_response(request)
        if _is_personal(request):
            response = self.get_response(request)
            if not response.has_header("Cache-Control"):
                patch_cache_control(response, private=True, no_cache=True)
            response["X-Page-Cache"] = "BYPASS"
            return response

        generation = public_pages_generation(
            max_age=settings.PAGE_CACHE_GENERATION_SECONDS
        )
        if not generation:  # The cache is unreachable.
            return self.get_response(request)
        key = page_cache_key(request, generation)
        entry = self.recent.get(key)
        if entry is None:
            try:
                entry = cache.get(key)
            except Exception:
                logger.warning(
                    "Page cache unreachable; serving uncached", exc_info=True
                )
                return self.get_response(request)
            if entry is not None:
                self.recent.add(key, entry)
        if entry is not None:
            return _response_from_entry(request, entry)

        response = self.get_response(request)
        if request.method != "GET" or not _is_storable(request, response):
            return response
        try:
            timeout = page_cache_timeout(generation)
            entry = _entry_from_response(request, response, timeout)
            cache.set(key, entry, timeout)
        except Exception:
            logger.warning("Page cache unreachable; not storing", exc_info=True)
            return response
        self.recent.add(key, entry)
        _set_cache_headers(request, response, entry)
        response["X-Page-Cache"] = "MISS"
        return response


def _is_cacheable_address(request) -> bool:
    if settings.PAGE_CACHE_SECONDS <= 0 or request.method not in {"GET", "HEAD"}:
        return False
    path = request.path_info
    resolver = get_resolver(get_urlconf())
    if len(path) > MAX_REMEMBERED_PATH:
        return _view_name(resolver, path) in settings.PAGE_CACHE_URL_NAMES
    return _remembered_view_name(resolver, path) in settings.PAGE_CACHE_URL_NAMES


# Resolving a path walks the URL patterns: 15 us for an article, about a tenth of
# what a cache hit costs in Python. The answer for a path only changes with the
# URLconf, so each process remembers it for the paths it serves most. Long paths
# are resolved every time, so made-up ones cannot fill memory.
MAX_REMEMBERED_PATH = 200


def _view_name(resolver, path: str) -> str | None:
    try:
        return resolver.resolve(path).view_name
    except Resolver404:
        return None


_remembered_view_name = functools.lru_cache(maxsize=4096)(_view_name)


def _is_personal(request) -> bool:
    personal_cookies = {
        settings.SESSION_COOKIE_NAME,
        CookieStorage.cookie_name,
        getattr(settings, "COMMENTS_PENDING_COOKIE", "comments_pending"),
        getattr(settings, "COMMENTS_AUTHOR_COOKIE", "comment_author"),
    }
    return any(name in request.COOKIES for name in personal_cookies)


def _is_storable(request, response) -> bool:
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    cache_control = response.get("Cache-Control", "").lower()
    if any(word in cache_control for word in ("private", "no-store", "no-cache")):
        return False
    vary = {v.strip().lower() for v in response.get("Vary", "").split(",")} - {""}
    if vary - {"cookie", "accept-encoding"}:
        return False
    messages = getattr(request, "_messages", None)
    if messages is not None and messages.added_new:
        return False
    session = getattr(request, "session", None)
    return not (session is not None and session.modified)


def _entry_from_response(request, response, timeout: int) -> dict:
    content = response.content
    secret = request.META.get("CSRF_COOKIE")
    if secret:
        # Every token in the page that unmasks to this reader's secret.
        for token in set(_TOKEN_CANDIDATE.findall(content)):
            if _unmask_cipher_token(token.decode()) == secret:
                content = content.replace(token, CSRF_PLACEHOLDER)
    nonce = getattr(request, "_csp_nonce", None)
    if nonce:  # A LazyNonce is true only once a template has used it.
        content = content.replace(str(nonce).encode(), NONCE_PLACEHOLDER)
    headers = [
        (name, value)
        for name, value in response.items()
        if name.lower() not in _UNSTORED_HEADERS
        and not name.lower().startswith("content-security-policy")
    ]
    return {
        "status": response.status_code,
        "headers": headers,
        # Text, placeholder, text, ..., text: a hit only fills in and joins.
        "parts": _PLACEHOLDERS.split(content),
        "etag": hashlib.md5(content, usedforsecurity=False).hexdigest(),
        "expires_at": timezone.now().timestamp() + timeout,
    }


def _response_from_entry(request, entry: dict) -> HttpResponse:
    parts = list(entry["parts"])
    placeholders = parts[1::2]
    fills = {}
    if CSRF_PLACEHOLDER in placeholders:
        # Also makes the CSRF middleware set (or renew) the reader's token cookie.
        fills[CSRF_PLACEHOLDER] = get_token(request).encode()
    if NONCE_PLACEHOLDER in placeholders:
        # Reading the lazy nonce is what makes the CSP middleware announce it.
        nonce = getattr(request, "_csp_nonce", None)
        fills[NONCE_PLACEHOLDER] = b"" if nonce is None else str(nonce).encode()
    parts[1::2] = [fills[placeholder] for placeholder in placeholders]
    content = b"".join(parts)
    response = HttpResponse(content, status=entry["status"], headers=entry["headers"])
    # CommonMiddleware, which sets it on rendered pages, sits below this one.
    response["Content-Length"] = str(len(content))
    _set_cache_headers(request, response, entry)
    response["X-Page-Cache"] = "HIT"
    return response


def _set_cache_headers(request, response, entry: dict) -> None:
    """An ETag that survives the per-response token, so browsers revalidate with
    a cheap 304. A page that sets the CSRF cookie holds a token for this reader
    alone: browsers may keep it (private), shared caches may not. A page without
    one (a feed) may sit in a CDN briefly."""
    response["ETag"] = f'"{entry["etag"]}"'
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        patch_cache_control(response, private=True, no_cache=True)
        return
    remaining = max(int(entry["expires_at"] - timezone.now().timestamp()), 0)
    patch_cache_control(
        response,
        public=True,
        max_age=min(settings.PAGE_CACHE_MAX_AGE, remaining),
        s_maxage=min(settings.PAGE_CACHE_SHARED_MAX_AGE, remaining),
    )
