"""manage.py reprocess_images: images stored by older versions, with their GPS
tags and uploaded names, are stripped and renamed; the old files go."""

import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from articles.models import Article, Author
from tests.factories import make_article, make_author

GPS_IFD = 0x8825

pytestmark = pytest.mark.django_db


def photo_with_gps(size=(900, 600)):
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (40.0, 10.0, 40.0)})
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def stored_as_it_came(obj, field, name):
    """What older versions left: the upload stored untouched, under its own name."""
    stored = default_storage.save(name, ContentFile(photo_with_gps()))
    type(obj).objects.filter(pk=obj.pk).update(**{field: stored})
    return stored


def has_gps(name):
    with default_storage.open(name) as stored:
        return bool(Image.open(stored).getexif().get_ifd(GPS_IFD))


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("reprocess_images", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def old_images(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    author = make_author(slug="ani-petrosyan")
    article = make_article(slug="harbour-works", image_alt="Cranes")
    old_photo = stored_as_it_came(author, "photo", "authors/IMG_2041 GPS home.jpg")
    old_image = stored_as_it_came(article, "image", "articles/IMG_2042 GPS home.jpg")
    return author, article, [old_photo, old_image]


def test_old_images_are_stripped_renamed_and_their_old_files_removed(
    old_images, django_capture_on_commit_callbacks
):
    author, article, old_files = old_images

    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run()

    assert "2 images processed." in out
    author.refresh_from_db()
    article.refresh_from_db()
    assert author.photo.name.startswith("authors/ani-petrosyan-")
    assert "/harbour-works-" in article.image.name
    assert not has_gps(author.photo.name) and not has_gps(article.image.name)
    assert article.image_width == 900 and set(article.image_renditions) == {
        "480",
        "800",
    }
    assert not any(default_storage.exists(name) for name in old_files)


def test_a_second_run_changes_nothing(old_images, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run()
    names = list(Article.objects.values_list("image", flat=True)) + list(
        Author.objects.values_list("photo", flat=True)
    )

    out, _ = run()

    assert "0 images processed." in out
    assert names == list(Article.objects.values_list("image", flat=True)) + list(
        Author.objects.values_list("photo", flat=True)
    )


def test_dry_run_counts_and_changes_nothing(old_images):
    author, article, old_files = old_images

    out, _ = run("--dry-run")

    assert "2 images would be processed." in out
    author.refresh_from_db()
    assert author.photo.name == old_files[0]
    assert has_gps(old_files[0])


def test_a_missing_file_is_reported_and_the_rest_processed(old_images, settings):
    author, article, old_files = old_images
    Path(settings.MEDIA_ROOT, old_files[1]).unlink()

    out, err = run()

    assert "1 image processed, 1 could not be read" in out
    assert f"article {article.pk}:" in err
