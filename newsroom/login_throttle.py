"""
Throttling of failed logins, with django-axes (configured by the AXES_* settings).

Axes counts failed logins in the database, so every process shares the counts,
and lists them in the admin. What it lacks is added here: two limits where it
has one, the project's own rule for the client's address, and a lockout page in
the admin's dress.
"""

import ipaddress

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib import admin
from django.db.models import Sum
from django.shortcuts import render

from ratelimit.limits import client_ip


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler with two limits: AXES_FAILURE_LIMIT failures for
    one account from one address (AXES_LOCKOUT_PARAMETERS' first group), and
    LOGIN_IP_FAILURE_LIMIT from one address whatever the accounts (its second),
    against an attacker trying one password on many accounts."""

    def get_failures(self, request, credentials=None) -> int:
        by_account, by_address = (
            attempts.aggregate(failures=Sum("failures_since_start"))["failures"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if by_address >= settings.LOGIN_IP_FAILURE_LIMIT:
            # Counted against AXES_FAILURE_LIMIT: at it, whatever the account.
            return max(by_account, settings.AXES_FAILURE_LIMIT)
        return by_account


def client_ip_address(request) -> str | None:
    """The client's address as the rate limits see it (TRUSTED_PROXY_COUNT),
    or None when it is not an IP address (axes stores it in an IP column)."""
    address = client_ip(request)
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out login gets instead of the login form: HTTP 429."""
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed logins",
        "cooloff_minutes": settings.LOGIN_COOLOFF_MINUTES,
    }
    return render(request, "axes/lockout.html", context, status=429)
