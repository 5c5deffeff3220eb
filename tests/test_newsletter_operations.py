"""Operating a send: suppressing addresses, pausing, resuming, cancelling, and
the progress an operator sees."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from newsletter import sending, services
from newsletter.models import Delivery, Issue, Subscriber
from tests.factories import make_article, make_issue, make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db

DUMMY_TASKS = {
    "default": {
        "BACKEND": "django.tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "newsletter"],
    }
}


@pytest.fixture
def newsletter():
    return make_newsletter()


@pytest.fixture
def issue(newsletter, settings):
    # Tasks are queued, not run: each test drives the sending itself.
    settings.TASKS = DUMMY_TASKS
    return make_issue(newsletter, articles=[make_article()])


def started(issue, newsletter, readers=4):
    subscribers = [make_subscriber(newsletter) for _ in range(readers)]
    services.start_sending(issue=issue)
    return subscribers


def test_a_suppressed_address_is_not_mailed_by_the_next_issue(newsletter, issue):
    kept, bounced = make_subscriber(newsletter), make_subscriber(newsletter)

    assert services.suppress_address(bounced.email.upper(), "bounced")
    services.start_sending(issue=issue)
    sending.send_batch(issue.pk)

    bounced.refresh_from_db()
    assert bounced.status == Subscriber.Status.BOUNCED
    assert [message.to for message in mail.outbox] == [[kept.email]]


def test_a_suppressed_address_is_skipped_by_a_send_in_progress(newsletter, issue):
    first, second = started(issue, newsletter, readers=2)

    services.suppress_address(second, "complained")
    sending.send_batch(issue.pk)

    assert [message.to for message in mail.outbox] == [[first.email]]
    assert Delivery.objects.get(subscriber=second).status == Delivery.Status.SKIPPED


def test_a_bounce_never_replaces_a_complaint(newsletter):
    subscriber = make_subscriber(newsletter, status=Subscriber.Status.COMPLAINED)
    assert services.suppress_address(subscriber, "bounced")
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.COMPLAINED


def test_suppressing_an_unknown_address_says_so():
    assert services.suppress_address("nobody@example.org", "bounced") is False


def test_suppressing_needs_a_known_reason(newsletter):
    with pytest.raises(ValueError, match="reason"):
        services.suppress_address(make_subscriber(newsletter), "unsubscribed")


def test_a_paused_send_sends_nothing_until_it_is_resumed(newsletter, issue):
    started(issue, newsletter)

    assert services.pause_send(issue)
    result = sending.send_batch(issue.pk)

    assert result.claimed == 0
    assert mail.outbox == []
    issue.refresh_from_db()
    assert issue.status == Issue.Status.PAUSED
    assert services.resume_send(issue) == 4
    sending.send_batch(issue.pk)
    assert len(mail.outbox) == 4
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_a_pause_stops_a_worker_between_slices(newsletter, issue, settings):
    settings.NEWSLETTER_SENDING_SLICE = 2
    started(issue, newsletter, readers=6)
    rows = sending.claim_batch(issue.pk, worker="w", size=6)
    batch = sending._Batch(worker="w", mail=None, connection=None)
    assert batch.begin_slice(rows[:2]) == rows[:2]

    services.pause_send(issue)

    # The slice being sent finishes; the next one is not started.
    assert batch.begin_slice(rows[2:4]) == []
    counts = issue.progress()
    assert (counts["sending"], counts["pending"], counts["claimed"]) == (2, 4, 0)


def test_a_cancelled_send_never_sends_the_rest(newsletter, issue):
    started(issue, newsletter)

    assert services.cancel_send(issue) == 4
    sending.send_batch(issue.pk)

    assert mail.outbox == []
    issue.refresh_from_db()
    assert issue.status == Issue.Status.CANCELLED
    assert issue.finished_at is not None
    assert issue.progress()["cancelled"] == 4
    with pytest.raises(ValidationError):
        services.resume_send(issue)


def test_only_a_send_in_progress_can_be_cancelled(newsletter):
    with pytest.raises(ValidationError):
        services.cancel_send(make_issue(newsletter))


def test_a_writer_may_not_pause_resume_or_cancel(newsletter, issue):
    from tests.factories import make_staff

    started(issue, newsletter)
    writer = make_staff("writer", "Writers")
    for operation in (services.pause_send, services.resume_send, services.cancel_send):
        with pytest.raises(services.PermissionDenied):
            operation(issue, user=writer)


def test_progress_counts_outcomes_and_lists_failures_with_reasons(newsletter, issue):
    subscribers = started(issue, newsletter, readers=5)
    now = timezone.now()
    Delivery.objects.filter(subscriber__in=subscribers[:3]).update(
        status=Delivery.Status.SENT, sent_at=now
    )
    Delivery.objects.filter(subscriber=subscribers[3]).update(
        status=Delivery.Status.FAILED, error="550 No such user", attempts=1
    )

    progress = services.send_progress(issue)

    assert progress.counts["sent"] == 3
    assert progress.counts["failed"] == 1
    assert progress.done == 4
    assert progress.rate == 3 / 60
    assert progress.eta_seconds == pytest.approx(20)
    assert progress.failures == [
        {"email": subscribers[3].email, "error": "550 No such user", "attempts": 1}
    ]
    assert progress.state == "sending"
    line = services.describe_progress(progress)
    assert line.startswith(f"Issue {issue.pk}: sending, 4/5 done, 3 sent, 1 failed")


def test_a_send_nobody_works_on_looks_stalled(newsletter, issue):
    started(issue, newsletter)
    Issue.objects.filter(pk=issue.pk).update(
        started_at=timezone.now() - timedelta(minutes=10)
    )

    progress = services.send_progress(issue)

    assert progress.stalled
    assert progress.state.startswith("stalled")


def test_a_send_waiting_for_the_mail_server_says_so(newsletter, issue):
    started(issue, newsletter)
    Issue.objects.filter(pk=issue.pk).update(
        started_at=timezone.now() - timedelta(minutes=10),
        waiting_until=timezone.now() + timedelta(minutes=1),
        last_error="Connection refused",
    )

    progress = services.send_progress(issue)

    assert not progress.stalled
    assert progress.state == "waiting for the mail server"
    assert "last error: Connection refused" in services.describe_progress(progress)
