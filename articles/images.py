"""
Article images: check an upload, strip its metadata, make responsive renditions.

Every image goes through `prepare_upload()` before it is stored, whether it came from
the admin, `seed_demo` or an import, because `Article.save()` calls it for any new
file. The admin form calls `validate_upload()` first so that a bad file is a field
error rather than a failed save.

Metadata is removed by copying the pixels into a new image, not by deleting tags:
EXIF, GPS, XMP, IPTC, comments and thumbnails cannot survive a copy of the pixels.
That protects sources whose phones wrote where a photo was taken.
"""

import io
import posixpath
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format name -> extension of the stored original. GIFs are stored as PNG
# (first frame): a news photo has no business being animated.
ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "png"}
RENDITION_WIDTHS = (480, 800, 1200)
RENDITION_QUALITY = 80

_NOT_AN_IMAGE = (
    "This file is not an image we can read. Upload a JPEG, PNG, WebP or GIF file."
)


@dataclass
class PreparedImage:
    """An upload checked and re-encoded without metadata, ready to store."""

    image: Image.Image
    content: ContentFile
    extension: str

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def filename_for(self, original_name: str) -> str:
        stem = posixpath.splitext(posixpath.basename(original_name or "image"))[0]
        return f"{stem or 'image'}.{self.extension}"


def _open(file) -> Image.Image:
    """Open an upload after checking its size, type and pixel count; raise a
    ValidationError that says what is wrong."""
    size = getattr(file, "size", None)
    if size is not None and size > settings.MAX_UPLOAD_SIZE:
        raise ValidationError(
            f"The file is {filesizeformat(size)}; images may be at most "
            f"{filesizeformat(settings.MAX_UPLOAD_SIZE)}.",
            code="file_too_large",
        )
    if size == 0:
        raise ValidationError("The file is empty.", code="empty")

    limit = settings.MAX_IMAGE_PIXELS
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(None, limit) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(_NOT_AN_IMAGE, code="not_an_image") from None

    if image.format not in ACCEPTED_FORMATS:
        raise ValidationError(
            f"{image.format} images are not accepted. Upload a JPEG, PNG, WebP or "
            "GIF file.",
            code="unsupported_format",
        )
    # The size comes from the header: checked before a single pixel is decoded.
    if image.width * image.height > limit:
        raise _too_many_pixels(image, limit)

    try:
        image.verify()
    except Exception:
        raise ValidationError(
            "The image file is damaged or incomplete. Export it again and upload "
            "the new file.",
            code="damaged",
        ) from None

    # verify() leaves the image unusable: open it again to decode the pixels.
    file.seek(0)
    image = Image.open(file)
    try:
        image.load()
    except Exception:
        raise ValidationError(
            "The image file is damaged or incomplete. Export it again and upload "
            "the new file.",
            code="damaged",
        ) from None
    return image


def _too_many_pixels(image, limit) -> ValidationError:
    megapixels = limit / 1_000_000
    if image is None:
        detail = "far more pixels than allowed"
    else:
        detail = f"{image.width}×{image.height} pixels"
    return ValidationError(
        f"The image is {detail}; the limit is {megapixels:g} megapixels. Images this "
        "large can exhaust the server's memory. Resize it and upload it again.",
        code="too_many_pixels",
    )


def validate_upload(file) -> None:
    """Raise a ValidationError with a clear message unless `file` is an acceptable
    image: JPEG, PNG, WebP or GIF, within the size and pixel limits, not damaged."""
    _open(file)
    file.seek(0)


def prepare_upload(file) -> PreparedImage:
    """Validate an upload and re-encode its pixels with no metadata at all."""
    source = _open(file)
    file.seek(0)
    fmt = source.format
    # Turn the picture upright before its orientation tag is thrown away.
    upright = ImageOps.exif_transpose(source)
    has_alpha = upright.mode in {"RGBA", "LA", "PA"} or (
        upright.mode == "P" and "transparency" in upright.info
    )
    mode = "RGBA" if has_alpha and fmt != "JPEG" else "RGB"
    converted = upright.convert(mode)
    # A new image from the raw pixels: nothing but pixels can come along.
    clean = Image.frombytes(mode, converted.size, converted.tobytes())

    buffer = io.BytesIO()
    extension = ACCEPTED_FORMATS[fmt]
    if extension == "jpg":
        clean.save(buffer, "JPEG", quality=88, optimize=True, progressive=True)
    elif extension == "webp":
        clean.save(buffer, "WEBP", quality=88, method=4)
    else:
        clean.save(buffer, "PNG", optimize=True)
    return PreparedImage(
        image=clean, content=ContentFile(buffer.getvalue()), extension=extension
    )


def rendition_widths(original_width: int) -> list[int]:
    """The rendition widths for an image: never wider than the original; an image
    narrower than the smallest rendition gets one copy at its own width."""
    widths = [width for width in RENDITION_WIDTHS if width <= original_width]
    return widths or [original_width]


def make_renditions(
    image: Image.Image, *, storage: Storage, original_name: str
) -> dict[str, str]:
    """Store WebP copies of `image` beside the original, in an `r/` folder, and
    return {width as a string: storage name}."""
    folder, filename = posixpath.split(original_name)
    stem = posixpath.splitext(filename)[0]
    renditions = {}
    for width in rendition_widths(image.width):
        height = max(1, round(image.height * width / image.width))
        resized = (
            image
            if width == image.width
            # reducing_gap: a fast box reduction first, Lanczos for the last step.
            else image.resize(
                (width, height), Image.Resampling.LANCZOS, reducing_gap=2.0
            )
        )
        buffer = io.BytesIO()
        # method=3: near the default's size at a little over half its time.
        resized.save(buffer, "WEBP", quality=RENDITION_QUALITY, method=3)
        name = posixpath.join(folder, "r", f"{stem}-{width}.webp")
        renditions[str(width)] = storage.save(name, ContentFile(buffer.getvalue()))
    return renditions


def delete_files(names, *, storage: Storage) -> None:
    """Remove replaced originals and renditions; a file already gone is fine."""
    for name in names:
        storage.delete(name)
