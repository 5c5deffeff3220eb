"""Cache-Control for the public pages: who may keep a copy, and for how long."""

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.utils.cache import patch_cache_control

from publicpages.generation import (
    lifetime_until_next_publication,
    public_pages_generation,
)


class PublicCacheControlMiddleware:
    """
    Say who may keep a copy of a page read with GET or HEAD, unless its view said.

    The rule: a response to a request without any cookie of the reader's own
    (`personal_cookies()`) is the same for every reader, so browsers and shared
    caches (Varnish, nginx, a CDN) may keep it: `public`, PAGE_CACHE_MAX_AGE for
    browsers, PAGE_CACHE_SHARED_MAX_AGE for shared caches, then
    PAGE_CACHE_STALE_WHILE_REVALIDATE more while one request fetches it anew;
    never past the moment the next scheduled article goes live. A response to a
    request with one of those cookies may show what is the reader's own (their
    comment awaiting moderation, their saved name and email), and a response that
    sets a cookie is theirs too: `private, no-store`, never kept by a shared cache.

    There is no Vary: Cookie: a shared cache must pass every request carrying
    one of those cookies to the app (deploy/varnish/newsroom.vcl does).

    The ETag (ConditionalGetMiddleware) is the validator: it is a hash of the
    page, the same from every worker and every server, and a 304 is never stale.
    Last-Modified is dropped: a page cannot know it (a withdrawn article, a
    renamed section, an approved comment, new related articles all change the
    page without moving any one date), and a client asking If-Modified-Since
    alone would get a stale 304.
    """

    # Not 404: an address that is not found today (a draft) may be an article
    # tomorrow.
    shareable_statuses = {200, 301}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in {"GET", "HEAD"} or response.has_header(
            "Cache-Control"
        ):
            return response
        if response.cookies or personal_cookies() & request.COOKIES.keys():
            patch_cache_control(response, private=True, no_store=True)
        elif response.status_code in self.shareable_statuses:
            patch_cache_control(response, public=True, **public_lifetimes())
            response.headers.pop("Last-Modified", None)
        return response


def personal_cookies() -> set[str]:
    """The cookies that make a page the reader's own."""
    return {
        settings.SESSION_COOKIE_NAME,
        CookieStorage.cookie_name,
        settings.COMMENTS_PENDING_COOKIE,
        settings.COMMENTS_AUTHOR_COOKIE,
    }


def public_lifetimes() -> dict[str, int]:
    """max-age, s-maxage and stale-while-revalidate for a public page now."""
    lifetimes = {
        "max_age": settings.PAGE_CACHE_MAX_AGE,
        "s_maxage": settings.PAGE_CACHE_SHARED_MAX_AGE,
        "stale_while_revalidate": settings.PAGE_CACHE_STALE_WHILE_REVALIDATE,
    }
    generation = public_pages_generation(max_age=settings.PAGE_CACHE_GENERATION_SECONDS)
    for name in ("max_age", "s_maxage"):
        lifetimes[name] = lifetime_until_next_publication(lifetimes[name], generation)
    return lifetimes
