"""The review workflow: a writer submits a draft, editors are told, an editor
sends it back with a note or publishes it. The rules, then the admin's pages."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.tasks import task_backends
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from articles import workflow
from articles.models import Article
from articles.tasks import notify_editors
from tests.factories import (
    make_article,
    make_author,
    make_category,
    make_staff,
    no_inline_forms,
)

pytestmark = pytest.mark.django_db

DUMMY_TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def writer():
    user = make_staff("writer", "Writers")
    make_author(name="Writer Byline", slug="writer-byline", user=user)
    return user


@pytest.fixture
def editor():
    return make_staff("editor", "Editors")


def draft_by(user, **fields):
    fields.setdefault("status", Article.Status.DRAFT)
    fields.setdefault("published_at", None)
    return make_article(created_by=user, **fields)


def change_url(article):
    return reverse("admin:articles_article_change", args=[article.pk])


def send_back_url(article):
    return reverse("admin:articles_article_send_back", args=[article.pk])


def form_data(article, **overrides):
    data = {
        "title": article.title,
        "slug": article.slug,
        "standfirst": "",
        "dateline": "",
        "body": article.body,
        "excerpt": "",
        "image_alt": "",
        "image_caption": "",
        "image_credit": "",
        "category": article.category_id,
        "tags": "",
        "comments_enabled": "on",
        **no_inline_forms(),
    }
    data.update(overrides)
    return data


# The rules


def test_submitting_a_draft_makes_it_ready_for_review(writer):
    article = draft_by(writer)

    workflow.submit_for_review(article)

    article.refresh_from_db()
    assert article.status == Article.Status.REVIEW
    assert article.submitted_at is not None
    assert list(Article.objects.in_review()) == [article]


def test_an_article_in_review_is_not_public(writer):
    article = draft_by(writer)

    workflow.submit_for_review(article)

    assert not Article.objects.published().exists()


def test_an_article_put_in_review_any_other_way_gets_a_submission_time(writer):
    article = draft_by(writer)

    article.status = Article.Status.REVIEW
    article.save()

    article.refresh_from_db()
    assert article.submitted_at is not None


def test_only_a_draft_can_be_submitted():
    article = make_article()

    with pytest.raises(workflow.WorkflowError):
        workflow.submit_for_review(article)


def test_sending_back_needs_a_note(writer):
    article = draft_by(writer)
    workflow.submit_for_review(article)

    with pytest.raises(workflow.WorkflowError, match="note is required"):
        workflow.send_back(article, note="   ")

    article.refresh_from_db()
    assert article.status == Article.Status.REVIEW


def test_sending_back_returns_a_draft_with_the_note(writer):
    article = draft_by(writer)
    workflow.submit_for_review(article)

    workflow.send_back(article, note="Name the second source.")

    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    assert article.review_note == "Name the second source."


def test_only_an_article_in_review_can_be_sent_back(writer):
    article = draft_by(writer)

    with pytest.raises(workflow.WorkflowError):
        workflow.send_back(article, note="Why?")


def test_resubmitting_clears_the_old_note(writer):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    workflow.send_back(article, note="Shorter, please.")

    workflow.submit_for_review(article)

    article.refresh_from_db()
    assert article.status == Article.Status.REVIEW
    assert article.review_note == ""


def test_publishing_an_article_in_review_makes_it_public(writer):
    article = draft_by(writer)
    workflow.submit_for_review(article)

    workflow.publish(article)

    assert list(Article.objects.published()) == [article]


def test_publishing_with_a_future_time_schedules(writer):
    article = draft_by(writer, published_at=timezone.now() + timedelta(days=1))
    workflow.submit_for_review(article)

    workflow.publish(article)

    assert list(Article.objects.scheduled()) == [article]


def test_the_database_refuses_a_published_article_without_a_time():
    from django.db import IntegrityError

    article = make_article()
    with pytest.raises(IntegrityError):
        Article.objects.filter(pk=article.pk).update(published_at=None)


def test_an_article_in_review_may_have_no_publication_time(writer):
    article = draft_by(writer)

    workflow.submit_for_review(article)

    article.refresh_from_db()
    assert article.published_at is None


# The editors' email


def test_a_submission_emails_the_editors(
    writer, editor, django_capture_on_commit_callbacks
):
    article = draft_by(writer, title="Night trains return")

    with django_capture_on_commit_callbacks(execute=True):
        workflow.submit_for_review(article)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [editor.email]
    assert "Night trains return" in message.body
    assert "/admin/articles/article/?state=review" in message.body


def test_many_submissions_make_one_email_at_the_end_of_the_spell(
    writer, editor, django_capture_on_commit_callbacks
):
    articles = [draft_by(writer, title=f"Story number {n}") for n in range(4)]
    with override_settings(TASKS=DUMMY_TASKS):
        backend = task_backends["default"]
        with django_capture_on_commit_callbacks(execute=True):
            for article in articles:
                workflow.submit_for_review(article)
        enqueued = [result.task for result in backend.results]

        assert [t.name for t in enqueued] == ["notify_editors"] * 2
        first, deferred = enqueued
        assert first.run_after is None
        assert deferred.run_after >= timezone.now() + timedelta(minutes=14)

        assert notify_editors.call() == 4
        assert len(mail.outbox) == 1
        assert all(f"Story number {n}" in mail.outbox[0].body for n in range(4))
        # Nothing new since: the deferred run sends nothing.
        assert notify_editors.call() == 0


def test_the_next_notice_lists_only_articles_submitted_since(
    writer, editor, django_capture_on_commit_callbacks
):
    before = draft_by(writer, title="Before the spell")
    after = draft_by(writer, title="After the spell")
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            workflow.submit_for_review(before)
        traveller.shift(timedelta(minutes=16))
        with django_capture_on_commit_callbacks(execute=True):
            workflow.submit_for_review(after)

    assert len(mail.outbox) == 2
    assert "After the spell" in mail.outbox[1].body
    assert "Before the spell" not in mail.outbox[1].body


# The admin: writers


def test_a_writer_submits_from_the_change_form(client, writer):
    article = draft_by(writer, title="Pensions explained")
    client.force_login(writer)

    response = client.post(
        change_url(article), form_data(article, _submit_for_review="1")
    )

    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == Article.Status.REVIEW


def test_a_writers_draft_offers_submit_for_review(client, writer):
    article = draft_by(writer)
    client.force_login(writer)

    new = client.get(reverse("admin:articles_article_add")).content.decode()
    draft = client.get(change_url(article)).content.decode()

    assert 'name="_submit_for_review"' in new
    assert 'name="_submit_for_review"' in draft


def test_an_article_in_review_offers_no_submit_button(client, writer):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    client.force_login(writer)

    page = client.get(change_url(article)).content.decode()

    assert 'name="_submit_for_review"' not in page


def test_a_writer_can_submit_a_new_article_as_they_create_it(client, writer):
    category = make_category()
    client.force_login(writer)
    article = Article(
        title="Fresh", slug="fresh", body="<p>New.</p>", category=category
    )

    response = client.post(
        reverse("admin:articles_article_add"),
        form_data(article, _submit_for_review="1"),
    )

    assert response.status_code == 302
    assert Article.objects.get(slug="fresh").status == Article.Status.REVIEW


def test_a_writer_cannot_change_their_article_in_review(client, writer):
    article = draft_by(writer, title="Pensions explained")
    workflow.submit_for_review(article)
    client.force_login(writer)

    page = client.get(change_url(article))
    response = client.post(change_url(article), form_data(article, title="Changed"))

    assert page.status_code == 200
    assert "read-only" in page.content.decode()
    assert response.status_code == 403
    article.refresh_from_db()
    assert article.title == "Pensions explained"


def test_a_writer_cannot_delete_their_article_in_review(client, writer):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    client.force_login(writer)

    response = client.post(
        reverse("admin:articles_article_delete", args=[article.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Article.objects.filter(pk=article.pk).exists()


def test_the_writer_sees_the_editors_note_on_the_article_and_in_the_list(
    client, writer
):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    workflow.send_back(article, note="Name the second source.")
    client.force_login(writer)

    page = client.get(change_url(article))
    listing = client.get(reverse("admin:articles_article_changelist"))

    assert "Name the second source." in page.content.decode()
    assert "Name the second source." in listing.content.decode()


def test_a_writer_cannot_send_back(client, writer):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    client.force_login(writer)

    response = client.post(send_back_url(article), {"note": "Self-review"})

    assert response.status_code == 403
    article.refresh_from_db()
    assert article.status == Article.Status.REVIEW


# The admin: editors


def test_an_editor_sends_back_with_a_note(client, writer, editor):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    client.force_login(editor)

    form = client.get(send_back_url(article))
    response = client.post(send_back_url(article), {"note": "Check the dates."})

    assert form.status_code == 200
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == Article.Status.DRAFT
    assert article.review_note == "Check the dates."


def test_sending_back_without_a_note_shows_the_form_again(client, writer, editor):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    client.force_login(editor)

    response = client.post(send_back_url(article), {"note": "  "})

    assert response.status_code == 200
    assert "Tell the writer what to change" in response.content.decode()
    article.refresh_from_db()
    assert article.status == Article.Status.REVIEW


def test_the_change_form_of_an_article_in_review_offers_send_back(
    client, writer, editor
):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    client.force_login(editor)

    response = client.get(change_url(article))

    assert send_back_url(article) in response.content.decode()


def test_the_publish_action_publishes_articles_in_review(client, writer, editor):
    article = draft_by(writer)
    workflow.submit_for_review(article)
    client.force_login(editor)

    client.post(
        reverse("admin:articles_article_changelist"),
        {"action": "publish", "_selected_action": [article.pk]},
    )

    article.refresh_from_db()
    assert article.is_published


def test_editors_filter_the_list_to_articles_ready_for_review(client, writer, editor):
    waiting = draft_by(writer, title="Waiting")
    workflow.submit_for_review(waiting)
    draft_by(writer, title="Still a draft")
    client.force_login(editor)

    response = client.get(
        reverse("admin:articles_article_changelist") + "?state=review"
    )

    assert list(response.context["cl"].result_list) == [waiting]
