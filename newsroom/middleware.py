"""
Project-wide middleware: the Permissions-Policy header and the page readers get
when the database is down.
"""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template.loader import get_template
from django.utils.cache import patch_cache_control

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
