"""Revisions of an article in the admin: every save kept with who and when, a
readable comparison of two, one-click restore, and no silent overwrite of a
colleague's newer save."""

import pytest
from django.urls import reverse
from reversion.models import Version

from articles.models import Article
from articles.revisions import body_as_text, diff_text
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
def editor():
    return make_staff("editor", "Editors")


@pytest.fixture
def article():
    return make_article(
        title="Bread prices climb",
        slug="bread-prices-climb",
        body="<p>Bakers say flour costs doubled.</p>",
        category=make_category(name="Economy", slug="economy"),
    )


def change_url(article):
    return reverse("admin:articles_article_change", args=[article.pk])


def opened_form(client, article):
    """The change form's values as the browser would post them back."""
    form = client.get(change_url(article)).context["adminform"].form
    data = {
        "title": article.title,
        "slug": article.slug,
        "standfirst": article.standfirst,
        "dateline": article.dateline,
        "body": article.body,
        "excerpt": "",
        "image_alt": "",
        "image_caption": "",
        "image_credit": "",
        "category": article.category_id,
        "tags": ", ".join(tag.name for tag in article.tags.all()),
        "comments_enabled": "on",
        "status": article.status,
        "published_at_0": article.published_at.strftime("%Y-%m-%d"),
        "published_at_1": article.published_at.strftime("%H:%M:%S"),
        "loaded_version": form["loaded_version"].value(),
        **no_inline_forms(),
        **byline_form_data(),
    }
    return data


def test_every_admin_save_is_kept_with_who_and_when(client, editor, article):
    client.force_login(editor)
    data = opened_form(client, article)

    client.post(change_url(article), {**data, "title": "Bread prices climb again"})
    data = opened_form(client, Article.objects.get(pk=article.pk))
    client.post(change_url(article), {**data, "tags": "bread, prices"})

    versions = list(Version.objects.get_for_object(article))
    assert len(versions) == 2
    assert {version.revision.user for version in versions} == {editor}
    assert versions[1].field_dict["title"] == "Bread prices climb again"


def test_the_comparison_shows_words_removed_and_added_in_each_field(
    client, editor, article
):
    client.force_login(editor)
    data = opened_form(client, article)
    client.post(change_url(article), data)
    data = opened_form(client, Article.objects.get(pk=article.pk))
    client.post(
        change_url(article),
        {
            **data,
            "title": "Bread prices <b>soar</b>",
            "body": "<p>Bakers say flour costs tripled.</p>",
            "tags": "bread",
        },
    )
    new, old = Version.objects.get_for_object(article)

    response = client.get(
        reverse("admin:articles_article_compare", args=[article.pk]),
        {"old": old.pk, "new": new.pk},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "<del>climb</del><ins>&lt;b&gt;soar&lt;/b&gt;</ins>" in page
    assert "<del>doubled.</del><ins>tripled.</ins>" in page
    assert "<ins>bread</ins>" in page
    restore = reverse("admin:articles_article_revision", args=[article.pk, old.pk])
    assert restore in page


def test_restoring_a_revision_is_itself_a_revision(client, editor, article):
    client.force_login(editor)
    article.tags.add("bread")
    client.post(change_url(article), opened_form(client, article))
    first = Version.objects.get_for_object(article).get()
    data = opened_form(client, Article.objects.get(pk=article.pk))
    client.post(change_url(article), {**data, "title": "Wrong", "tags": "wrong"})
    restore_url = reverse(
        "admin:articles_article_revision", args=[article.pk, first.pk]
    )
    restore_form = client.get(restore_url).context["adminform"].form

    response = client.post(
        restore_url,
        {
            **data,
            "tags": "bread",
            "loaded_version": restore_form["loaded_version"].value(),
        },
    )

    assert response.status_code == 302
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert [tag.name for tag in article.tags.all()] == ["bread"]
    assert Version.objects.get_for_object(article).count() == 3


def test_saving_over_a_colleagues_newer_change_is_refused(client, editor, article):
    client.force_login(editor)
    data = opened_form(client, article)
    # A colleague saves first.
    colleague = Article.objects.get(pk=article.pk)
    colleague.title = "Bread prices climb: the colleague's headline"
    colleague.save()

    response = client.post(
        change_url(article), {**data, "body": "<p>My careful rewrite.</p>"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Someone else saved this article" in page
    assert "My careful rewrite." in page
    article.refresh_from_db()
    assert article.title == "Bread prices climb: the colleague's headline"
    assert article.body == "<p>Bakers say flour costs doubled.</p>"


def test_saving_the_form_one_opened_last_is_accepted(client, editor, article):
    client.force_login(editor)
    data = opened_form(client, article)

    response = client.post(change_url(article), {**data, "title": "New headline"})

    assert response.status_code == 302
    article.refresh_from_db()
    assert article.title == "New headline"


def test_the_comparison_is_for_those_who_may_see_the_article(client, article):
    writer = make_staff("writer", "Writers")
    client.force_login(writer)

    response = client.get(reverse("admin:articles_article_compare", args=[article.pk]))

    assert response.status_code == 403


def test_body_text_keeps_one_line_per_paragraph():
    assert body_as_text("<p>One &amp; two.</p><h2>Three</h2><p>Four</p>") == (
        "One & two.\nThree\nFour"
    )


def test_unchanged_paragraphs_are_not_compared_word_by_word():
    pieces = diff_text("Same.\nOld words here.\n", "Same.\nNew words here.\n")

    assert pieces == [
        ("equal", "Same.\n"),
        ("delete", "Old "),
        ("insert", "New "),
        ("equal", "words here.\n"),
    ]


def test_restoring_a_revision_brings_back_its_byline_in_order(client, editor, article):
    zara, ani, mher = (make_author(name=name) for name in ("Zara", "Ani", "Mher"))
    article.set_authors([zara, ani])
    client.force_login(editor)
    client.post(change_url(article), opened_form(client, article))
    first = Version.objects.get_for_object(article).get()
    article.set_authors([mher])
    data = opened_form(client, Article.objects.get(pk=article.pk))
    client.post(change_url(article), data)
    restore_url = reverse(
        "admin:articles_article_revision", args=[article.pk, first.pk]
    )
    restore_form = client.get(restore_url).context["adminform"].form

    response = client.post(
        restore_url,
        {**data, "loaded_version": restore_form["loaded_version"].value()},
    )

    assert response.status_code == 302
    assert [byline.author for byline in article.bylines.all()] == [zara, ani]


def test_an_editor_restores_a_revision_in_one_click(client, editor, article):
    client.force_login(editor)
    article.tags.add("bread")
    client.post(change_url(article), opened_form(client, article))
    first = Version.objects.get_for_object(article).get()
    data = opened_form(client, Article.objects.get(pk=article.pk))
    client.post(
        change_url(article),
        {**data, "title": "Wrong", "slug": "wrong", "tags": "wrong"},
    )

    response = client.post(
        reverse("admin:articles_article_restore", args=[article.pk, first.pk])
    )

    assert response.status_code == 302
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert article.slug == "bread-prices-climb"
    assert [tag.name for tag in article.tags.all()] == ["bread"]
    newest = Version.objects.get_for_object(article).first()
    assert newest.revision.user == editor
    assert newest.revision.get_comment().startswith("Restored the revision of")
    assert client.get("/articles/wrong/").url == "/articles/bread-prices-climb/"


def test_a_writer_cannot_restore_a_revision(client, editor, article):
    client.force_login(editor)
    client.post(change_url(article), opened_form(client, article))
    version = Version.objects.get_for_object(article).get()
    writer = make_staff("writer", "Writers")
    Article.objects.filter(pk=article.pk).update(created_by=writer, status="draft")
    client.force_login(writer)

    response = client.post(
        reverse("admin:articles_article_restore", args=[article.pk, version.pk])
    )

    assert response.status_code == 403
    assert Article.objects.get(pk=article.pk).status == "draft"
