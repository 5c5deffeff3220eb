"""Revisions of an article in the admin: every save kept with who and when, a
readable comparison of two, one-click restore, and no silent overwrite of a
colleague's newer save."""

import io

import pytest
import reversion
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from PIL import Image
from reversion.models import Version

from articles import revisions
from articles.admin import left_out_messages
from articles.models import Article, Category, Figure, Photo
from articles.revisions import body_as_text, diff_text, revision_text
from tests.factories import (
    byline_form_data,
    make_article,
    make_author,
    make_category,
    make_figure,
    make_photo,
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


# Figures -------------------------------------------------------------------------


def figure_rows(*rows):
    """The figures inline's part of an article admin POST. Each row is a dict of
    the form's fields (photo, caption, after_paragraph), with "id" for a stored
    figure (those first) and "DELETE" to remove it."""
    data = {
        **no_inline_forms("figures"),
        "figures-TOTAL_FORMS": str(len(rows)),
        "figures-INITIAL_FORMS": str(sum("id" in row for row in rows)),
    }
    for n, row in enumerate(rows):
        data.update({f"figures-{n}-{name}": value for name, value in row.items()})
    return data


def new_figure(photo, *, caption="", after_paragraph=1):
    return {"photo": photo.pk, "caption": caption, "after_paragraph": after_paragraph}


def stored_figure(figure, **changes):
    return {
        "id": figure.pk,
        "photo": figure.photo_id,
        "caption": figure.caption,
        "after_paragraph": figure.after_paragraph,
        **changes,
    }


def figures_of(article):
    return [
        (figure.photo, figure.caption, figure.after_paragraph)
        for figure in Figure.objects.filter(article=article)
    ]


def figures_in(version):
    figure_type = ContentType.objects.get_for_model(Figure)
    return sorted(
        (data["photo_id"], data["caption"], data["after_paragraph"])
        for data in (
            other.field_dict
            for other in version.revision.version_set.filter(content_type=figure_type)
        )
    )


def save_in_admin(client, article, **changes):
    """Open the article's change form and save it with `changes`."""
    article = Article.objects.get(pk=article.pk)
    response = client.post(
        change_url(article), {**opened_form(client, article), **changes}
    )
    assert response.status_code == 302, response.context["errors"]


@pytest.fixture
def marchers():
    return make_photo(alt="Marchers on Baghramyan Avenue")


@pytest.fixture
def lake():
    return make_photo(alt="Lake Sevan at dusk")


def test_every_admin_save_keeps_the_figures_as_they_were(
    client, editor, article, marchers, lake
):
    client.force_login(editor)

    save_in_admin(
        client,
        article,
        **figure_rows(
            new_figure(marchers, caption="At noon.", after_paragraph=1),
            new_figure(lake, after_paragraph=0),
        ),
    )
    kept_marchers, kept_lake = article.figures.order_by("-after_paragraph")
    save_in_admin(
        client,
        article,
        **figure_rows(stored_figure(kept_marchers, after_paragraph=3)),
    )
    save_in_admin(
        client,
        article,
        **figure_rows(stored_figure(kept_lake, DELETE="on")),
    )

    first, moved, removed = Version.objects.get_for_object(article).order_by("pk")
    assert figures_in(first) == sorted([(marchers.pk, "At noon.", 1), (lake.pk, "", 0)])
    assert figures_in(moved) == sorted([(marchers.pk, "At noon.", 3), (lake.pk, "", 0)])
    assert figures_in(removed) == [(marchers.pk, "At noon.", 3)]


def test_restoring_a_revision_brings_its_figures_back_as_they_were(
    client, editor, article, marchers, lake
):
    client.force_login(editor)
    save_in_admin(
        client,
        article,
        **figure_rows(
            new_figure(marchers, caption="At noon.", after_paragraph=1),
            new_figure(lake, after_paragraph=2),
        ),
    )
    first = Version.objects.get_for_object(article).get()
    kept_marchers, kept_lake = article.figures.all()
    # Since then: one figure removed, one moved and recaptioned, one added.
    save_in_admin(
        client,
        article,
        **figure_rows(
            stored_figure(kept_marchers, DELETE="on"),
            stored_figure(kept_lake, caption="Later.", after_paragraph=0),
            new_figure(make_photo(alt="Added since")),
        ),
    )

    response = client.post(
        reverse("admin:articles_article_restore", args=[article.pk, first.pk]),
        follow=True,
    )

    assert response.status_code == 200
    assert figures_of(article) == [(marchers, "At noon.", 1), (lake, "", 2)]
    assert Photo.objects.filter(alt="Added since").exists()
    page = response.content.decode()
    assert "The earlier revision is restored." in page
    assert "not restored" not in page
    newest = Version.objects.get_for_object(article).first()
    assert figures_in(newest) == figures_in(first)


def test_a_figure_whose_photo_left_the_library_is_skipped_with_a_warning(
    client, editor, article, marchers, lake
):
    client.force_login(editor)
    article.tags.add("bread")
    save_in_admin(
        client,
        article,
        **figure_rows(
            new_figure(marchers, caption="At noon.", after_paragraph=1),
            new_figure(lake, after_paragraph=2),
        ),
    )
    first = Version.objects.get_for_object(article).get()
    removed = article.figures.get(photo=marchers)
    save_in_admin(
        client,
        article,
        title="Wrong",
        tags="wrong",
        **figure_rows(stored_figure(removed, DELETE="on")),
    )
    # No story shows the photo any more, so an editor may delete it.
    delete_photo = reverse("admin:articles_photo_delete", args=[marchers.pk])
    assert client.post(delete_photo, {"post": "yes"}).status_code == 302

    response = client.post(
        reverse("admin:articles_article_restore", args=[article.pk, first.pk]),
        follow=True,
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "The earlier revision is restored." in page
    assert "1 figure was not restored: its photo is no longer in the library." in page
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert [tag.name for tag in article.tags.all()] == ["bread"]
    assert figures_of(article) == [(lake, "", 2)]
    assert not Figure.objects.filter(photo_id=marchers.pk).exists()
    assert client.get(article.get_absolute_url()).status_code == 200


def test_a_restore_takes_a_tag_added_since_from_this_article_only(
    client, editor, article
):
    other = make_article(tags=["politics"])
    client.force_login(editor)
    save_in_admin(client, article, tags="bread")
    first = Version.objects.get_for_object(article).get()
    save_in_admin(client, article, tags="bread, politics")

    client.post(reverse("admin:articles_article_restore", args=[article.pk, first.pk]))

    assert list(article.tags.names()) == ["bread"]
    assert list(other.tags.names()) == ["politics"]


def test_the_comparison_lists_figures_added_removed_and_moved(
    client, editor, article, marchers, lake
):
    client.force_login(editor)
    save_in_admin(
        client,
        article,
        **figure_rows(new_figure(marchers, caption="At noon.", after_paragraph=1)),
    )
    figure = article.figures.get()
    save_in_admin(
        client,
        article,
        **figure_rows(
            stored_figure(figure, after_paragraph=3),
            new_figure(lake, after_paragraph=0),
        ),
    )
    new, old = Version.objects.get_for_object(article)

    response = client.get(
        reverse("admin:articles_article_compare", args=[article.pk]),
        {"old": old.pk, "new": new.pk},
    )

    assert revision_text(old)["Figures"] == (
        "After paragraph 1: Marchers on Baghramyan Avenue (caption: At noon.)"
    )
    assert revision_text(new)["Figures"] == (
        "Before the first paragraph: Lake Sevan at dusk\n"
        "After paragraph 3: Marchers on Baghramyan Avenue (caption: At noon.)"
    )
    page = response.content.decode()
    assert "<h2>Figures</h2>" in page
    assert "<ins>Before the first paragraph: Lake Sevan at dusk\n</ins>" in page
    assert "<del>1: </del><ins>3: </ins>" in page


def test_the_comparison_names_a_photo_that_left_the_library():
    article = make_article()
    figure = make_figure(article, alt="Gone", after_paragraph=2)
    with reversion.create_revision():
        article.save()
    version = Version.objects.get_for_object(article).get()
    figure.delete()
    figure.photo.delete()

    assert revision_text(version)["Figures"] == (
        "After paragraph 2: (a photo no longer in the library)"
    )


def test_a_revision_made_by_a_list_action_restores_and_compares_one_article(
    client, editor, marchers, lake
):
    drafts = [
        make_article(title=title, status="draft", published_at=None, tags=[tag])
        for title, tag in (("Ours", "bread"), ("Theirs", "rivers"))
    ]
    ours, theirs = drafts
    make_figure(ours, photo=marchers)
    make_figure(theirs, photo=lake)
    client.force_login(editor)
    client.post(
        reverse("admin:articles_article_changelist"),
        {"action": "publish", "_selected_action": [ours.pk, theirs.pk]},
    )
    published = Version.objects.get_for_object(ours).get()
    save_in_admin(client, ours, title="Ours, changed")
    save_in_admin(client, theirs, title="Theirs, changed since")

    assert revision_text(published)["Tags"] == "bread"
    assert revision_text(published)["Figures"] == (
        "After paragraph 1: Marchers on Baghramyan Avenue"
    )
    client.post(reverse("admin:articles_article_restore", args=[ours.pk, published.pk]))

    assert Article.objects.get(pk=ours.pk).title == "Ours"
    assert Article.objects.get(pk=theirs.pk).title == "Theirs, changed since"
    assert figures_of(theirs) == [(lake, "", 1)]


def test_opening_a_revision_to_review_leaves_out_a_gone_photo_and_says_so(
    client, editor, article, marchers, lake
):
    other = make_article(tags=["wrong"])
    client.force_login(editor)
    save_in_admin(
        client,
        article,
        tags="bread",
        **figure_rows(new_figure(marchers), new_figure(lake, after_paragraph=2)),
    )
    first = Version.objects.get_for_object(article).get()
    removed = article.figures.get(photo=marchers)
    save_in_admin(
        client,
        article,
        title="Wrong",
        tags="bread, wrong",
        **figure_rows(stored_figure(removed, DELETE="on")),
    )
    marchers.delete()
    revision_url = reverse(
        "admin:articles_article_revision", args=[article.pk, first.pk]
    )
    warning = "1 figure was not restored: its photo is no longer in the library."

    shown = client.get(revision_url)

    assert shown.status_code == 200
    assert warning in shown.content.decode()
    form = shown.context["adminform"].form
    assert form["title"].value() == "Bread prices climb"
    assert Article.objects.get(pk=article.pk).title == "Wrong"
    (figures,) = [
        inline.formset
        for inline in shown.context["inline_admin_formsets"]
        if inline.formset.model is Figure
    ]
    assert [form.instance.photo for form in figures.initial_forms] == [lake]

    data = opened_form(client, Article.objects.get(pk=article.pk))
    saved = client.post(
        revision_url,
        {
            **data,
            "title": form["title"].value(),
            "tags": "bread",
            "loaded_version": form["loaded_version"].value(),
        },
        follow=True,
    )

    assert saved.status_code == 200
    assert warning in saved.content.decode()
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert figures_of(article) == [(lake, "", 2)]
    assert list(other.tags.names()) == ["wrong"]
    newest = Version.objects.get_for_object(article).first()
    assert newest.revision.get_comment().startswith("Restored the revision of")


def test_a_writer_cannot_open_the_revision_of_someone_elses_article(
    client, editor, article
):
    client.force_login(editor)
    save_in_admin(client, article)
    version = Version.objects.get_for_object(article).get()
    save_in_admin(client, article, title="Changed")
    client.force_login(make_staff("writer", "Writers"))

    response = client.get(
        reverse("admin:articles_article_revision", args=[article.pk, version.pk])
    )

    assert response.status_code == 403
    assert Article.objects.get(pk=article.pk).title == "Changed"


def test_a_revision_from_before_figures_were_kept_leaves_the_figures_alone(editor):
    article = make_article()
    with reversion.create_revision():
        article.save()
    old = Version.objects.get_for_object(article).get()
    make_figure(article, alt="Shown for years")

    revisions.restore(old, user=editor)

    assert [str(figure) for figure in article.figures.all()] == ["Shown for years"]


def test_a_revision_without_figures_removes_the_figures_added_since(editor):
    with reversion.create_revision():
        make_figure(make_article())
    article = make_article()
    with reversion.create_revision():
        article.save()
    without = Version.objects.get_for_object(article).get()
    make_figure(article, alt="Added since")

    revisions.restore(without, user=editor)

    assert not article.figures.exists()


# Things deleted since the revision --------------------------------------------


def restore_in_one_click(client, article, version):
    return client.post(
        reverse("admin:articles_article_restore", args=[article.pk, version.pk]),
        follow=True,
    )


def delete_in_admin(client, obj):
    """Delete `obj` the way an editor does: its admin's delete page, confirmed."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302


def assert_foreign_keys_hold():
    """What the database checks when the transaction commits: every row points
    at a row that exists. (A test's transaction is rolled back, never committed.)"""
    connection.check_constraints()


def image_upload(name):
    buffer = io.BytesIO()
    Image.new("RGB", (900, 500), "teal").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def stored_files(article):
    return [article.image.name, *article.image_renditions.values()]


def test_a_restore_keeps_the_current_category_when_the_revisions_is_gone(
    client, editor, article
):
    politics = make_category(name="Politics", slug="politics")
    news = make_category(name="News", slug="news")
    client.force_login(editor)
    save_in_admin(client, article, category=politics.pk)
    first = Version.objects.get_for_object(article).get()
    save_in_admin(client, article, title="Wrong", category=news.pk)
    delete_in_admin(client, politics)

    response = restore_in_one_click(client, article, first)

    assert response.status_code == 200
    page = response.content.decode()
    assert "The earlier revision is restored." in page
    assert (
        "The category “Politics” no longer exists: the article stays in “News”." in page
    )
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert article.category == news
    assert_foreign_keys_hold()
    assert client.get(article.get_absolute_url()).status_code == 200


def test_a_restore_leaves_out_an_author_deleted_since(client, editor, article):
    zara, ani, mher = (make_author(name=name) for name in ("Zara", "Ani", "Mher"))
    article.set_authors([zara, ani])
    client.force_login(editor)
    save_in_admin(client, article)
    first = Version.objects.get_for_object(article).get()
    article.set_authors([mher])
    save_in_admin(client, article, title="Wrong")
    delete_in_admin(client, ani)

    response = restore_in_one_click(client, article, first)

    assert response.status_code == 200
    page = response.content.decode()
    assert "The earlier revision is restored." in page
    assert "1 author was not restored: no longer in the newsroom." in page
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert list(article.authors.all()) == [zara]
    assert_foreign_keys_hold()
    assert client.get(article.get_absolute_url()).status_code == 200


def test_a_restore_keeps_the_current_byline_when_all_its_authors_are_gone(
    client, editor, article
):
    ani, mher = make_author(name="Ani"), make_author(name="Mher")
    article.set_authors([ani])
    client.force_login(editor)
    save_in_admin(client, article)
    first = Version.objects.get_for_object(article).get()
    article.set_authors([mher])
    save_in_admin(client, article, title="Wrong")
    delete_in_admin(client, ani)

    response = restore_in_one_click(client, article, first)

    page = response.content.decode()
    assert (
        "The author of that revision is no longer in the newsroom: the current "
        "byline was kept." in page
    )
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert list(article.authors.all()) == [mher]
    assert_foreign_keys_hold()


def test_a_restore_leaves_empty_an_account_deleted_since(client, editor, article):
    writer = make_staff("writer", "Writers")
    Article.objects.filter(pk=article.pk).update(created_by=writer)
    client.force_login(editor)
    save_in_admin(client, article)
    first = Version.objects.get_for_object(article).get()
    save_in_admin(client, article, title="Wrong")
    # Accounts are an administrator's to delete, not an editor's.
    writer.delete()

    response = restore_in_one_click(client, article, first)

    assert response.status_code == 200
    page = response.content.decode()
    assert "The earlier revision is restored." in page
    assert (
        "“Created by” is left empty: the account of that revision no longer exists."
        in page
    )
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert article.created_by is None
    assert_foreign_keys_hold()


def test_a_restore_keeps_the_current_image_when_the_revisions_file_is_gone(
    client, editor, article, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(editor)
    save_in_admin(
        client,
        article,
        image=image_upload("first.png"),
        image_alt="The first image",
        image_caption="First caption.",
        image_credit="Photo: First",
    )
    first = Version.objects.get_for_object(article).get()
    first_files = stored_files(Article.objects.get(pk=article.pk))
    # Replacing the image deletes its files once the save commits.
    with django_capture_on_commit_callbacks(execute=True):
        save_in_admin(
            client,
            article,
            title="Wrong",
            image=image_upload("second.png"),
            image_alt="The second image",
            image_caption="Second caption.",
            image_credit="Photo: Second",
        )
    article.refresh_from_db()
    current = (
        article.image.name,
        article.image_alt,
        article.image_caption,
        article.image_credit,
        article.image_width,
        article.image_height,
        article.image_renditions,
    )
    assert not any(article.image.storage.exists(name) for name in first_files)

    response = restore_in_one_click(client, article, first)

    assert response.status_code == 200
    page = response.content.decode()
    assert "The earlier revision is restored." in page
    assert (
        "The image of that revision is no longer stored: the current image was "
        "kept." in page
    )
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert (
        article.image.name,
        article.image_alt,
        article.image_caption,
        article.image_credit,
        article.image_width,
        article.image_height,
        article.image_renditions,
    ) == current
    reader_page = client.get(article.get_absolute_url()).content.decode()
    assert "The second image" in reader_page
    assert not any(name in reader_page for name in first_files)


def test_a_revision_whose_image_is_still_stored_brings_it_back(
    client, editor, article, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(editor)
    save_in_admin(
        client, article, image=image_upload("first.png"), image_alt="The first image"
    )
    first = Version.objects.get_for_object(article).get()
    first_name = Article.objects.get(pk=article.pk).image.name
    # Without the commit, the first image's files are still there.
    save_in_admin(
        client, article, image=image_upload("second.png"), image_alt="The second"
    )

    response = restore_in_one_click(client, article, first)

    assert "no longer stored" not in response.content.decode()
    article.refresh_from_db()
    assert (article.image.name, article.image_alt) == (first_name, "The first image")


@pytest.fixture
def gone_since(
    client, editor, article, settings, tmp_path, django_capture_on_commit_callbacks
):
    """An article's first revision, whose category, one of two authors, creator
    and image have all been deleted since."""
    settings.MEDIA_ROOT = tmp_path
    politics = make_category(name="Politics", slug="politics")
    news = make_category(name="News", slug="news")
    zara, ani, mher = (make_author(name=name) for name in ("Zara", "Ani", "Mher"))
    writer = make_staff("writer", "Writers")
    Article.objects.filter(pk=article.pk).update(created_by=writer)
    article.set_authors([zara, ani])
    client.force_login(editor)
    save_in_admin(
        client,
        article,
        category=politics.pk,
        image=image_upload("first.png"),
        image_alt="The first image",
    )
    first = Version.objects.get_for_object(article).get()
    article.set_authors([mher])
    with django_capture_on_commit_callbacks(execute=True):
        save_in_admin(
            client,
            article,
            title="Wrong",
            category=news.pk,
            image=image_upload("second.png"),
            image_alt="The second image",
        )
    delete_in_admin(client, politics)
    delete_in_admin(client, ani)
    writer.delete()
    return first


GONE_WARNINGS = [
    "The category “Politics” no longer exists: the article stays in “News”.",
    "1 author was not restored: no longer in the newsroom.",
    "“Created by” is left empty: the account of that revision no longer exists.",
    "The image of that revision is no longer stored: the current image was kept.",
]


def test_opening_a_revision_whose_rows_are_gone_says_what_stays(
    client, editor, article, gone_since
):
    revision_url = reverse(
        "admin:articles_article_revision", args=[article.pk, gone_since.pk]
    )

    shown = client.get(revision_url)

    assert shown.status_code == 200
    page = shown.content.decode()
    for warning in GONE_WARNINGS:
        assert warning in page
    form = shown.context["adminform"].form
    assert form["title"].value() == "Bread prices climb"
    assert form["category"].value() == Category.objects.get(name="News").pk
    assert form["image_alt"].value() == "The second image"
    assert Article.objects.get(pk=article.pk).title == "Wrong"

    data = opened_form(client, Article.objects.get(pk=article.pk))
    saved = client.post(
        revision_url,
        {
            **data,
            "title": form["title"].value(),
            "image_alt": form["image_alt"].value(),
            "loaded_version": form["loaded_version"].value(),
        },
        follow=True,
    )

    assert saved.status_code == 200
    assert "Someone else saved" not in saved.content.decode()
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert article.category.name == "News"
    assert [author.name for author in article.authors.all()] == ["Zara"]
    assert article.created_by is None
    assert article.image_alt == "The second image"
    assert_foreign_keys_hold()


def test_the_comparison_shows_a_revision_whose_rows_are_gone(
    client, article, gone_since
):
    newest = Version.objects.get_for_object(article).first()

    response = client.get(
        reverse("admin:articles_article_compare", args=[article.pk]),
        {"old": gone_since.pk, "new": newest.pk},
    )

    assert response.status_code == 200
    assert "(no longer stored)" in response.content.decode()


def test_a_category_deleted_outside_the_admin_is_left_out_without_its_name(editor):
    gone, kept = make_category(name="Gone"), make_category(name="Kept")
    article = make_article(category=gone)
    with reversion.create_revision():
        article.save()
    old = Version.objects.get_for_object(article).get()
    Article.objects.filter(pk=article.pk).update(category=kept)
    gone.delete()

    restored = revisions.restore(old, user=editor)

    assert restored.left_out == revisions.LeftOut(category="")
    assert restored.article.category == kept
    assert left_out_messages(restored.left_out, restored.article) == [
        "The category of that revision no longer exists: the article stays in “Kept”."
    ]
