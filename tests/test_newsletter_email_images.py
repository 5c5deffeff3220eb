"""Images in newsletter emails are JPEG or PNG, never WebP: Outlook for Windows
shows no WebP."""

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from newsletter.email_images import EMAIL_IMAGE_WIDTH
from newsletter.sending import render_issue
from tests.factories import make_article, make_issue, make_newsletter

pytestmark = pytest.mark.django_db


def image_file(fmt, size, mode="RGB", name="photo"):
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 30, 128) if mode == "RGBA" else "red").save(
        buffer, fmt
    )
    return ContentFile(buffer.getvalue(), name=f"{name}.{fmt.lower()}")


def image_in_email(article):
    html, text = render_issue(make_issue(make_newsletter(), articles=[article]))
    assert ".webp" not in html and ".webp" not in text
    [src] = re.findall(r'<img[^>]* src="([^"]+)"', html)
    name = src.split("/media/", 1)[1]
    with default_storage.open(name) as stored:
        image = Image.open(stored)
        image.load()
    return name, image


def test_a_webp_photo_goes_out_as_a_jpeg_as_wide_as_the_email():
    article = make_article(image=image_file("WEBP", (1600, 900)), image_alt="A")
    assert article.image.name.endswith(".webp")

    name, image = image_in_email(article)

    assert image.format == "JPEG"
    assert image.size == (EMAIL_IMAGE_WIDTH, 338)
    assert "/email/" in name


def test_a_transparent_image_goes_out_as_a_png():
    article = make_article(
        image=image_file("WEBP", (800, 800), mode="RGBA"), image_alt="A logo"
    )

    name, image = image_in_email(article)

    assert image.format == "PNG"
    assert image.mode == "RGBA"


def test_a_small_jpeg_goes_out_as_it_is():
    article = make_article(image=image_file("JPEG", (400, 300)), image_alt="A")

    name, image = image_in_email(article)

    assert name == article.image.name
    assert image.format == "JPEG"


def test_the_email_copy_is_made_once():
    article = make_article(image=image_file("JPEG", (1200, 800)), image_alt="A")

    first, _ = image_in_email(article)
    second, _ = image_in_email(article)

    assert first == second
    assert first != article.image.name
