"""Operating a send from the admin: the progress page (rate, estimated finish,
failed addresses, a stalled send told apart from a running one) and its pause,
resume and cancel buttons, through real admin requests."""

import importlib
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth.models import Group
from django.core import mail
from django.tasks import default_task_backend
from django.urls import reverse
from django.utils import timezone

from articles.models import User
from newsletter.models import Delivery, Issue
from tests.factories import make_article, make_issue, make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db

roles = importlib.import_module(
    "newsletter.migrations.0002_newsletters_and_editor_permissions"
)


@pytest.fixture
def editor():
    roles.create_newsletters_and_permissions(apps, None)
    user = User.objects.create_user(
        "editor", email="editor@newsroom.example", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Editors"))
    return user


@pytest.fixture
def viewer():
    """Staff who may watch a send but not operate it."""
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="newsletter", codename="view_issue"
        )
    )
    return user


def sending_issue(*, sent=0, pending=0, failed=(), last_sent=None):
    """An issue part-way through its send: `sent` delivered by `last_sent` (a
    moment), `pending` still to go, one failure per (email, error) in `failed`."""
    newsletter = make_newsletter()
    issue = make_issue(
        newsletter, subject="Trams", articles=[make_article(title="Tram line")]
    )
    now = timezone.now()
    last_sent = last_sent or now
    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.SENDING, started_at=last_sent - timedelta(minutes=1)
    )
    rows = [
        Delivery(
            issue=issue,
            subscriber=make_subscriber(newsletter),
            status=Delivery.Status.SENT,
            sent_at=last_sent,
            attempts=1,
        )
        for _ in range(sent)
    ]
    rows += [
        Delivery(issue=issue, subscriber=make_subscriber(newsletter))
        for _ in range(pending)
    ]
    rows += [
        Delivery(
            issue=issue,
            subscriber=make_subscriber(newsletter, email=email),
            status=Delivery.Status.FAILED,
            error=error,
            attempts=1,
        )
        for email, error in failed
    ]
    Delivery.objects.bulk_create(rows)
    issue.refresh_from_db()
    return issue


def url(name, issue):
    return reverse(f"admin:newsletter_issue_{name}", args=[issue.pk])


def test_a_running_send_shows_its_rate_and_estimated_finish(client, editor):
    issue = sending_issue(sent=120, pending=300)
    client.force_login(editor)

    page = client.get(url("progress", issue)).content.decode()

    # 120 in the last minute: 2 a second, so 300 more take 2.5 minutes.
    assert "Sending 2 emails a second (over the last minute)" in page
    assert "finished in about 2\xa0minutes" in page
    assert "Stalled" not in page
    assert 'http-equiv="refresh"' in page


def test_a_stalled_send_looks_different_from_a_running_one(client, editor):
    issue = sending_issue(
        sent=10, pending=50, last_sent=timezone.now() - timedelta(minutes=10)
    )
    client.force_login(editor)

    page = client.get(url("progress", issue)).content.decode()

    assert '<p class="errornote" id="send-state">Stalled:' in page
    assert "no worker is sending it" in page
    assert "emails a second" not in page
    assert 'value="Resume"' in page


def test_the_progress_page_lists_failed_addresses_and_why(client, editor):
    issue = sending_issue(
        sent=1,
        failed=[("gone@example.org", "(550, b'5.1.1 No such user')")],
    )
    other = sending_issue(failed=[("elsewhere@example.org", "(550, b'Nope')")])
    client.force_login(editor)

    page = client.get(url("progress", issue)).content.decode()

    assert "<td>gone@example.org</td><td>(550, b&#x27;5.1.1 No such user&#x27;)" in (
        page
    )
    listing = client.get(
        reverse("admin:newsletter_delivery_changelist")
        + f"?issue__id__exact={issue.pk}&status__exact=failed"
    )
    assert listing.status_code == 200
    content = listing.content.decode()
    assert "gone@example.org" in content
    assert "5.1.1 No such user" in content
    assert "elsewhere@example.org" not in content
    assert other.pk != issue.pk


def test_pause_then_resume_sends_the_rest(client, editor):
    issue = sending_issue(sent=2, pending=3)
    client.force_login(editor)

    client.post(url("pause", issue))
    issue.refresh_from_db()
    assert issue.status == Issue.Status.PAUSED
    paused = client.get(url("progress", issue)).content.decode()
    assert 'value="Resume"' in paused
    assert 'value="Pause"' not in paused
    assert 'http-equiv="refresh"' not in paused

    response = client.post(url("resume", issue), follow=True)

    assert "Resumed: 3 recipients to go." in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert len(mail.outbox) == 3


def test_cancel_asks_first_then_stops_the_send_for_good(client, editor):
    issue = sending_issue(sent=2, pending=1)
    client.force_login(editor)

    confirm = client.get(url("cancel", issue))
    assert "The <strong>1</strong> recipient still waiting" in confirm.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING

    response = client.post(url("cancel", issue), follow=True)

    assert "Cancelled: 1 recipient will not get this issue." in (
        response.content.decode()
    )
    issue.refresh_from_db()
    assert issue.status == Issue.Status.CANCELLED
    assert not issue.deliveries.filter(status=Delivery.Status.PENDING).exists()
    page = client.get(url("progress", issue)).content.decode()
    assert 'value="Resume"' not in page
    assert "Cancel the send" not in page
    client.post(url("resume", issue))
    assert mail.outbox == []


def test_staff_without_the_send_permission_watch_but_cannot_operate(client, viewer):
    issue = sending_issue(sent=1, pending=1)
    client.force_login(viewer)

    page = client.get(url("progress", issue))

    assert page.status_code == 200
    assert b'value="Pause"' not in page.content
    for action in ["pause", "resume", "cancel"]:
        assert client.post(url(action, issue)).status_code == 403
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING


def test_a_finished_send_offers_no_controls(client, editor):
    issue = sending_issue(sent=3)
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT)
    client.force_login(editor)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        page = client.get(url("progress", issue)).content.decode()
    assert "Status: <strong>Sent</strong>" in page
    assert "Stalled" not in page
    for label in ['value="Pause"', 'value="Resume"', "Cancel the send"]:
        assert label not in page


# "Send now" lists the recipients in a task -----------------------------------

QUEUED_TASKS = {
    "default": {
        "BACKEND": "django.tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "newsletter"],
    }
}


def test_send_now_returns_before_any_delivery_is_written(client, editor, settings):
    settings.TASKS = QUEUED_TASKS
    newsletter = make_newsletter()
    for _ in range(3):
        make_subscriber(newsletter)
    issue = make_issue(newsletter, articles=[make_article()])
    client.force_login(editor)

    response = client.post(url("send", issue), follow=True)

    assert "Sending to 3 subscribers." in response.content.decode()
    assert "Waiting for a worker to list the recipients" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.PREPARING
    assert issue.sent_by == editor
    assert not issue.deliveries.exists()
    [queued] = default_task_backend.results
    assert queued.task.name == "start_sending_issue"
    assert queued.args == [issue.pk]
    # Not editable, not sendable again while it is listed.
    assert client.get(url("send", issue)).status_code == 302
    assert not Issue.objects.on_the_web().exists()


def test_the_listing_task_writes_the_deliveries_and_starts_the_send(
    client, editor, settings
):
    from newsletter.tasks import start_sending_issue

    settings.TASKS = QUEUED_TASKS
    newsletter = make_newsletter()
    for _ in range(3):
        make_subscriber(newsletter)
    issue = make_issue(newsletter, articles=[make_article()])
    client.force_login(editor)
    client.post(url("send", issue))

    assert start_sending_issue.call(issue.pk) == 3

    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING
    assert issue.deliveries.filter(status=Delivery.Status.PENDING).count() == 3
    assert start_sending_issue.call(issue.pk) == 0  # a second run does nothing


def test_the_progress_page_counts_recipients_as_they_are_listed(client, editor):
    issue = sending_issue(pending=2)
    make_subscriber(issue.newsletter)  # confirmed, not listed yet
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.PREPARING)
    client.force_login(editor)

    page = client.get(url("progress", issue)).content.decode()

    assert "Listing the recipients: <strong>2</strong> of about 3 so far." in page
    assert 'http-equiv="refresh"' in page


def test_a_listing_that_died_part_way_is_finished_by_send_issue_due(settings):
    from newsletter import services

    issue = sending_issue(pending=2)
    newsletter = issue.newsletter
    unlisted = make_subscriber(newsletter)
    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.PREPARING,
        started_at=timezone.now()
        - timedelta(seconds=settings.NEWSLETTER_STALE_CLAIM_AFTER + 60),
    )

    services.send_due_issues()

    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert issue.deliveries.count() == 3
    assert issue.deliveries.filter(subscriber=unlisted).exists()
    assert len(mail.outbox) == 3
