"""Figures inside an article's body: photos from the library, processed like the
featured image, placed after the paragraph the editor chose, with alt text,
caption and credit; picked from the library or uploaded to it from the article."""

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from articles.models import Figure, Photo
from tests.factories import (
    jpeg_bytes,
    make_article,
    make_author,
    make_figure,
    make_photo,
    make_staff,
    migrated_back_to,
    no_inline_forms,
)

pytestmark = pytest.mark.django_db

BODY = (
    "<p>First paragraph.</p><h2>A heading</h2>"
    "<ul><li><p>An item</p></li></ul><p>Last.</p>"
)


def exif_with_gps():
    exif = Image.Exif()
    exif[0x010F] = "SourcePhone"
    exif.get_ifd(0x8825).update({1: "N", 2: (40.0, 10.0, 40.0)})
    return exif


def test_a_library_photo_is_stored_without_metadata_with_renditions_and_size():
    from django.core.files.base import ContentFile

    photo = make_photo(
        alt="Marchers on Baghramyan Avenue",
        image=ContentFile(jpeg_bytes(exif=exif_with_gps()), name="IMG_0001.jpg"),
    )

    photo.refresh_from_db()
    assert "marchers-on-baghramyan-avenue" in photo.image.name
    assert "IMG_0001" not in photo.image.name
    assert (photo.width, photo.height) == (1600, 900)
    with default_storage.open(photo.image.name) as stored:
        assert dict(Image.open(stored).getexif()) == {}
    assert set(photo.renditions) == {"480", "800", "1200"}


def test_the_article_page_shows_the_figure_after_the_chosen_paragraph(client):
    article = make_article(body=BODY)
    make_figure(
        article,
        size=(1600, 900),
        alt="Marchers on Baghramyan Avenue",
        caption="The march reached parliament at noon.",
        credit="Photo: Ani Petrosyan",
        after_paragraph=2,
    )

    html = client.get(article.get_absolute_url()).content.decode()
    body = html[html.index('<div class="story-body">') :]

    figure = re.search(
        r'<figure class="story-figure body-figure">.*?</figure>', body, re.S
    )
    assert figure
    assert body.index("A heading</h2>") < figure.start() < body.index("<ul>")
    assert 'alt="Marchers on Baghramyan Avenue"' in figure.group()
    assert 'width="1600" height="900"' in figure.group()
    assert 'type="image/webp" srcset="' in figure.group()
    assert "-480.webp 480w" in figure.group()
    assert 'loading="lazy"' in figure.group()
    assert (
        "\n<figcaption>The march reached parliament at noon. "
        '<span class="credit">Photo: Ani Petrosyan</span></figcaption>'
    ) in figure.group()


@pytest.mark.parametrize(
    ("after_paragraph", "before", "after"),
    [
        (0, None, "First paragraph."),
        (1, "First paragraph.", "A heading"),
        (9, "Last.", None),
    ],
)
def test_figures_go_before_the_body_between_blocks_or_at_its_end(
    client, after_paragraph, before, after
):
    article = make_article(body=BODY)
    make_figure(article, after_paragraph=after_paragraph)

    html = client.get(article.get_absolute_url()).content.decode()
    body = html[html.index('<div class="story-body">') : html.index("</article>")]
    at = body.index("<figure")
    if before:
        assert body.index(before) < at
    if after:
        assert at < body.index(after)


def test_a_figure_can_give_its_own_caption(client):
    photo = make_photo(caption="The library caption.", credit="Photo: Ani")
    article = make_article(body=BODY)
    make_figure(article, photo=photo, caption="This story caption.")
    other = make_article(body=BODY)
    make_figure(other, photo=photo)

    html = client.get(article.get_absolute_url()).content.decode()
    other_html = client.get(other.get_absolute_url()).content.decode()

    assert "This story caption. <span" in html
    assert "The library caption." not in html
    assert "The library caption. <span" in other_html


def test_a_library_photo_needs_alt_text(client):
    editor = make_staff("editor", "Editors")
    client.force_login(editor)

    response = client.post(
        reverse("admin:articles_photo_add"),
        {"image": SimpleUploadedFile("crowd.jpg", jpeg_bytes((600, 340))), "alt": ""},
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Photo.objects.exists()


def article_form(article, **figure_fields):
    """The change form of a draft `article` as a writer posts it, with one new
    figure."""
    return {
        "title": article.title,
        "slug": article.slug,
        "body": article.body,
        "category": article.category_id,
        "comments_enabled": "on",
        **no_inline_forms(),
        "figures-TOTAL_FORMS": "1",
        **{f"figures-0-{name}": value for name, value in figure_fields.items()},
    }


def test_a_writer_places_a_stored_photo_in_their_draft(client):
    writer = make_staff("writer", "Writers")
    photo = make_photo(alt="Marchers", caption="At noon.", credit="Photo: Ani")
    article = make_article(body=BODY, created_by=writer, status="draft")
    client.force_login(writer)

    response = client.post(
        reverse("admin:articles_article_change", args=[article.pk]),
        article_form(article, photo=photo.pk, caption="", after_paragraph="1"),
    )

    assert response.status_code == 302
    figure = article.figures.get()
    assert (figure.photo, figure.shown_caption) == (photo, "At noon.")
    assert Photo.objects.count() == 1


def test_a_writer_finds_stored_photos_by_searching(client):
    writer = make_staff("writer", "Writers")
    make_photo(alt="Marchers on Baghramyan Avenue")
    make_photo(alt="Lake Sevan at dusk", credit="Photo: Ani Petrosyan")
    client.force_login(writer)

    def search(term):
        response = client.get(
            reverse("admin:autocomplete"),
            {
                "term": term,
                "app_label": "articles",
                "model_name": "figure",
                "field_name": "photo",
            },
        )
        assert response.status_code == 200
        return [result["text"] for result in response.json()["results"]]

    assert search("sevan") == ["Lake Sevan at dusk (Photo: Ani Petrosyan)"]
    assert search("petrosyan") == ["Lake Sevan at dusk (Photo: Ani Petrosyan)"]
    assert len(search("")) == 2


def test_a_writer_uploads_to_the_library_but_only_editors_change_it(client):
    writer = make_staff("writer", "Writers")
    editor = make_staff("editor", "Editors")
    client.force_login(writer)

    response = client.post(
        reverse("admin:articles_photo_add"),
        {
            "image": SimpleUploadedFile("IMG_1.jpg", jpeg_bytes((600, 340))),
            "alt": "Marchers",
            "credit": "Photo: Ani",
        },
    )

    assert response.status_code == 302
    photo = Photo.objects.get()
    assert (photo.uploaded_by, photo.credit) == (writer, "Photo: Ani")
    assert photo.renditions
    change = reverse("admin:articles_photo_change", args=[photo.pk])
    delete = reverse("admin:articles_photo_delete", args=[photo.pk])
    assert client.post(change, {"alt": "Changed"}).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    client.force_login(editor)
    assert client.post(change, {"alt": "Marchers with flags"}).status_code == 302
    photo.refresh_from_db()
    assert photo.alt == "Marchers with flags"


def test_a_photo_shown_in_a_story_cannot_be_deleted():
    from django.db.models import ProtectedError

    figure = make_figure(make_article())

    with pytest.raises(ProtectedError):
        figure.photo.delete()


def test_removing_a_figure_keeps_the_photo_in_the_library(
    django_capture_on_commit_callbacks,
):
    article = make_article()
    photo = make_figure(article).photo

    with django_capture_on_commit_callbacks(execute=True):
        article.delete()

    assert Photo.objects.filter(pk=photo.pk).exists()
    assert default_storage.exists(photo.image.name)


def test_deleting_a_library_photo_removes_its_files(
    django_capture_on_commit_callbacks,
):
    photo = make_photo()
    files = [photo.image.name, *photo.renditions.values()]

    with django_capture_on_commit_callbacks(execute=True):
        photo.delete()

    assert not any(default_storage.exists(name) for name in files)


def test_replacing_a_library_photo_removes_the_old_files(
    django_capture_on_commit_callbacks,
):
    from django.core.files.base import ContentFile

    photo = make_photo()
    old_files = [photo.image.name, *photo.renditions.values()]

    with django_capture_on_commit_callbacks(execute=True):
        photo.image = ContentFile(jpeg_bytes(size=(900, 600)), name="new.jpg")
        photo.save()

    assert not any(default_storage.exists(name) for name in old_files)
    assert default_storage.exists(photo.image.name)


def test_a_page_with_three_bylines_and_three_figures_stays_within_budget(
    client, django_assert_max_num_queries
):
    article = make_article(
        body=BODY, authors=[make_author() for _ in range(3)], tags=["a", "b"]
    )
    for n in range(3):
        make_figure(article, after_paragraph=n)

    with django_assert_max_num_queries(10):
        response = client.get(article.get_absolute_url())

    assert response.content.decode().count('class="story-figure body-figure"') == 3


def test_a_figure_added_later_reaches_the_cached_page(client):
    article = make_article(body=BODY)
    assert "<figure" not in client.get(article.get_absolute_url()).content.decode()

    make_figure(article, alt="Added after the page was cached")

    html = client.get(article.get_absolute_url()).content.decode()
    assert 'alt="Added after the page was cached"' in html


def test_figures_after_the_same_paragraph_keep_the_order_they_were_added(client):
    article = make_article(body=BODY, dateline="YEREVAN")
    make_figure(article, alt="First added", after_paragraph=1)
    make_figure(article, alt="Second added", after_paragraph=1)

    html = client.get(article.get_absolute_url()).content.decode()

    assert html.index('<span class="dateline">YEREVAN —</span>') < html.index(
        'alt="First added"'
    )
    assert html.index('alt="First added"') < html.index('alt="Second added"')
    assert html.index('alt="Second added"') < html.index("A heading</h2>")


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_each_figure_into_the_library():
    with migrated_back_to("articles", "0013_article_figures") as old_apps:
        category = old_apps.get_model("articles", "Category").objects.create(
            name="News", slug="news"
        )
        article = old_apps.get_model("articles", "Article").objects.create(
            title="Rally", slug="rally", category=category
        )
        old_apps.get_model("articles", "Figure").objects.create(
            article=article,
            image="figures/2026/12/rally-0123456789abcdef.jpg",
            alt="Marchers",
            caption="At noon.",
            credit="Photo: Ani",
            after_paragraph=2,
            width=1600,
            height=900,
            renditions={"480": "figures/2026/12/r/rally-0123456789abcdef-480.webp"},
        )

    figure = Figure.objects.select_related("photo").get()
    photo = figure.photo
    assert photo.image.name == "figures/2026/12/rally-0123456789abcdef.jpg"
    assert (photo.alt, photo.caption, photo.credit) == (
        "Marchers",
        "At noon.",
        "Photo: Ani",
    )
    assert (photo.width, photo.height) == (1600, 900)
    assert photo.renditions == {
        "480": "figures/2026/12/r/rally-0123456789abcdef-480.webp"
    }
    assert (figure.after_paragraph, figure.shown_caption) == (2, "At noon.")
