"""The site's addresses as written outside its pages: feeds, emails, social tags."""

from django.conf import settings


def absolute_url(url: str) -> str:
    """A path of this site with SITE_URL before it; a full URL as it is."""
    if url.startswith(("http://", "https://")):
        return url
    return settings.SITE_URL + url
