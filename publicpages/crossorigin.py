"""
Protection of the public forms (comment, newsletter sign-up, preferences,
unsubscribe) against cross-site posting, without a per-reader token.

A token in the form would make every page that shows one (the sign-up box is on
every page) different for every reader, and set a cookie: no shared cache could
keep it. Instead, as Go's net/http CrossOriginProtection does, the browser says
where a request comes from: `Sec-Fetch-Site` (every current browser), else
`Origin`. A request from another site is refused; one from this site, or one that
carries neither header (not a browser: curl, a mail provider's one-click
unsubscribe), is let through.

A signed-in user's requests also pass Django's token check, as everywhere else on
the site: their pages are private, so the forms on them carry the token.
"""

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect


def is_cross_origin(request) -> bool:
    """Whether a browser sent this request from a page of another site."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        # "none" is the reader's own doing: a bookmark, the address bar.
        return fetch_site not in {"same-origin", "none"}
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return False
    return urlsplit(origin).netloc != request.get_host()


def is_signed_in(request) -> bool:
    """A user is signed in. Only then is the session read: reading it for a
    reader without one would make every public page vary on the Cookie header."""
    return (
        settings.SESSION_COOKIE_NAME in request.COOKIES
        and request.user.is_authenticated
    )


def public_form(view):
    """Accept a POST to `view` from this site only, without a CSRF token from
    readers (the page with the form is the same for everyone) and with one from
    signed-in users."""
    protected_view = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method not in {"GET", "HEAD", "OPTIONS"}:
            if is_cross_origin(request):
                return render(request, "403_cross_origin.html", status=403)
            if is_signed_in(request):
                return protected_view(request, *args, **kwargs)
        return view(request, *args, **kwargs)

    return wrapper
