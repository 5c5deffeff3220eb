"""Figures inside an article's body: processed like the featured image, placed
after the paragraph the editor chose, with alt text, caption and credit."""

import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from articles.models import Figure
from tests.factories import (
    jpeg_bytes,
    make_article,
    make_author,
    make_figure,
    make_staff,
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


def test_a_figure_is_stored_without_metadata_with_renditions_and_size():
    from django.core.files.base import ContentFile

    article = make_article(slug="square-rally")
    figure = make_figure(
        article,
        image=ContentFile(jpeg_bytes(exif=exif_with_gps()), name="IMG_0001.jpg"),
    )

    figure.refresh_from_db()
    assert "square-rally" in figure.image.name
    assert "IMG_0001" not in figure.image.name
    assert (figure.width, figure.height) == (1600, 900)
    with default_storage.open(figure.image.name) as stored:
        assert dict(Image.open(stored).getexif()) == {}
    assert set(figure.renditions) == {"480", "800", "1200"}


def test_the_article_page_shows_the_figure_after_the_chosen_paragraph(client):
    article = make_article(body=BODY)
    make_figure(
        article,
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


def test_a_figure_needs_alt_text(client):
    editor = make_staff("editor", "Editors")
    article = make_article(title="Rally", slug="rally", body=BODY)
    client.force_login(editor)

    response = client.post(
        reverse("admin:articles_article_change", args=[article.pk]),
        {
            "title": "Rally",
            "slug": "rally",
            "body": BODY,
            "category": article.category_id,
            "status": "published",
            "published_at_0": "2026-01-01",
            "published_at_1": "10:00:00",
            "comments_enabled": "on",
            **no_inline_forms(),
            "figures-TOTAL_FORMS": "1",
            "figures-0-image": SimpleUploadedFile("crowd.jpg", jpeg_bytes()),
            "figures-0-alt": "",
            "figures-0-after_paragraph": "1",
        },
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Figure.objects.exists()


def test_a_writer_adds_a_figure_to_their_draft_in_the_admin(client):
    writer = make_staff("writer", "Writers")
    article = make_article(
        title="Rally", slug="rally", body=BODY, created_by=writer, status="draft"
    )
    client.force_login(writer)

    response = client.post(
        reverse("admin:articles_article_change", args=[article.pk]),
        {
            "title": "Rally",
            "slug": "rally",
            "body": BODY,
            "category": article.category_id,
            "comments_enabled": "on",
            **no_inline_forms(),
            "figures-TOTAL_FORMS": "1",
            "figures-0-image": SimpleUploadedFile("IMG_1.jpg", jpeg_bytes()),
            "figures-0-alt": "Marchers",
            "figures-0-caption": "At noon.",
            "figures-0-credit": "Photo: Ani",
            "figures-0-after_paragraph": "1",
        },
    )

    assert response.status_code == 302
    figure = article.figures.get()
    assert (figure.alt, figure.caption, figure.credit) == (
        "Marchers",
        "At noon.",
        "Photo: Ani",
    )
    assert figure.renditions


def test_deleting_a_figure_removes_its_files(django_capture_on_commit_callbacks):
    figure = make_figure(make_article())
    files = [figure.image.name, *figure.renditions.values()]

    with django_capture_on_commit_callbacks(execute=True):
        figure.delete()

    assert not any(default_storage.exists(name) for name in files)


def test_deleting_an_article_removes_its_figures_files(
    django_capture_on_commit_callbacks,
):
    article = make_article()
    figure = make_figure(article)
    files = [figure.image.name, *figure.renditions.values()]

    with django_capture_on_commit_callbacks(execute=True):
        article.delete()

    assert not any(default_storage.exists(name) for name in files)


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
