"""
Uploaded images, served by the app itself when media live on the local disk.

Why a view: WhiteNoise serves only the files present when the process starts,
and images are uploaded later. `django.views.static.serve` reads any file under
MEDIA_ROOT and nothing outside it, answers If-Modified-Since with 304, and hands
the file to gunicorn's sendfile. It is enough for one machine behind a cache;
with several app servers, media live in object storage and are served from
there (docs/deployment.md), and this view is not used.

Every response may be cached for a year and never revalidated, because a stored
file never changes under its name: names carry a hash of the content
(articles.images.stored_filename), so a new image is a new address.
"""

from django.conf import settings
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe
from django.views.static import serve

ONE_YEAR = 365 * 24 * 60 * 60


@require_safe
def media_file(request, path):
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    patch_cache_control(response, public=True, max_age=ONE_YEAR, immutable=True)
    return response
