"""The newsroom's front page (the admin index): what needs an editor now, and a
writer's own stories, each panel drawn by the app that owns it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from articles import workflow
from articles.models import Article
from newsletter.models import Issue
from tests.factories import (
    make_article,
    make_comment,
    make_issue,
    make_newsletter,
    make_staff,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


@pytest.fixture
def writer():
    return make_staff("writer", "Writers")


@pytest.fixture
def editor():
    return make_staff("editor", "Editors")


def submitted_by(user, **fields):
    article = make_article(
        created_by=user, status=Article.Status.DRAFT, published_at=None, **fields
    )
    workflow.submit_for_review(article)
    return article


def test_editors_see_the_stories_ready_for_review(client, writer, editor):
    submitted_by(writer, title="Bridge reopens after repairs")
    make_article(title="Still a draft", status=Article.Status.DRAFT, published_at=None)
    client.force_login(editor)

    page = client.get(INDEX).content.decode()

    assert "Ready for review (1)" in page
    assert "Bridge reopens after repairs" in page
    assert "Still a draft" not in page


def test_editors_see_scheduled_stories_and_their_times(client, editor):
    due = timezone.now() + timedelta(days=2)
    make_article(title="Budget day preview", published_at=due)
    make_article(title="Already out")
    client.force_login(editor)

    page = client.get(INDEX).content.decode()

    assert "Budget day preview" in page
    assert timezone.localtime(due).strftime("%-d %b %Y %H:%M") in page
    assert "Already out" not in page


def test_editors_see_pending_comments(client, editor):
    from comments.models import Comment

    make_comment(make_article(), author_name="Anahit", status=Comment.Status.PENDING)
    client.force_login(editor)

    page = client.get(INDEX).content.decode()

    assert "Comments (1 pending)" in page
    assert "Anahit" in page


def test_editors_see_newsletter_sends_in_progress(client, editor):
    newsletter = make_newsletter(name="Morning briefing")
    make_issue(newsletter, subject="Tuesday's briefing", status=Issue.Status.SENDING)
    make_issue(newsletter, subject="Last week's", status=Issue.Status.SENT)
    client.force_login(editor)

    page = client.get(INDEX).content.decode()

    assert "Newsletter sends in progress" in page
    assert "Tuesday&#x27;s briefing" in page
    assert "Last week" not in page


def test_a_writer_sees_where_each_of_their_stories_stands(client, writer):
    submitted_by(writer, title="Pensions explained")
    sent_back = submitted_by(writer, title="Rents in the capital")
    workflow.send_back(sent_back, note="Add last year's figures.")
    make_article(
        title="Another writer's draft", status=Article.Status.DRAFT, published_at=None
    )
    client.force_login(writer)

    page = client.get(INDEX).content.decode()

    assert "Your stories in progress" in page
    assert "Pensions explained" in page
    assert "Ready for review" in page
    assert "Add last year&#x27;s figures." in page
    assert "Another writer" not in page
    assert "Ready for review (" not in page  # the editors' queue is not theirs


def test_the_front_page_carries_the_site_name(client, editor, settings):
    client.force_login(editor)

    page = client.get(INDEX).content.decode()

    assert f"{settings.SITE_NAME} newsroom" in page
