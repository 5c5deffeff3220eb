"""
Purging the shared HTTP cache in front of the site (Varnish, nginx, a CDN).

Such a cache stores public pages for their s-maxage. When anything readers see
changes, publicpages.generation.invalidate_public_pages() calls purge_frontend_caches(),
which, once the transaction commits, sends an HTTP BAN to each URL in
FRONTEND_CACHE_URLS (none by default: no shared cache). The shipped Varnish
configuration, deploy/varnish/newsroom.vcl, answers it by dropping every stored
page: like the app's own cache generation, a purge is site-wide.

A purge that fails is logged, never raised: the change is in the database, and the
cache still drops the old pages at their s-maxage.
"""

import logging
import urllib.request

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# Seconds to wait for each cache to answer; a cache that does not answer in time
# delays the save that purges it by this much.
TIMEOUT = 2


def purge_frontend_caches() -> None:
    """Empty every shared cache of its pages once the current transaction commits
    (at once outside one): before that, a cache would fetch the old rows again."""
    if settings.FRONTEND_CACHE_URLS:
        transaction.on_commit(ban_all_pages)


def ban_all_pages() -> None:
    for url in settings.FRONTEND_CACHE_URLS:
        request = urllib.request.Request(url, method="BAN")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT):
                pass
        except OSError as error:
            logger.error("Shared cache %s not purged: %s", url, error)
