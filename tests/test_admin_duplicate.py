"""Duplicating a story as a new draft, from the admin and in code."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from articles.models import Article, Photo
from articles.workflow import duplicate_as_draft
from tests.factories import (
    make_article,
    make_author,
    make_figure,
    make_photo,
    make_staff,
)

pytestmark = pytest.mark.django_db


def duplicate_url(article):
    return reverse("admin:articles_article_duplicate", args=[article.pk])


def png_upload(name="photo.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), "teal").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def editor():
    return make_staff("editor", "Editors")


def test_the_copy_idiom_works_on_an_article_from_the_default_manager():
    original = make_article(title="Floods in the valley", slug="floods")
    article = Article.objects.get(pk=original.pk)

    article.pk = None
    article.slug = "floods-again"
    article.save()

    assert Article.objects.count() == 2


def test_a_duplicate_is_a_new_draft_with_the_words_and_filing(editor):
    author = make_author(name="Ani")
    original = make_article(
        title="Floods in the valley",
        slug="floods",
        standfirst="The river rose overnight.",
        body="<p>Water everywhere.</p>",
        is_featured=True,
        tags=["weather", "rivers"],
        authors=[author],
    )

    copy = duplicate_as_draft(original, user=editor)

    assert copy.pk != original.pk
    assert copy.title == "Copy of Floods in the valley"
    assert copy.slug == "copy-of-floods"
    assert copy.status == Article.Status.DRAFT
    assert copy.published_at is None
    assert not copy.is_featured
    assert copy.created_by == editor
    assert copy.standfirst == "The river rose overnight."
    assert copy.body == "<p>Water everywhere.</p>"
    assert copy.category == original.category
    assert list(copy.authors.all()) == [author]
    assert sorted(copy.tags.names()) == ["rivers", "weather"]
    assert not Article.objects.published().filter(pk=copy.pk).exists()


def test_a_duplicate_shows_the_same_photos_with_the_same_captions_and_places(
    client, editor
):
    original = make_article(slug="floods", body="<p>One.</p><p>Two.</p>")
    square = make_photo(alt="The flooded square", caption="Library caption.")
    bridge = make_photo(alt="The broken bridge")
    # Two after the same paragraph: the copy keeps their order too.
    make_figure(original, photo=bridge, after_paragraph=2)
    make_figure(original, photo=square, caption="At dawn.", after_paragraph=1)
    make_figure(original, photo=bridge, caption="By noon.", after_paragraph=1)
    before = list(original.figures.values_list("pk", "article", "photo", "caption"))
    client.force_login(editor)

    client.post(duplicate_url(original))

    copy = Article.objects.get(slug="copy-of-floods")
    shown = [(f.photo, f.shown_caption, f.after_paragraph) for f in copy.figures.all()]
    assert shown == [
        (square, "At dawn.", 1),
        (bridge, "By noon.", 1),
        (bridge, "", 2),
    ]
    assert (
        list(original.figures.values_list("pk", "article", "photo", "caption"))
        == before
    )
    assert Photo.objects.count() == 2


def test_each_duplicate_gets_its_own_slug(editor):
    original = make_article(slug="floods")

    first = duplicate_as_draft(original, user=editor)
    second = duplicate_as_draft(original, user=editor)

    assert {first.slug, second.slug} == {"copy-of-floods", "copy-of-floods-2"}


def test_deleting_a_duplicate_keeps_the_original_image_files(
    editor, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    original = make_article(
        slug="floods", image=png_upload(), image_alt="The flooded square"
    )
    original.refresh_from_db()
    files = [original.image.name, *original.image_renditions.values()]
    copy = duplicate_as_draft(original, user=editor)
    assert copy.image.name == original.image.name

    with django_capture_on_commit_callbacks(execute=True):
        copy.delete()

    storage = original.image.storage
    assert all(storage.exists(name) for name in files)


def test_deleting_the_last_article_with_the_image_removes_its_files(
    editor, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    original = make_article(
        slug="floods", image=png_upload(), image_alt="The flooded square"
    )
    original.refresh_from_db()
    files = [original.image.name, *original.image_renditions.values()]
    copy = duplicate_as_draft(original, user=editor)

    with django_capture_on_commit_callbacks(execute=True):
        copy.delete()
        Article.objects.get(pk=original.pk).delete()

    storage = original.image.storage
    assert not any(storage.exists(name) for name in files)


def test_an_editor_duplicates_from_the_change_form(client, editor):
    original = make_article(title="Floods in the valley", slug="floods")
    client.force_login(editor)

    response = client.post(duplicate_url(original))

    copy = Article.objects.get(slug="copy-of-floods")
    assert response.status_code == 302
    assert response.url == reverse("admin:articles_article_change", args=[copy.pk])


def test_the_change_form_offers_the_duplicate_button(client, editor):
    original = make_article(slug="floods")
    client.force_login(editor)

    response = client.get(reverse("admin:articles_article_change", args=[original.pk]))

    assert duplicate_url(original) in response.content.decode()


def test_a_writer_cannot_duplicate_another_writers_draft(client):
    other = make_staff("other", "Writers")
    theirs = make_article(
        status=Article.Status.DRAFT, published_at=None, created_by=other
    )
    writer = make_staff("writer2", "Writers")
    client.force_login(writer)

    response = client.post(duplicate_url(theirs))

    assert response.status_code == 403
    assert Article.objects.count() == 1


def test_duplicating_needs_a_post(client, editor):
    original = make_article(slug="floods")
    client.force_login(editor)

    response = client.get(duplicate_url(original))

    assert response.status_code == 405


def test_the_duplicate_action_copies_every_selected_article(client, editor):
    first = make_article(slug="first")
    second = make_article(slug="second")
    client.force_login(editor)

    response = client.post(
        reverse("admin:articles_article_changelist"),
        {"action": "duplicate", "_selected_action": [first.pk, second.pk]},
    )

    assert response.status_code == 302
    assert set(Article.objects.drafts().values_list("slug", flat=True)) == {
        "copy-of-first",
        "copy-of-second",
    }
