"""Corrections and updates in public: an editor appends a dated note to a
published story; readers see it on the article, on the corrections page and in
its feed, and structured data carries it."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, Correction
from publicpages.generation import public_pages_generation
from tests.factories import (
    byline_form_data,
    make_article,
    make_staff,
    no_inline_forms,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor():
    return make_staff("editor", "Editors")


@pytest.fixture
def article():
    return make_article(
        title="Dam holds after the storm",
        slug="dam-holds",
        body="<p>The dam held, engineers said.</p>",
        published_at=timezone.now() - timedelta(days=1),
    )


def change_url(article):
    return reverse("admin:articles_article_change", args=[article.pk])


def change_form(article, **overrides):
    data = {
        "title": article.title,
        "slug": article.slug,
        "standfirst": article.standfirst,
        "dateline": "",
        "body": article.body,
        "excerpt": "",
        "image_alt": "",
        "image_caption": "",
        "image_credit": "",
        "category": article.category_id,
        "tags": "",
        "comments_enabled": "on",
        "status": article.status,
        "published_at_0": timezone.localtime(article.published_at).strftime("%Y-%m-%d"),
        "published_at_1": timezone.localtime(article.published_at).strftime("%H:%M:%S"),
        **no_inline_forms(),
        **byline_form_data(),
    }
    data.update(overrides)
    return data


def with_new_note(data, article, *, kind, note):
    return {
        **data,
        "corrections-TOTAL_FORMS": "1",
        "corrections-0-id": "",
        "corrections-0-article": article.pk,
        "corrections-0-kind": kind,
        "corrections-0-note": note,
    }


def json_ld(html):
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_an_editor_appends_a_correction_readers_see_with_its_date(
    client, editor, article
):
    client.force_login(editor)

    response = client.post(
        change_url(article),
        with_new_note(
            change_form(article),
            article,
            kind="correction",
            note="An earlier version gave the dam's height as 80 m. It is 60 m.",
        ),
    )

    assert response.status_code == 302
    correction = Correction.objects.get()
    assert correction.created_by == editor
    article.refresh_from_db()
    assert article.modified_at == correction.created_at
    client.logout()
    html = client.get(article.get_absolute_url()).content.decode()
    assert f'id="correction-{correction.pk}"' in html
    assert "Correction, <time datetime=" in html
    assert "It is 60 m." in html
    assert "<span>Updated <time" in html
    data = json_ld(html)
    assert data["dateModified"] == correction.created_at.isoformat()
    assert data["correction"] == [
        {
            "@type": "CorrectionComment",
            "text": correction.note,
            "datePublished": correction.created_at.isoformat(),
            "url": "http://127.0.0.1:8000" + correction.get_absolute_url(),
        }
    ]


def test_an_update_is_shown_but_is_not_a_correction_in_structured_data(client, article):
    Correction.objects.create(
        article=article, kind="update", note="The river has since fallen."
    )

    html = client.get(article.get_absolute_url()).content.decode()

    assert "Update, <time" in html
    assert "correction" not in json_ld(html)


def test_writers_are_not_offered_corrections_and_cannot_post_one(client, article):
    writer = make_staff("writer", "Writers")
    article.created_by = writer
    article.status = Article.Status.DRAFT
    article.save()
    client.force_login(writer)

    page = client.get(change_url(article)).content.decode()
    client.post(
        change_url(article),
        with_new_note(
            change_form(article, status="draft"), article, kind="update", note="Hi"
        ),
    )

    assert "corrections-TOTAL_FORMS" not in page
    assert not Correction.objects.exists()


def test_a_minor_edit_does_not_move_the_updated_time(client, editor, article):
    client.force_login(editor)

    client.post(
        change_url(article),
        change_form(
            article, body="<p>The dam held, engineers said.</p>", minor_edit="on"
        )
        | {"title": "Dam holds after storm"},
    )

    article.refresh_from_db()
    assert article.title == "Dam holds after storm"
    assert article.modified_at is None
    html = client.get(article.get_absolute_url()).content.decode()
    assert "<span>Updated" not in html


def test_an_editors_real_change_moves_the_updated_time(client, editor, article):
    client.force_login(editor)
    when = timezone.now() + timedelta(hours=2)

    with time_machine.travel(when, tick=False):
        client.post(
            change_url(article),
            change_form(article, body="<p>The dam held; the road did not.</p>"),
        )

    article.refresh_from_db()
    assert article.modified_at == when
    assert article.last_updated == when


def test_a_new_correction_invalidates_the_public_pages(article):
    before = public_pages_generation()

    Correction.objects.create(article=article, note="A name was misspelt.")

    assert public_pages_generation() != before


def test_the_corrections_page_lists_every_correction_newest_first(client, article):
    other = make_article(title="Bus fares rise", slug="bus-fares")
    unpublished = make_article(title="Secret draft", status="draft", published_at=None)
    now = timezone.now()
    Correction.objects.create(article=article, note="Older note.", created_at=now)
    Correction.objects.create(
        article=other, note="Newer note.", created_at=now + timedelta(minutes=1)
    )
    Correction.objects.create(article=unpublished, note="Not for readers.")

    response = client.get("/corrections/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Newer note.") < html.index("Older note.")
    assert "Not for readers." not in html
    assert "Secret draft" not in html
    assert (
        '<link rel="alternate" type="application/rss+xml" title="Corrections (RSS)" '
        'href="/corrections/feed/">' in html
    )
    assert client.get("/corrections/?page=2").status_code == 404


def test_the_corrections_feed_carries_each_note_escaped(client, article):
    Correction.objects.create(article=article, note="<b>60 m</b>, not 80 m.")

    response = client.get("/corrections/feed/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "<title>Correction: Dam holds after the storm</title>" in body
    assert "&amp;lt;b&amp;gt;60 m" in body
    assert "/articles/dam-holds/#correction-" in body


def test_corrections_keep_the_article_page_within_its_query_budget(
    client, article, django_assert_max_num_queries
):
    for n in range(5):
        Correction.objects.create(article=article, note=f"Note {n}.")
    client.get(article.get_absolute_url())  # warm the content-type cache
    cache.clear()  # and render every fragment again

    with django_assert_max_num_queries(10):
        response = client.get(article.get_absolute_url())

    assert response.content.decode().count('class="correction ') == 5


def test_the_minor_edit_box_is_offered_only_on_a_published_story(client, editor):
    draft = make_article(status="draft", published_at=None)
    published = make_article()
    client.force_login(editor)

    assert 'name="minor_edit"' not in client.get(change_url(draft)).text
    assert 'name="minor_edit"' in client.get(change_url(published)).text
