"""The editors' newsroom through real admin requests, one persona at a time:
a writer, another writer, an editor and an anonymous visitor."""

import io
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

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

CHANGELIST = reverse("admin:articles_article_changelist")
ADD = reverse("admin:articles_article_add")


def change_url(article):
    return reverse("admin:articles_article_change", args=[article.pk])


@pytest.fixture
def writer():
    user = make_staff("writer", "Writers")
    make_author(name="Writer Byline", slug="writer-byline", user=user)
    return user


@pytest.fixture
def other_writer():
    return make_staff("other", "Writers")


@pytest.fixture
def editor():
    return make_staff("editor", "Editors")


@pytest.fixture
def category():
    return make_category(name="Economy", slug="economy")


def draft_by(user, **fields):
    fields.setdefault("status", Article.Status.DRAFT)
    fields.setdefault("published_at", None)
    return make_article(created_by=user, **fields)


def form_data(category, **overrides):
    data = {
        "title": "Bread prices climb again",
        "slug": "bread-prices-climb-again",
        "standfirst": "",
        "dateline": "GYUMRI",
        "body": "<p>Bakers say flour costs doubled.</p>",
        "excerpt": "",
        "image_alt": "",
        "image_caption": "",
        "image_credit": "",
        "category": category.pk,
        "tags": "",
        "comments_enabled": "on",
        **no_inline_forms(),
        **byline_form_data(),
    }
    data.update(overrides)
    return data


def editor_form_data(category, **overrides):
    now = timezone.localtime()
    data = form_data(category)
    data.update(
        {
            "status": "published",
            "published_at_0": now.strftime("%Y-%m-%d"),
            "published_at_1": now.strftime("%H:%M:%S"),
        }
    )
    data.update(overrides)
    return data


# Anonymous


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_anonymous_post_changes_nothing(client, category):
    article = make_article(title="Untouched")

    response = client.post(change_url(article), form_data(category, title="Hacked"))

    assert response.status_code == 302
    article.refresh_from_db()
    assert article.title == "Untouched"


# Writers


def test_writer_sees_only_their_own_articles(client, writer, other_writer):
    mine = draft_by(writer, title="My draft on pensions")
    bylined = make_article(title="Bylined piece", authors=[writer.author])
    draft_by(other_writer, title="Someone else's scoop")
    client.force_login(writer)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    shown = set(response.context["cl"].result_list)
    assert shown == {mine, bylined}


def test_writer_opens_their_own_draft(client, writer):
    article = draft_by(writer)
    client.force_login(writer)

    assert client.get(change_url(article)).status_code == 200


def test_writer_is_refused_another_writers_article(client, writer, other_writer):
    article = draft_by(other_writer)
    client.force_login(writer)

    assert client.get(change_url(article)).status_code == 403


def test_writers_post_to_another_writers_article_is_refused(
    client, writer, other_writer, category
):
    article = draft_by(other_writer, title="Theirs")
    client.force_login(writer)

    response = client.post(change_url(article), form_data(category, title="Mine now"))

    assert response.status_code == 403
    article.refresh_from_db()
    assert article.title == "Theirs"


def test_writer_gets_not_found_redirect_for_a_missing_article(client, writer):
    client.force_login(writer)

    response = client.get(reverse("admin:articles_article_change", args=[999_999]))

    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_writers_new_article_with_status_published_stays_a_draft(
    client, writer, category
):
    client.force_login(writer)

    response = client.post(ADD, editor_form_data(category))

    assert response.status_code == 302
    article = Article.objects.get(slug="bread-prices-climb-again")
    assert article.status == Article.Status.DRAFT
    assert article.published_at is None
    assert article.created_by == writer
    assert list(article.authors.all()) == [writer.author]


def test_writers_edit_with_status_published_stays_a_draft(client, writer, category):
    article = draft_by(writer, category=category, slug="bread-prices-climb-again")
    client.force_login(writer)

    response = client.post(
        change_url(article),
        editor_form_data(category, title="Bread prices: a new high", is_featured="on"),
    )

    assert response.status_code == 302
    article.refresh_from_db()
    assert article.title == "Bread prices: a new high"
    assert article.status == Article.Status.DRAFT
    assert not article.is_featured


def test_writer_sees_status_but_cannot_edit_it(client, writer):
    article = draft_by(writer)
    client.force_login(writer)

    form = client.get(change_url(article)).context["adminform"].form

    assert "status" not in form.fields
    assert "published_at" not in form.fields


def test_writer_may_view_but_not_change_their_published_article(
    client, writer, category
):
    article = make_article(created_by=writer, category=category, title="Live")
    client.force_login(writer)

    assert client.get(change_url(article)).status_code == 200
    response = client.post(change_url(article), form_data(category, title="Edited"))

    assert response.status_code == 403
    article.refresh_from_db()
    assert article.title == "Live"


def test_writers_publish_action_is_refused(client, writer):
    article = draft_by(writer)
    client.force_login(writer)

    client.post(CHANGELIST, {"action": "publish", "_selected_action": [article.pk]})

    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT


def test_writer_is_not_offered_the_publish_actions(client, writer):
    draft_by(writer)
    client.force_login(writer)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert "Publish selected articles" not in response.text
    assert "Unpublish selected articles" not in response.text


# Editors


def test_editor_sees_every_article(client, editor, writer, other_writer):
    draft_by(writer)
    draft_by(other_writer)
    make_article()
    client.force_login(editor)

    response = client.get(CHANGELIST)

    assert response.context["cl"].result_count == 3


def test_editor_publishes_through_the_change_form(client, editor, writer, category):
    article = draft_by(writer, category=category, slug="bread-prices-climb-again")
    client.force_login(editor)

    response = client.post(change_url(article), editor_form_data(category))

    assert response.status_code == 302
    article.refresh_from_db()
    assert article.is_published


def test_editor_publish_action_publishes_drafts_and_keeps_scheduled_times(
    client, editor
):
    draft = draft_by(editor)
    planned = timezone.now() + timedelta(days=2)
    later = draft_by(editor, published_at=planned)
    client.force_login(editor)

    response = client.post(
        CHANGELIST,
        {"action": "publish", "_selected_action": [draft.pk, later.pk]},
        follow=True,
    )

    draft.refresh_from_db()
    later.refresh_from_db()
    assert draft.is_published
    assert later.is_scheduled and later.published_at == planned
    shown = [str(message) for message in response.context["messages"]]
    assert "1 article published." in shown
    assert any("scheduled" in message for message in shown)


def test_editor_unpublish_action_returns_articles_to_draft(client, editor):
    article = make_article()
    client.force_login(editor)

    client.post(CHANGELIST, {"action": "unpublish", "_selected_action": [article.pk]})

    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    assert not Article.objects.published().exists()


def test_changelist_labels_scheduled_articles(client, editor):
    make_article(title="Tomorrow's story", published_at=timezone.now() + timedelta(1))
    client.force_login(editor)

    response = client.get(CHANGELIST)

    assert "Scheduled" in response.text


@pytest.mark.parametrize("state", ["draft", "scheduled", "published"])
def test_status_filter(client, editor, state):
    articles = {
        "draft": draft_by(editor),
        "scheduled": make_article(published_at=timezone.now() + timedelta(days=1)),
        "published": make_article(),
    }
    client.force_login(editor)

    response = client.get(CHANGELIST, {"state": state})

    assert list(response.context["cl"].result_list) == [articles[state]]


def test_changelist_search_finds_by_title_and_author(client, editor):
    author = make_author(name="Narine Vardanyan")
    make_article(title="Apricot harvest", authors=[author])
    make_article(title="Football results")
    client.force_login(editor)

    by_title = client.get(CHANGELIST, {"q": "apricot"}).context["cl"].result_count
    by_author = client.get(CHANGELIST, {"q": "vardanyan"}).context["cl"].result_count

    assert (by_title, by_author) == (1, 1)


def test_changelist_queries_do_not_grow_with_articles(
    client, editor, django_assert_max_num_queries
):
    category = make_category()
    author = make_author()
    for _ in range(30):
        make_article(category=category, authors=[author])
    client.force_login(editor)

    # 12, and the savepoint of the revision block around the list (its actions
    # save articles, and reversion keeps those saves too).
    with django_assert_max_num_queries(14):
        response = client.get(CHANGELIST)

    assert response.status_code == 200


def test_body_posted_through_the_admin_is_stored_clean(client, editor, category):
    client.force_login(editor)

    client.post(
        ADD,
        editor_form_data(
            category, body='<p onclick="steal()">Text<script>alert(1)</script></p>'
        ),
    )

    assert Article.objects.get().body == "<p>Text</p>"


def test_a_correction_in_the_admin_reaches_the_excerpt_shown_in_the_form(
    client, editor, category
):
    client.force_login(editor)
    client.post(ADD, editor_form_data(category, body="<p>Flour costs doubled.</p>"))
    article = Article.objects.get()
    assert article.excerpt == "Flour costs doubled."

    # The form shows the excerpt taken from the body and posts it back unchanged.
    shown = client.get(change_url(article)).context["adminform"].form["excerpt"]
    client.post(
        change_url(article),
        editor_form_data(
            category, body="<p>Flour costs tripled.</p>", excerpt=shown.value()
        ),
    )
    article.refresh_from_db()
    assert article.excerpt == "Flour costs tripled."


def test_the_form_refuses_a_slug_that_redirects_to_another_article(
    client, editor, category
):
    published = make_article(slug="bread-prices-climb-again", category=category)
    published.slug = "bread-prices-climb"
    published.save()
    client.force_login(editor)

    response = client.post(ADD, editor_form_data(category))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "old links" in form.errors["slug"][0]
    assert Article.objects.count() == 1
    assert client.get("/articles/bread-prices-climb-again/").status_code == 301


def test_body_uses_the_prose_editor(client, editor):
    client.force_login(editor)

    response = client.get(ADD)

    assert "prose-editor" in response.text


def test_view_on_site_leads_to_the_public_address(client, editor):
    article = draft_by(editor, slug="quiet-draft")
    content_type = ContentType.objects.get_for_model(Article)
    client.force_login(editor)

    assert "View on site" in client.get(change_url(article)).text
    response = client.get(
        reverse("admin:view_on_site", args=[content_type.pk, article.pk])
    )

    assert response.status_code == 302
    assert response.url.endswith("/articles/quiet-draft/")


def view_on_site(article):
    content_type = ContentType.objects.get_for_model(Article)
    return reverse("admin:view_on_site", args=[content_type.pk, article.pk])


def test_writer_follows_view_on_site_to_their_own_draft(client, writer):
    article = draft_by(writer, slug="my-draft")
    client.force_login(writer)

    response = client.get(view_on_site(article))

    assert response.status_code == 302
    assert response.url.endswith("/articles/my-draft/")


def test_view_on_site_does_not_reveal_another_writers_draft(
    client, writer, other_writer
):
    article = draft_by(other_writer, slug="their-secret-draft")
    client.force_login(writer)

    response = client.get(view_on_site(article))

    assert response.status_code == 404
    assert "their-secret-draft" not in response.text


def test_view_on_site_of_a_missing_object_or_unknown_type_is_404(client, editor):
    client.force_login(editor)
    content_type = ContentType.objects.get_for_model(Article)

    for args in ([content_type.pk, 999999], [content_type.pk, "x"], [999999, 1]):
        response = client.get(reverse("admin:view_on_site", args=args))
        assert response.status_code == 404


def test_view_on_site_is_for_staff_only(client):
    article = make_article(slug="public-story")

    response = client.get(view_on_site(article))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# Related articles: a writer may pin their own and published articles, and sees
# no other unpublished one, whatever they type or post.


def test_writer_cannot_pin_another_writers_draft_by_posting_its_id(
    client, writer, other_writer, category
):
    secret = draft_by(other_writer, title="Tram line secret draft")
    article = draft_by(writer, category=category)
    client.force_login(writer)

    response = client.post(
        change_url(article),
        form_data(category, related_articles=[secret.pk]),
    )

    assert response.status_code == 200
    assert "related_articles" in response.context["adminform"].form.errors
    assert "Tram line secret draft" not in response.text
    assert not article.related_articles.exists()


def test_writer_pins_their_own_draft_and_a_published_article(
    client, writer, other_writer, category
):
    own_draft = draft_by(writer, title="My other draft")
    published = make_article(title="Tram line approved", created_by=other_writer)
    article = draft_by(writer, category=category)
    client.force_login(writer)

    response = client.post(
        change_url(article),
        form_data(category, related_articles=[own_draft.pk, published.pk]),
    )

    assert response.status_code == 302
    assert set(article.related_articles.all()) == {own_draft, published}


def test_writer_does_not_see_nor_drop_an_editors_pin_to_another_draft(
    client, writer, other_writer, category
):
    secret = draft_by(other_writer, title="Tram line secret draft")
    article = draft_by(writer, category=category)
    article.related_articles.add(secret)
    client.force_login(writer)

    assert "Tram line secret draft" not in client.get(change_url(article)).text
    response = client.post(change_url(article), form_data(category))

    assert response.status_code == 302
    assert list(article.related_articles.all()) == [secret]


def test_writer_viewing_their_published_article_sees_no_other_drafts_pin(
    client, writer, other_writer
):
    secret = draft_by(other_writer, title="Tram line secret draft")
    public = make_article(title="Tram line approved", created_by=other_writer)
    article = make_article(created_by=writer)
    article.related_articles.add(secret, public)
    client.force_login(writer)

    response = client.get(change_url(article))

    assert response.status_code == 200
    assert "Tram line approved" in response.text
    assert "Tram line secret draft" not in response.text


def test_editor_may_pin_any_article(client, editor, other_writer, category):
    draft = draft_by(other_writer, title="Tram line secret draft")
    article = draft_by(editor, category=category)
    client.force_login(editor)

    response = client.post(
        change_url(article),
        editor_form_data(category, related_articles=[draft.pk]),
    )

    assert response.status_code == 302
    assert list(article.related_articles.all()) == [draft]


# Images through the admin form


def jpeg_bytes(size=(1300, 700)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "orange").save(buffer, "JPEG")
    return buffer.getvalue()


def test_an_uploaded_image_gets_renditions(client, editor, category):
    client.force_login(editor)
    upload = SimpleUploadedFile("harbour.jpg", jpeg_bytes(), "image/jpeg")

    response = client.post(
        ADD, editor_form_data(category, image=upload, image_alt="The harbour")
    )

    assert response.status_code == 302
    article = Article.objects.get()
    assert set(article.image_renditions) == {"480", "800", "1200"}
    assert article.image_width == 1300


def test_a_non_image_upload_is_a_field_error(client, editor, category):
    client.force_login(editor)
    upload = SimpleUploadedFile("notes.jpg", b"plain text", "image/jpeg")

    response = client.post(ADD, editor_form_data(category, image=upload, image_alt="x"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["image"]
    assert "not an image we can read" in errors[0]
    assert not Article.objects.exists()


def test_an_image_without_alt_text_is_a_field_error(client, editor, category):
    client.force_login(editor)
    upload = SimpleUploadedFile("harbour.jpg", jpeg_bytes(), "image/jpeg")

    response = client.post(ADD, editor_form_data(category, image=upload))

    assert response.status_code == 200
    assert "image_alt" in response.context["adminform"].form.errors


# The smaller admins


@pytest.mark.parametrize(
    "name", ["articles_category", "articles_author", "articles_slugredirect"]
)
def test_editor_can_search_the_supporting_lists(client, editor, name):
    client.force_login(editor)

    response = client.get(reverse(f"admin:{name}_changelist"), {"q": "x"})

    assert response.status_code == 200


def test_writer_cannot_edit_categories(client, writer, category):
    client.force_login(writer)

    response = client.post(
        reverse("admin:articles_category_change", args=[category.pk]),
        {"name": "Renamed", "slug": "renamed", "position": 0},
    )

    assert response.status_code == 403


def test_writer_can_find_authors_for_the_byline(client, writer):
    client.force_login(writer)

    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "articles",
            "model_name": "byline",
            "field_name": "author",
            "term": "writer",
        },
    )

    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["Writer Byline"]


def test_writer_can_pin_any_published_article_as_related(client, writer, other_writer):
    make_article(title="Tram line approved", created_by=other_writer)
    draft_by(other_writer, title="Tram line secret draft")
    client.force_login(writer)

    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "articles",
            "model_name": "article",
            "field_name": "related_articles",
            "term": "tram",
        },
    )

    assert [row["text"] for row in response.json()["results"]] == ["Tram line approved"]


def test_writer_finds_their_own_draft_to_pin_but_no_other(client, writer, other_writer):
    draft_by(writer, title="Tram depot my draft")
    draft_by(other_writer, title="Tram line secret draft")
    make_article(
        title="Tram fares scheduled",
        created_by=other_writer,
        published_at=timezone.now() + timedelta(days=1),
    )
    client.force_login(writer)

    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "articles",
            "model_name": "article",
            "field_name": "related_articles",
            "term": "tram",
        },
    )

    assert [row["text"] for row in response.json()["results"]] == [
        "Tram depot my draft"
    ]
