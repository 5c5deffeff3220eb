from django.conf import settings

from publicpages.crossorigin import is_signed_in


def site(request):
    """Site-wide names every template may use."""
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_DESCRIPTION": settings.SITE_DESCRIPTION,
        "SITE_URL": settings.SITE_URL,
        # Called only by a template that asks (the forms: a signed-in user's
        # carry a CSRF token), so other pages never read the session.
        "signed_in": lambda: is_signed_in(request),
    }
