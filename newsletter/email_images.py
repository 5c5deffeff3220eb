"""
Article images for emails: JPEG, or PNG where the picture is transparent.

The site's renditions are WebP, which Outlook for Windows does not show. The
first time an issue with an article's image is rendered, a copy about as wide
as the email is made from the stored original and kept beside it, in an
`email/` folder; later issues reuse it. An original gets a new name whenever
the image changes (articles/images.py), so a copy is never out of date.
"""

import io
import logging
import posixpath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from articles.models import Article

logger = logging.getLogger(__name__)

# At least this wide (sharp on most screens); shown at the width of the email's
# content column.
EMAIL_IMAGE_WIDTH = 600
JPEG_QUALITY = 82
# Formats every mail program shows.
SHOWN_EVERYWHERE = {".jpg", ".jpeg", ".png"}


def email_image_url(article: Article) -> str:
    """The address of the article's image as emails show it, relative to the
    storage's base, or "" if it has none (or its file cannot be read)."""
    if not article.image:
        return ""
    original = article.image.name
    extension = posixpath.splitext(original)[1].lower()
    if extension in SHOWN_EVERYWHERE and (
        article.image_width and article.image_width <= EMAIL_IMAGE_WIDTH
    ):
        return default_storage.url(original)
    for name in _copy_names(original).values():
        if default_storage.exists(name):
            return default_storage.url(name)
    try:
        name = _make_copy(original)
    except (OSError, ValueError):
        logger.exception("No email copy of the image of article %s", article.pk)
        return ""
    return default_storage.url(name)


def _copy_names(original: str) -> dict[str, str]:
    folder, filename = posixpath.split(original)
    stem = posixpath.splitext(filename)[0]
    return {
        fmt: posixpath.join(folder, "email", f"{stem}-{EMAIL_IMAGE_WIDTH}.{ext}")
        for fmt, ext in [("JPEG", "jpg"), ("PNG", "png")]
    }


def _make_copy(original: str) -> str:
    with default_storage.open(original) as file:
        image = Image.open(file)
        image.load()
    transparent = image.mode in {"RGBA", "LA", "PA"} or (
        image.mode == "P" and "transparency" in image.info
    )
    image = image.convert("RGBA" if transparent else "RGB")
    if image.width > EMAIL_IMAGE_WIDTH:
        height = max(1, round(image.height * EMAIL_IMAGE_WIDTH / image.width))
        image = image.resize(
            (EMAIL_IMAGE_WIDTH, height), Image.Resampling.LANCZOS, reducing_gap=2.0
        )
    buffer = io.BytesIO()
    fmt = "PNG" if transparent else "JPEG"
    if fmt == "PNG":
        image.save(buffer, "PNG", optimize=True)
    else:
        image.save(
            buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True
        )
    return default_storage.save(
        _copy_names(original)[fmt], ContentFile(buffer.getvalue())
    )
