"""Revisions of an article in the admin: every save kept with who and when, a
readable comparison of two, one-click restore, and no silent overwrite of a
colleague's newer save.

The editor's journeys go through the admin (its forms rendered and posted). The
rules of a restore and a comparison are tested on articles.revisions directly,
with revisions made by tests.factories.make_revision(), which keeps what an admin
save keeps without rendering a form: rendering the change form is what makes a
test here slow. test_make_revision_keeps_what_an_admin_save_keeps holds the
helper to the admin."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from reversion.models import Version
from taggit.utils import edit_string_for_tags

from articles import revisions
from articles.admin import left_out_messages
from articles.models import Article, Byline, Category, Figure, Photo
from articles.revisions import body_as_text, diff_text, revision_text
from tests.factories import (
    byline_form_data,
    jpeg_bytes,
    make_article,
    make_author,
    make_category,
    make_figure,
    make_photo,
    make_revision,
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


@pytest.fixture
def marchers():
    return make_photo(alt="Marchers on Baghramyan Avenue")


@pytest.fixture
def lake():
    return make_photo(alt="Lake Sevan at dusk")


def change_url(article):
    return reverse("admin:articles_article_change", args=[article.pk])


def filled_in(form):
    """What a browser posts back from the article change form `form` as it was
    rendered, with no inline row added or changed."""
    value = {name: form[name].value() for name in form.fields}
    data = {
        name: "" if value[name] is None else value[name]
        for name in (
            "title",
            "slug",
            "standfirst",
            "dateline",
            "body",
            "excerpt",
            "image_alt",
            "image_caption",
            "image_credit",
            "category",
            "status",
            "loaded_version",
        )
    }
    data.update(
        {
            "tags": edit_string_for_tags(value["tags"]),
            "related_articles": value["related_articles"],
            **published_at_data(value["published_at"]),
            **no_inline_forms(),
            **byline_form_data(),
        }
    )
    data.update(
        {name: "on" for name in ("comments_enabled", "is_featured") if value[name]}
    )
    return data


def published_at_data(published_at):
    """The two inputs of the admin's date and time widget."""
    if published_at is None:
        return {"published_at_0": "", "published_at_1": ""}
    published_at = timezone.localtime(published_at)
    return {
        "published_at_0": published_at.strftime("%Y-%m-%d"),
        "published_at_1": published_at.strftime("%H:%M:%S"),
    }


def opened_form(client, article):
    """The change form of `article`, opened and posted back unchanged."""
    return filled_in(client.get(change_url(article)).context["adminform"].form)


def save_in_admin(client, article, **changes):
    """Open the article's change form and save it with `changes`."""
    response = client.post(
        change_url(article), {**opened_form(client, article), **changes}
    )
    assert response.status_code == 302, response.context["errors"]


def restore_url(article, version):
    return reverse("admin:articles_article_restore", args=[article.pk, version.pk])


def revision_url(article, version):
    return reverse("admin:articles_article_revision", args=[article.pk, version.pk])


def compare_url(article):
    return reverse("admin:articles_article_compare", args=[article.pk])


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


def stored_in(version, model):
    """The field values of the `model` rows kept in the revision of `version`."""
    content_type = ContentType.objects.get_for_model(model)
    return [
        other.field_dict
        for other in version.revision.version_set.filter(content_type=content_type)
    ]


def figures_in(version):
    return sorted(
        (data["photo_id"], data["caption"], data["after_paragraph"])
        for data in stored_in(version, Figure)
    )


def bylines_in(version):
    return sorted(
        (data["position"], data["author_id"]) for data in stored_in(version, Byline)
    )


def parts_in(version):
    """Every row a revision keeps besides the article's own, as stored."""
    article_type = ContentType.objects.get_for_model(Article)
    return sorted(
        (other.content_type.model, other.object_id, other.field_dict)
        for other in version.revision.version_set.exclude(content_type=article_type)
    )


def delete_in_admin(client, obj):
    """Delete `obj` the way an editor does: its admin's delete page, confirmed.
    The admin's log keeps its name."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302


def assert_foreign_keys_hold():
    """What the database checks when the transaction commits: every row points
    at a row that exists. (A test's transaction is rolled back, never committed.)"""
    connection.check_constraints()


def image_file(name):
    # Small: a large image's renditions would take most of a test's time.
    return ContentFile(jpeg_bytes(size=(600, 340)), name=name)


def stored_files(article):
    return [article.image.name, *article.image_renditions.values()]


def image_of(article):
    """The article's image and what describes it."""
    return [
        article.image.name if name == "image" else getattr(article, name)
        for name in revisions.IMAGE_FIELDS
    ]


# Journeys through the admin ---------------------------------------------------


def test_every_admin_save_is_kept_with_who_when_and_the_articles_parts(
    client, editor, article, marchers, lake
):
    zara, ani = make_author(name="Zara"), make_author(name="Ani")
    client.force_login(editor)
    before = timezone.now()

    save_in_admin(
        client,
        article,
        title="Bread prices climb again",
        tags="bread, prices",
        **byline_form_data(zara, ani),
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
        tags="bread",
        **figure_rows(stored_figure(kept_lake, DELETE="on")),
    )

    first, moved, removed = Version.objects.get_for_object(article).order_by("pk")
    for version in (first, moved, removed):
        assert version.revision.user == editor
        assert before <= version.revision.date_created <= timezone.now()
        assert version.field_dict["title"] == "Bread prices climb again"
        # The byline, posted once, is kept by every save after.
        assert bylines_in(version) == [(0, zara.pk), (1, ani.pk)]
    assert revision_text(first)["Tags"] == "bread, prices"
    assert revision_text(removed)["Tags"] == "bread"
    assert figures_in(first) == sorted([(marchers.pk, "At noon.", 1), (lake.pk, "", 0)])
    assert figures_in(moved) == sorted([(marchers.pk, "At noon.", 3), (lake.pk, "", 0)])
    assert figures_in(removed) == [(marchers.pk, "At noon.", 3)]


def test_make_revision_keeps_what_an_admin_save_keeps(client, editor, article, lake):
    """The rule tests below make their revisions with make_revision()."""
    article.tags.add("bread", "prices")
    article.set_authors([make_author(name="Zara"), make_author(name="Ani")])
    make_figure(article, photo=lake, caption="At dusk.", after_paragraph=2)
    client.force_login(editor)
    save_in_admin(client, article)
    by_admin = Version.objects.get_for_object(article).first()

    by_test = make_revision(article)

    assert by_test.revision_id != by_admin.revision_id
    assert {model for model, _, _ in parts_in(by_admin)} == {
        "taggeditem",
        "tag",
        "byline",
        "figure",
    }
    assert parts_in(by_test) == parts_in(by_admin)


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


def test_the_comparison_shows_words_removed_and_added_in_each_field(
    client, editor, article, marchers, lake
):
    make_figure(article, photo=marchers, caption="At noon.", after_paragraph=1)
    old = make_revision(article)
    article.tags.add("bread")
    article.figures.update(after_paragraph=3)
    make_figure(article, photo=lake, after_paragraph=0)
    new = make_revision(
        article,
        title="Bread prices <b>soar</b>",
        body="<p>Bakers say flour costs tripled.</p>",
    )
    client.force_login(editor)

    response = client.get(compare_url(article), {"old": old.pk, "new": new.pk})

    assert response.status_code == 200
    page = response.content.decode()
    assert "<del>climb</del><ins>&lt;b&gt;soar&lt;/b&gt;</ins>" in page
    assert "<del>doubled.</del><ins>tripled.</ins>" in page
    assert "<ins>bread</ins>" in page
    assert "<h2>Figures</h2>" in page
    assert "<ins>Before the first paragraph: Lake Sevan at dusk\n</ins>" in page
    assert "<del>1: </del><ins>3: </ins>" in page
    assert revision_url(article, old) in page


def test_the_comparison_is_for_those_who_may_see_the_article(client, article):
    writer = make_staff("writer", "Writers")
    client.force_login(writer)

    response = client.get(compare_url(article))

    assert response.status_code == 403


def test_a_writer_cannot_restore_a_revision(client, article):
    version = make_revision(article)
    writer = make_staff("writer", "Writers")
    Article.objects.filter(pk=article.pk).update(created_by=writer, status="draft")
    client.force_login(writer)

    response = client.post(restore_url(article, version))

    assert response.status_code == 403
    assert Article.objects.get(pk=article.pk).status == "draft"


def test_a_writer_cannot_open_the_revision_of_someone_elses_article(client, article):
    version = make_revision(article)
    make_revision(article, title="Changed")
    client.force_login(make_staff("writer", "Writers"))

    response = client.get(revision_url(article, version))

    assert response.status_code == 403
    assert Article.objects.get(pk=article.pk).title == "Changed"


@pytest.fixture
def gone_since(
    client,
    editor,
    article,
    marchers,
    lake,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
):
    """The article's first revision, much of which has been deleted since: its
    category, one of its two authors and the photo of one of its two figures
    (deleted in the admin), its creator's account, and its image's files (gone
    when the image was replaced). Since then the article also changed its title,
    slug and tags; another article shares a tag it was given."""
    settings.MEDIA_ROOT = tmp_path
    politics = make_category(name="Politics", slug="politics")
    zara, ani, mher = (make_author(name=name) for name in ("Zara", "Ani", "Mher"))
    writer = make_staff("writer", "Writers")
    article.tags.add("bread")
    article.set_authors([zara, ani])
    make_figure(article, photo=marchers, caption="At noon.", after_paragraph=1)
    make_figure(article, photo=lake, after_paragraph=2)
    first = make_revision(
        article,
        category=politics,
        created_by=writer,
        image=image_file("first.jpg"),
        image_alt="The first image",
    )
    article.set_authors([mher])
    article.figures.filter(photo=marchers).delete()
    article.tags.add("wrong")
    make_article(title="Rivers rise", tags=["wrong"])
    # Replacing the image deletes its files once the save commits.
    with django_capture_on_commit_callbacks(execute=True):
        make_revision(
            article,
            title="Wrong",
            slug="wrong",
            category=make_category(name="News", slug="news"),
            image=image_file("second.jpg"),
            image_alt="The second image",
        )
    client.force_login(editor)
    delete_in_admin(client, politics)
    delete_in_admin(client, ani)
    # No story shows the photo any more, so an editor may delete it.
    delete_in_admin(client, marchers)
    # Accounts are an administrator's to delete, not an editor's.
    writer.delete()
    return first


GONE_WARNINGS = [
    "The category “Politics” no longer exists: the article stays in “News”.",
    "1 author was not restored: no longer in the newsroom.",
    "“Created by” is left empty: the account of that revision no longer exists.",
    "The image of that revision is no longer stored: the current image was kept.",
    "1 figure was not restored: its photo is no longer in the library.",
]


def test_an_editor_restores_a_revision_in_one_click_and_is_told_what_is_left_out(
    client, editor, article, gone_since
):
    response = client.post(restore_url(article, gone_since), follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "The earlier revision is restored." in page
    for warning in GONE_WARNINGS:
        assert warning in page
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert article.slug == "bread-prices-climb"
    assert list(article.tags.names()) == ["bread"]
    newest = Version.objects.get_for_object(article).first()
    assert newest.revision.user == editor
    assert newest.revision.get_comment().startswith("Restored the revision of")
    assert_foreign_keys_hold()
    assert client.get("/articles/wrong/").url == "/articles/bread-prices-climb/"
    assert client.get(article.get_absolute_url()).status_code == 200


def test_an_editor_reviews_a_revision_is_told_what_stays_and_saves_it(
    client, editor, article, lake, gone_since
):
    shown = client.get(revision_url(article, gone_since))

    assert shown.status_code == 200
    page = shown.content.decode()
    for warning in GONE_WARNINGS:
        assert warning in page
    form = shown.context["adminform"].form
    assert form["title"].value() == "Bread prices climb"
    assert form["category"].value() == Category.objects.get(name="News").pk
    assert form["image_alt"].value() == "The second image"
    (figures,) = [
        inline.formset
        for inline in shown.context["inline_admin_formsets"]
        if inline.formset.model is Figure
    ]
    assert [form.instance.photo for form in figures.initial_forms] == [lake]
    # Showing the revision changed nothing.
    assert Article.objects.get(pk=article.pk).title == "Wrong"

    saved = client.post(revision_url(article, gone_since), filled_in(form), follow=True)

    assert saved.status_code == 200
    page = saved.content.decode()
    assert "Someone else saved" not in page
    for warning in GONE_WARNINGS:
        assert warning in page
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert article.category.name == "News"
    assert [author.name for author in article.authors.all()] == ["Zara"]
    assert article.created_by is None
    assert article.image_alt == "The second image"
    assert figures_of(article) == [(lake, "", 2)]
    assert list(article.tags.names()) == ["bread"]
    sharing_the_tag = Article.objects.filter(tags__name="wrong")
    assert [other.title for other in sharing_the_tag] == ["Rivers rise"]
    # Saving the review is itself a revision.
    versions = Version.objects.get_for_object(article)
    assert versions.count() == 3
    assert versions.first().revision.user == editor
    assert (
        versions.first().revision.get_comment().startswith("Restored the revision of")
    )
    assert_foreign_keys_hold()


# What a restore brings back ---------------------------------------------------


def test_a_restore_brings_back_the_byline_in_order(editor, article):
    zara, ani, mher = (make_author(name=name) for name in ("Zara", "Ani", "Mher"))
    article.set_authors([zara, ani])
    first = make_revision(article)
    article.set_authors([mher])
    make_revision(article)

    revisions.restore(first, user=editor)

    assert [byline.author for byline in article.bylines.all()] == [zara, ani]


def test_a_restore_brings_the_figures_back_as_they_were(
    editor, article, marchers, lake
):
    make_figure(article, photo=marchers, caption="At noon.", after_paragraph=1)
    make_figure(article, photo=lake, after_paragraph=2)
    first = make_revision(article)
    # Since then: one figure removed, one moved and recaptioned, one added.
    article.figures.filter(photo=marchers).delete()
    article.figures.filter(photo=lake).update(caption="Later.", after_paragraph=0)
    added = make_figure(article, alt="Added since")
    make_revision(article)

    restored = revisions.restore(first, user=editor)

    assert figures_of(article) == [(marchers, "At noon.", 1), (lake, "", 2)]
    assert Photo.objects.filter(pk=added.photo_id).exists()
    assert restored.left_out == revisions.LeftOut()
    assert left_out_messages(restored.left_out, restored.article) == []
    newest = Version.objects.get_for_object(article).first()
    assert figures_in(newest) == figures_in(first)


def test_a_restore_takes_a_tag_added_since_from_this_article_only(editor, article):
    other = make_article(tags=["politics"])
    article.tags.add("bread")
    first = make_revision(article)
    article.tags.add("politics")
    make_revision(article)

    revisions.restore(first, user=editor)

    assert list(article.tags.names()) == ["bread"]
    assert list(other.tags.names()) == ["politics"]


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
    assert Version.objects.get_for_object(theirs).get().revision == published.revision
    make_revision(ours, title="Ours, changed")
    make_revision(theirs, title="Theirs, changed since")

    assert revision_text(published)["Tags"] == "bread"
    assert revision_text(published)["Figures"] == (
        "After paragraph 1: Marchers on Baghramyan Avenue"
    )
    revisions.restore(published, user=editor)

    assert Article.objects.get(pk=ours.pk).title == "Ours"
    assert Article.objects.get(pk=theirs.pk).title == "Theirs, changed since"
    assert figures_of(theirs) == [(lake, "", 1)]
    assert list(theirs.tags.names()) == ["rivers"]


def test_a_revision_from_before_figures_were_kept_leaves_the_figures_alone(
    editor, article
):
    old = make_revision(article)
    make_figure(article, alt="Shown for years")

    revisions.restore(old, user=editor)

    assert [str(figure) for figure in article.figures.all()] == ["Shown for years"]


def test_a_revision_without_figures_removes_the_figures_added_since(editor, article):
    # Figures are kept in revisions since this one.
    make_revision(make_figure(make_article()).article)
    without = make_revision(article)
    make_figure(article, alt="Added since")

    revisions.restore(without, user=editor)

    assert not article.figures.exists()


def test_a_revision_whose_image_is_still_stored_brings_it_back(
    editor, article, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    first = make_revision(
        article, image=image_file("first.jpg"), image_alt="The first image"
    )
    first_name = Article.objects.get(pk=article.pk).image.name
    # Without the commit, the first image's files are still there.
    make_revision(article, image=image_file("second.jpg"), image_alt="The second")

    restored = revisions.restore(first, user=editor)

    assert restored.left_out == revisions.LeftOut()
    article.refresh_from_db()
    assert (article.image.name, article.image_alt) == (first_name, "The first image")


# What a restore leaves out: deleted since the revision ------------------------


def test_a_restore_keeps_the_current_category_when_the_revisions_is_gone(
    client, editor, article
):
    politics = make_category(name="Politics", slug="politics")
    news = make_category(name="News", slug="news")
    first = make_revision(article, category=politics)
    make_revision(article, title="Wrong", category=news)
    client.force_login(editor)
    delete_in_admin(client, politics)

    restored = revisions.restore(first, user=editor)

    assert restored.left_out == revisions.LeftOut(category="Politics")
    assert left_out_messages(restored.left_out, restored.article) == [
        "The category “Politics” no longer exists: the article stays in “News”."
    ]
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert article.category == news
    assert_foreign_keys_hold()
    assert client.get(article.get_absolute_url()).status_code == 200


def test_a_category_deleted_outside_the_admin_is_left_out_without_its_name(editor):
    gone, kept = make_category(name="Gone"), make_category(name="Kept")
    article = make_article(category=gone)
    old = make_revision(article)
    Article.objects.filter(pk=article.pk).update(category=kept)
    gone.delete()

    restored = revisions.restore(old, user=editor)

    assert restored.left_out == revisions.LeftOut(category="")
    assert restored.article.category == kept
    assert left_out_messages(restored.left_out, restored.article) == [
        "The category of that revision no longer exists: the article stays in “Kept”."
    ]


def test_a_restore_leaves_out_an_author_deleted_since(client, editor, article):
    zara, ani, mher = (make_author(name=name) for name in ("Zara", "Ani", "Mher"))
    article.set_authors([zara, ani])
    first = make_revision(article)
    article.set_authors([mher])
    make_revision(article, title="Wrong")
    ani.delete()

    restored = revisions.restore(first, user=editor)

    assert restored.left_out == revisions.LeftOut(authors=1)
    assert left_out_messages(restored.left_out, restored.article) == [
        "1 author was not restored: no longer in the newsroom."
    ]
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert list(article.authors.all()) == [zara]
    assert_foreign_keys_hold()
    assert client.get(article.get_absolute_url()).status_code == 200


def test_a_restore_keeps_the_current_byline_when_all_its_authors_are_gone(
    editor, article
):
    ani, mher = make_author(name="Ani"), make_author(name="Mher")
    article.set_authors([ani])
    first = make_revision(article)
    article.set_authors([mher])
    make_revision(article, title="Wrong")
    ani.delete()

    restored = revisions.restore(first, user=editor)

    assert restored.left_out == revisions.LeftOut(authors=1, byline_kept=True)
    assert left_out_messages(restored.left_out, restored.article) == [
        "The author of that revision is no longer in the newsroom: the current "
        "byline was kept."
    ]
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert list(article.authors.all()) == [mher]
    assert_foreign_keys_hold()


def test_a_restore_leaves_empty_an_account_deleted_since(editor, article):
    writer = make_staff("writer", "Writers")
    first = make_revision(article, created_by=writer)
    make_revision(article, title="Wrong")
    writer.delete()

    restored = revisions.restore(first, user=editor)

    assert restored.left_out == revisions.LeftOut(accounts=["created by"])
    assert left_out_messages(restored.left_out, restored.article) == [
        "“Created by” is left empty: the account of that revision no longer exists."
    ]
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert article.created_by is None
    assert_foreign_keys_hold()


def test_a_restore_keeps_the_current_image_when_the_revisions_files_are_gone(
    client, editor, article, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    first = make_revision(
        article,
        image=image_file("first.jpg"),
        image_alt="The first image",
        image_caption="First caption.",
        image_credit="Photo: First",
    )
    first_files = stored_files(Article.objects.get(pk=article.pk))
    # Replacing the image deletes its files once the save commits.
    with django_capture_on_commit_callbacks(execute=True):
        make_revision(
            article,
            title="Wrong",
            image=image_file("second.jpg"),
            image_alt="The second image",
            image_caption="Second caption.",
            image_credit="Photo: Second",
        )
    article.refresh_from_db()
    current = image_of(article)
    assert not any(article.image.storage.exists(name) for name in first_files)

    restored = revisions.restore(first, user=editor)

    assert restored.left_out == revisions.LeftOut(image=True)
    assert left_out_messages(restored.left_out, restored.article) == [
        "The image of that revision is no longer stored: the current image was kept."
    ]
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert image_of(article) == current
    reader_page = client.get(article.get_absolute_url()).content.decode()
    assert "The second image" in reader_page
    assert not any(name in reader_page for name in first_files)


def test_a_figure_whose_photo_left_the_library_is_left_out(
    client, editor, article, marchers, lake
):
    article.tags.add("bread")
    make_figure(article, photo=marchers, caption="At noon.", after_paragraph=1)
    make_figure(article, photo=lake, after_paragraph=2)
    first = make_revision(article)
    article.figures.filter(photo=marchers).delete()
    article.tags.set(["wrong"])
    make_revision(article, title="Wrong")
    # No story shows the photo any more, so an editor may delete it.
    client.force_login(editor)
    delete_in_admin(client, marchers)

    restored = revisions.restore(first, user=editor)

    assert restored.left_out == revisions.LeftOut(figures=1)
    assert left_out_messages(restored.left_out, restored.article) == [
        "1 figure was not restored: its photo is no longer in the library."
    ]
    article.refresh_from_db()
    assert article.title == "Bread prices climb"
    assert list(article.tags.names()) == ["bread"]
    assert figures_of(article) == [(lake, "", 2)]
    assert not Figure.objects.filter(photo_id=marchers.pk).exists()
    assert client.get(article.get_absolute_url()).status_code == 200


# What a comparison shows ------------------------------------------------------


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


def test_the_comparison_lists_figures_in_page_order_with_their_captions(
    article, marchers, lake
):
    figure = make_figure(article, photo=marchers, caption="At noon.")
    old = make_revision(article)
    Figure.objects.filter(pk=figure.pk).update(after_paragraph=3)
    make_figure(article, photo=lake, after_paragraph=0)
    new = make_revision(article)

    assert revision_text(old)["Figures"] == (
        "After paragraph 1: Marchers on Baghramyan Avenue (caption: At noon.)"
    )
    assert revision_text(new)["Figures"] == (
        "Before the first paragraph: Lake Sevan at dusk\n"
        "After paragraph 3: Marchers on Baghramyan Avenue (caption: At noon.)"
    )


def test_the_comparison_names_a_photo_that_left_the_library(article):
    figure = make_figure(article, alt="Gone", after_paragraph=2)
    version = make_revision(article)
    figure.delete()
    figure.photo.delete()

    assert revision_text(version)["Figures"] == (
        "After paragraph 2: (a photo no longer in the library)"
    )


def test_the_comparison_says_when_a_revisions_image_is_no_longer_stored(
    article, gone_since
):
    newest = Version.objects.get_for_object(article).first()

    differences = revisions.compare_versions(gone_since, newest)

    (image,) = [diff for diff in differences if diff.label == "Image"]
    old_side = "".join(text for kind, text in image.pieces if kind != "insert")
    assert old_side.endswith(" (no longer stored)")
    new_side = "".join(text for kind, text in image.pieces if kind != "delete")
    assert "no longer stored" not in new_side
