"""
Hostile uploads: files that are not images, decompression bombs, oversized and
damaged files. Each is refused with a message that says what is wrong, before any
pixel is decoded where that matters, and nothing is left in the media storage.
"""

import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from articles.images import validate_upload
from articles.models import Article
from tests.factories import make_category


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header claims width x height pixels:
    1-bit grey, rows of zeros, which zlib squeezes to almost nothing."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 4096, 9)  # the start of the pixel data only
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def real_png(width=40, height=40) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def noisy_png() -> bytes:
    """A PNG that does not compress: cutting it leaves the pixel data unfinished."""
    buffer = io.BytesIO()
    pixels = random.Random(7).randbytes(64 * 64 * 3)
    Image.frombytes("RGB", (64, 64), pixels).save(buffer, "PNG")
    return buffer.getvalue()


HOSTILE = {
    "pdf-named-jpg": ("photo.jpg", b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
    "html-named-png": ("photo.png", b"<html><script>alert(1)</script></html>"),
    "svg-with-script": (
        "logo.png",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b"<script>alert(2)</script></svg>",
    ),
    "zip": ("photo.jpg", b"PK\x03\x04" + b"\x00" * 200),
    "empty": ("photo.jpg", b""),
    "jpeg-header-only": ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
    "png-bomb-50k-square": ("bomb.png", png_bomb(50_000, 50_000)),
    "png-bomb-wide": ("bomb.png", png_bomb(2_000_000_000, 1)),
    "truncated-png": ("cut.png", noisy_png()[:3000]),
    "bmp": ("photo.bmp", b"BM" + b"\x00" * 60),
}


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_file_is_refused_with_a_clear_message(case):
    name, content = HOSTILE[case]
    with pytest.raises(ValidationError) as refused:
        validate_upload(_upload(name, content))
    message = " ".join(refused.value.messages)
    # Says what is wrong and what to do, in words, not an exception's repr.
    assert len(message) > 10
    assert any(
        word in message
        for word in ("JPEG", "empty", "damaged", "megapixels", "at most")
    ), message
    assert "Traceback" not in message and "Error" not in message


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(settings):
    settings.MAX_IMAGE_PIXELS = 1000
    with pytest.raises(ValidationError) as refused:
        validate_upload(_upload("big.png", real_png(40, 40)))
    assert "40×40 pixels" in refused.value.messages[0]


def test_an_oversized_file_is_refused_by_its_size(settings):
    content = real_png(200, 200)
    settings.MAX_UPLOAD_SIZE = len(content) - 1
    with pytest.raises(ValidationError) as refused:
        validate_upload(_upload("photo.png", content))
    assert "may be at most" in refused.value.messages[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case", ["pdf-named-jpg", "svg-with-script", "png-bomb-50k-square"]
)
def test_saving_an_article_with_a_hostile_image_stores_nothing(
    case, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    name, content = HOSTILE[case]
    article = Article(
        title="Harbour works",
        slug=f"harbour-works-{case}",
        category=make_category(),
        image=_upload(name, content),
        image_alt="Cranes over the harbour",
    )
    with pytest.raises(ValidationError):
        article.save()
    assert not Article.objects.filter(slug=article.slug).exists()
    assert [p for p in Path(tmp_path).rglob("*") if p.is_file()] == []


@pytest.mark.django_db
def test_a_good_image_still_goes_through(settings, tmp_path):
    # Guards the tests above: the same path accepts an ordinary picture.
    settings.MEDIA_ROOT = str(tmp_path)
    article = Article(
        title="Harbour works",
        slug="harbour-works-ok",
        category=make_category(),
        image=_upload("harbour.png", real_png(1300, 800)),
        image_alt="Cranes over the harbour",
    )
    article.save()
    assert article.image_width == 1300
    assert article.image_renditions
