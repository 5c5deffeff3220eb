"""
Article images: check an upload, strip its metadata, make responsive renditions.

Every image goes through `prepare_upload()` before it is stored, whether it came from
the admin, `seed_demo`, an import or `instance.image.save()` in code, because the
model field stores every new file through it (articles/fields.py). The admin form
calls `validate_upload()` first so that a bad file is a field error rather than a
failed save.

Metadata is removed by copying the pixels into a new image, not by deleting tags:
EXIF, GPS, XMP, IPTC, comments and thumbnails cannot survive a copy of the pixels.
That protects sources whose phones wrote where a photo was taken.
"""

import hashlib
import io
import posixpath
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.template.defaultfilters import filesizeformat
from django.utils.text import slugify
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format name -> extension of the stored original. GIFs are stored as PNG
# (first frame): a news photo has no business being animated.
ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "png"}
RENDITION_WIDTHS = (480, 800, 1200)
# WebP cannot hold an image with a side longer than this: a rendition of a tall
# infographic is made narrower than its nominal width so that it fits.
WEBP_MAX_SIDE = 16383
RENDITION_QUALITY = 80

_NOT_AN_IMAGE = (
    "This file is not an image we can read. Upload a JPEG, PNG, WebP or GIF file."
)


@dataclass
class PreparedImage:
    """An upload checked and re-encoded without metadata, ready to store."""

    image: Image.Image
    data: bytes
    extension: str

    @property
    def content(self) -> ContentFile:
        return ContentFile(self.data)

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


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
        raise _damaged() from None

    # verify() leaves the image unusable: open it again to decode the pixels.
    file.seek(0)
    image = Image.open(file)
    try:
        image.load()
    except Exception:
        raise _damaged() from None
    return image


def _damaged() -> ValidationError:
    return ValidationError(
        "The image file is damaged or incomplete. Export it again and upload "
        "the new file.",
        code="damaged",
    )


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
    if upright.mode.startswith("I"):
        # 16-bit grey: converted directly, every value above 255 would be white.
        upright = upright.convert("I").point(lambda value: value * (1 / 256))
        upright = upright.convert("L")
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
    return PreparedImage(image=clean, data=buffer.getvalue(), extension=extension)


def rendition_widths(original_width: int) -> list[int]:
    """The rendition widths for an image: never wider than the original; an image
    narrower than the smallest rendition gets one copy at its own width."""
    widths = [width for width in RENDITION_WIDTHS if width <= original_width]
    return widths or [original_width]


def rendition_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """The size of the rendition of a width x height image at `target_width`, or
    narrower where WebP's limit on the height requires."""
    scale = min(target_width / width, WEBP_MAX_SIDE / height)
    return (
        max(1, min(target_width, round(width * scale))),
        max(1, min(WEBP_MAX_SIDE, round(height * scale))),
    )


def stored_filename(slug: str, prepared: PreparedImage) -> str:
    """The file name an image is stored under: the article's or author's slug and
    a hash of the stored bytes. Never the uploaded name, which may say where or
    by whom a photo was taken; and a new image always gets a new name, so its
    address can be cached for ever."""
    digest = hashlib.sha256(prepared.data).hexdigest()[:16]
    stem = slugify(slug)[:60] or "image"
    return f"{stem}-{digest}.{prepared.extension}"


def encode_renditions(image: Image.Image) -> dict[int, bytes]:
    """WebP copies of `image`, {width: bytes}. All are encoded before any is
    stored, so an image that cannot be encoded leaves no files behind."""
    renditions = {}
    sizes = {
        rendition_size(*image.size, width) for width in rendition_widths(image.width)
    }
    for size in sorted(sizes):
        resized = (
            image
            if size == image.size
            # reducing_gap: a fast box reduction first, Lanczos for the last step.
            else image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        )
        buffer = io.BytesIO()
        # method=3: near the default's size at a little over half its time.
        resized.save(buffer, "WEBP", quality=RENDITION_QUALITY, method=3)
        renditions[size[0]] = buffer.getvalue()
    return renditions


def store_renditions(
    renditions: dict[int, bytes], *, storage: Storage, original_name: str
) -> dict[str, str]:
    """Store encoded renditions beside the original, in an `r/` folder, and return
    {width as a string: storage name}. If one cannot be stored, the ones already
    stored are removed."""
    folder, filename = posixpath.split(original_name)
    stem = posixpath.splitext(filename)[0]
    stored = {}
    try:
        for width, data in renditions.items():
            name = posixpath.join(folder, "r", f"{stem}-{width}.webp")
            stored[str(width)] = storage.save(name, ContentFile(data))
    except Exception:
        delete_files(stored.values(), storage=storage)
        raise
    return stored


def make_renditions(
    image: Image.Image, *, storage: Storage, original_name: str
) -> dict[str, str]:
    """Store WebP copies of `image` beside the original, in an `r/` folder, and
    return {width as a string: storage name}."""
    return store_renditions(
        encode_renditions(image), storage=storage, original_name=original_name
    )


def delete_files(names, *, storage: Storage) -> None:
    """Remove replaced originals and renditions; a file already gone is fine."""
    for name in names:
        storage.delete(name)
