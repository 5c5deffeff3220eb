"""Several bylines on one article, in the order the newsroom sets."""

import json
import re

import pytest
from django.urls import reverse

from articles.models import Article
from tests.factories import (
    byline_form_data,
    make_article,
    make_author,
    make_category,
    make_staff,
    no_inline_forms,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def zara_ani_mher():
    # Not alphabetical: the byline keeps the order it was given.
    return [
        make_author(name="Zara Melikyan", slug="zara"),
        make_author(name="Ani Petrosyan", slug="ani"),
        make_author(name="Mher Sargsyan", slug="mher"),
    ]


def _text(html):
    return re.sub(r"<[^>]+>", "", html)


def test_the_article_page_prints_every_author_in_order(client, zara_ani_mher):
    article = make_article(authors=zara_ani_mher)

    html = client.get(article.get_absolute_url()).content.decode()

    assert "By Zara Melikyan, Ani Petrosyan and Mher Sargsyan" in _text(html)
    for slug in ("zara", "ani", "mher"):
        assert f'href="/author/{slug}/" rel="author"' in html


def test_two_authors_read_a_and_b(client, zara_ani_mher):
    article = make_article(authors=zara_ani_mher[:2])

    html = client.get(article.get_absolute_url()).content.decode()

    assert "By Zara Melikyan and Ani Petrosyan" in _text(html)


def test_json_ld_lists_every_author_in_byline_order(client, zara_ani_mher):
    article = make_article(authors=zara_ani_mher)

    html = client.get(article.get_absolute_url()).content.decode()
    data = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', html).group(1)
    )

    assert [author["name"] for author in data["author"]] == [
        "Zara Melikyan",
        "Ani Petrosyan",
        "Mher Sargsyan",
    ]


def test_listing_cards_keep_the_byline_order(client, zara_ani_mher):
    make_article(authors=zara_ani_mher)

    html = client.get("/").content.decode()

    assert "By Zara Melikyan, Ani Petrosyan and Mher Sargsyan" in _text(html)


def test_each_author_page_and_feed_lists_a_co_written_article(client, zara_ani_mher):
    make_article(title="Lake Sevan water levels", authors=zara_ani_mher)

    for author in zara_ani_mher:
        page = client.get(author.get_absolute_url()).content.decode()
        feed = client.get(f"/author/{author.slug}/feed/").content.decode()
        assert "Lake Sevan water levels" in page
        assert "Lake Sevan water levels" in feed


def test_the_feed_names_every_author_in_order(client, zara_ani_mher):
    make_article(authors=zara_ani_mher)

    feed = client.get("/feed/").content.decode()

    assert "Zara Melikyan, Ani Petrosyan, Mher Sargsyan" in feed


def test_set_authors_replaces_the_byline_in_the_new_order(zara_ani_mher):
    zara, ani, mher = zara_ani_mher
    article = make_article(authors=[zara, ani])

    article.set_authors([mher, zara])

    assert [byline.author for byline in article.bylines.all()] == [mher, zara]


def test_an_editor_sets_the_byline_order_in_the_admin(client, zara_ani_mher):
    zara, ani, mher = zara_ani_mher
    editor = make_staff("editor", "Editors")
    client.force_login(editor)
    category = make_category()

    response = client.post(
        reverse("admin:articles_article_add"),
        {
            "title": "Three-way story",
            "slug": "three-way-story",
            "body": "<p>Words.</p>",
            "category": category.pk,
            "status": "draft",
            "comments_enabled": "on",
            **no_inline_forms(),
            **byline_form_data(mher, zara, ani),
        },
    )

    assert response.status_code == 302
    article = Article.objects.get(slug="three-way-story")
    assert [byline.author for byline in article.bylines.all()] == [mher, zara, ani]


def test_a_writer_adds_a_co_author_to_their_own_draft(client, zara_ani_mher):
    writer = make_staff("writer", "Writers")
    own = make_author(name="Writer Byline", slug="writer-byline", user=writer)
    article = make_article(
        title="Draft", created_by=writer, authors=[own], status=Article.Status.DRAFT
    )
    client.force_login(writer)

    response = client.post(
        reverse("admin:articles_article_change", args=[article.pk]),
        {
            "title": "Draft",
            "slug": article.slug,
            "body": "<p>Words.</p>",
            "category": article.category_id,
            "comments_enabled": "on",
            **no_inline_forms(),
            **byline_form_data(zara_ani_mher[1]),
        },
    )

    assert response.status_code == 302
    assert {author.name for author in article.authors.all()} == {
        "Ani Petrosyan",
        "Writer Byline",
    }


def test_the_change_form_shows_the_byline_inline_to_a_writer(client):
    writer = make_staff("writer", "Writers")
    article = make_article(created_by=writer, status=Article.Status.DRAFT)
    client.force_login(writer)

    html = client.get(
        reverse("admin:articles_article_change", args=[article.pk])
    ).content.decode()

    assert 'name="bylines-TOTAL_FORMS"' in html


def test_reordering_a_byline_in_the_admin_reaches_the_cached_page(
    client, zara_ani_mher
):
    article = make_article(authors=zara_ani_mher[:2])
    client.get(article.get_absolute_url())
    first = article.bylines.get(author=zara_ani_mher[0])

    first.position = 5
    first.save()

    html = client.get(article.get_absolute_url()).content.decode()
    assert "By Ani Petrosyan and Zara Melikyan" in _text(html)
