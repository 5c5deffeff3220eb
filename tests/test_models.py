from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser, Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from articles.models import Article, SlugRedirect, make_excerpt
from publicpages.generation import public_pages_generation
from tests.factories import (
    ensure_roles,
    make_article,
    make_author,
    make_category,
    make_staff,
)

pytestmark = pytest.mark.django_db


def _codenames(group_name):
    ensure_roles()
    group = Group.objects.get(name=group_name)
    return set(group.permissions.values_list("codename", flat=True))


def test_writers_may_draft_but_not_publish_or_delete():
    codenames = _codenames("Writers")
    assert {"add_article", "change_article", "view_article"} <= codenames
    assert "publish_article" not in codenames
    assert "delete_article" not in codenames


def test_editors_may_publish_and_manage_categories_and_redirects():
    codenames = _codenames("Editors")
    assert {"publish_article", "delete_article", "change_category"} <= codenames
    assert {"change_author", "delete_slugredirect", "change_tag"} <= codenames


# published(): the one visibility rule


def test_published_hides_drafts_and_future_articles():
    now = timezone.now()
    live = make_article(published_at=now - timedelta(minutes=1))
    make_article(status=Article.Status.DRAFT, published_at=now - timedelta(days=1))
    make_article(published_at=now + timedelta(hours=2))

    assert list(Article.objects.published()) == [live]


def test_scheduled_article_appears_by_itself_when_due():
    with time_machine.travel(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), tick=False):
        article = make_article(published_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
        assert not Article.objects.published().filter(pk=article.pk).exists()
        assert Article.objects.scheduled().filter(pk=article.pk).exists()
        assert article.is_scheduled and not article.is_published

    with time_machine.travel(datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC), tick=False):
        assert Article.objects.published().filter(pk=article.pk).exists()
        assert article.is_published


def test_publishing_without_a_time_publishes_now():
    with time_machine.travel(datetime(2026, 5, 4, 8, 30, tzinfo=UTC), tick=False):
        article = make_article(published_at=None)

    assert article.published_at == datetime(2026, 5, 4, 8, 30, tzinfo=UTC)


def test_draft_keeps_an_empty_publication_time():
    article = make_article(status=Article.Status.DRAFT, published_at=None)

    assert article.published_at is None


# save(): sanitising and derived fields


def test_save_sanitises_the_body():
    article = make_article(body='<p onclick="x()">Hi<script>alert(1)</script></p>')

    article.refresh_from_db()
    assert article.body == "<p>Hi</p>"


def test_save_sanitises_the_body_through_update_fields_too():
    article = make_article()
    article.body = '<p>Safe</p><img src="x" onerror="alert(1)">'
    article.save(update_fields=["body"])

    article.refresh_from_db()
    assert "onerror" not in article.body


def test_blank_excerpt_is_taken_from_the_body_as_plain_text():
    words = " ".join(f"word{n}" for n in range(60))
    article = make_article(
        body=f"<h2>Heading</h2><p>Fish &amp; chips.</p><p>{words}</p>"
    )

    assert article.excerpt.startswith("Heading Fish & chips. word0 word1")
    assert "<" not in article.excerpt
    assert article.excerpt.endswith("…")
    assert len(article.excerpt.split()) == 40


def test_written_excerpt_is_kept():
    article = make_article(excerpt="Our own summary.")

    assert article.excerpt == "Our own summary."


def test_a_corrected_first_paragraph_reaches_the_excerpt():
    article = make_article(body="<p>The minister resigned on Monday.</p>")
    assert article.excerpt == "The minister resigned on Monday."

    article.body = "<p>The minister resigned on Tuesday.</p>"
    article.save()
    assert article.excerpt == "The minister resigned on Tuesday."

    # From a fresh load too, and when only the body is saved.
    reloaded = Article.objects.get(pk=article.pk)
    reloaded.body = "<p>The minister stays.</p>"
    reloaded.save(update_fields=["body"])
    reloaded.refresh_from_db()
    assert reloaded.excerpt == "The minister stays."
    assert not reloaded.excerpt_is_custom


def test_an_excerpt_an_editor_wrote_stays_through_corrections_until_cleared():
    article = make_article(body="<p>First version.</p>")
    article.excerpt = "Our own summary."
    article.save()
    article.body = "<p>Second version.</p>"
    article.save()
    article.refresh_from_db()
    assert article.excerpt == "Our own summary."
    assert article.excerpt_is_custom

    article.excerpt = ""
    article.save()
    article.body = "<p>Third version.</p>"
    article.save()
    assert article.excerpt == "Third version."
    assert not article.excerpt_is_custom


def test_the_excerpt_migration_keeps_excerpts_editors_wrote():
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "articles.migrations.0008_article_excerpt_follows_body"
    )
    written = make_article(excerpt="Written by hand.")
    taken = make_article(body="<p>Taken from the body.</p>")
    Article.objects.update(excerpt_is_custom=False)

    migration.mark_excerpts_editors_wrote(apps, None)

    assert Article.objects.get(pk=written.pk).excerpt_is_custom
    assert not Article.objects.get(pk=taken.pk).excerpt_is_custom


def test_excerpt_of_a_short_body_is_not_marked_as_cut():
    assert make_excerpt("<p>Two words</p>") == "Two words"


# clean()


def test_image_without_alt_text_is_refused():
    article = make_article()
    article.image = "articles/2026/11/photo.jpg"

    with pytest.raises(ValidationError) as error:
        article.full_clean()

    assert "image_alt" in error.value.message_dict


def test_clean_fills_the_publication_time_when_publishing():
    article = Article(title="T", slug="t", category=make_category(), status="published")
    article.clean()

    assert article.published_at is not None


# Slug changes


def test_changing_the_slug_records_a_redirect_from_the_old_one():
    article = make_article(slug="first-title")
    article.slug = "better-title"
    article.save()

    redirect = SlugRedirect.objects.get(old_slug="first-title")
    assert redirect.article == article


def test_saving_without_a_slug_change_records_nothing():
    article = make_article(slug="steady")
    article.title = "New headline"
    article.save()

    assert not SlugRedirect.objects.exists()


def test_another_article_cannot_take_a_slug_that_redirects():
    first = make_article(slug="old-name")
    first.slug = "new-name"
    first.save()

    draft = Article(title="Draft", slug="old-name", category=first.category)
    with pytest.raises(ValidationError) as in_clean:
        draft.full_clean()
    assert "old links" in in_clean.value.message_dict["slug"][0]
    with pytest.raises(ValidationError):
        draft.save()

    # The old address still leads to the article that had it.
    assert SlugRedirect.objects.get(old_slug="old-name").article == first
    assert not Article.objects.filter(slug="old-name").exists()


def test_renaming_back_removes_the_redirect():
    article = make_article(slug="a-name")
    article.slug = "b-name"
    article.save()
    article.slug = "a-name"
    article.save()

    assert list(SlugRedirect.objects.values_list("old_slug", flat=True)) == ["b-name"]


def test_saving_an_article_invalidates_public_pages():
    article = make_article()
    before = public_pages_generation()

    article.title = "Changed"
    article.save()

    assert public_pages_generation() > before


def test_the_database_refuses_a_published_article_without_a_time():
    article = make_article(status=Article.Status.DRAFT, published_at=None)

    with pytest.raises(IntegrityError), transaction.atomic():
        Article.objects.filter(pk=article.pk).update(status=Article.Status.PUBLISHED)


# Who may see an article before readers do


def test_an_editor_may_preview_any_draft():
    editor = make_staff("editor", "Editors")
    draft = make_article(status=Article.Status.DRAFT, published_at=None)

    assert draft.can_be_previewed_by(editor)


def test_a_writer_may_preview_their_own_draft_or_bylined_one():
    writer = make_staff("writer", "Writers")
    byline = make_author(user=writer)
    created = make_article(status="draft", published_at=None, created_by=writer)
    bylined = make_article(status="draft", published_at=None, authors=[byline])

    assert created.can_be_previewed_by(writer)
    assert bylined.can_be_previewed_by(writer)


def test_a_writer_may_not_preview_another_writers_draft():
    writer = make_staff("writer", "Writers")
    other = make_staff("other", "Writers")
    draft = make_article(status="draft", published_at=None, created_by=other)

    assert not draft.can_be_previewed_by(writer)


def test_readers_and_inactive_staff_may_not_preview():
    editor = make_staff("editor", "Editors", is_active=False)
    draft = make_article(status="draft", published_at=None, created_by=editor)

    assert not draft.can_be_previewed_by(AnonymousUser())
    assert not draft.can_be_previewed_by(editor)
