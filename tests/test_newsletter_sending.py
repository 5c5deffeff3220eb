"""Sending an issue: deliveries, the shared body, per-recipient outcomes, a
server that goes away, crashes and resume. SMTP behaviour is checked against
aiosmtpd, a real SMTP server on loopback; the rest uses Django's locmem mailer."""

import io
import re
import smtplib
import socket
import threading
from collections import Counter
from datetime import timedelta
from email import message_from_bytes, policy
from unittest import mock

import pytest
import requests
import time_machine
from aiosmtpd.controller import Controller
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from articles.models import Article
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


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.NEWSLETTER_RETRY_BACKOFF = 0
    settings.NEWSLETTER_SMTP_ATTEMPTS = 3


@pytest.fixture
def newsletter():
    return make_newsletter(name="Morning Briefing", slug="morning")


@pytest.fixture
def issue(newsletter):
    article = make_article(title="Bridge reopens after repairs", image_alt="")
    return make_issue(newsletter, articles=[article], subject="Today's news")


def recipients():
    return Counter(message.to[0] for message in mail.outbox)


class WorkerKilled(BaseException):
    """Stands for the process dying: not an Exception, so nothing catches it."""


class CrashAfter(LocmemBackend):
    """A connection that accepts `n` messages and then dies mid-hand-over."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.left = n

    def send_messages(self, messages):
        if self.left == 0:
            raise WorkerKilled
        self.left -= 1
        return super().send_messages(messages)


class Scripted(LocmemBackend):
    """Answers each send with the next scripted exception (None = accept)."""

    def __init__(self, script, **kwargs):
        super().__init__(**kwargs)
        self.script = list(script)
        self.opened = 0

    def open(self):
        self.opened += 1

    def send_messages(self, messages):
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        return super().send_messages(messages)


def test_only_confirmed_subscribers_of_the_newsletter_get_a_delivery(newsletter, issue):
    wanted = make_subscriber(newsletter)
    make_subscriber(newsletter, status=Subscriber.Status.PENDING)
    make_subscriber(newsletter, status=Subscriber.Status.UNSUBSCRIBED)
    make_subscriber(newsletter, status=Subscriber.Status.BOUNCED)
    make_subscriber(newsletter, status=Subscriber.Status.COMPLAINED)
    make_subscriber(make_newsletter())

    assert services.start_sending(issue=issue) == 1

    assert list(Delivery.objects.values_list("subscriber", flat=True)) == [wanted.pk]
    assert recipients() == {wanted.email: 1}
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert issue.finished_at is not None


def test_database_refuses_a_second_delivery_for_one_subscriber(newsletter, issue):
    subscriber = make_subscriber(newsletter)
    Delivery.objects.create(issue=issue, subscriber=subscriber)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(issue=issue, subscriber=subscriber)


def test_an_issue_cannot_be_started_twice(newsletter, issue):
    make_subscriber(newsletter)
    services.start_sending(issue=issue)
    with pytest.raises(services.ValidationError):
        services.start_sending(issue=issue)
    assert len(mail.outbox) == 1


def test_each_email_has_personal_links_headers_and_both_parts(newsletter, issue):
    one, two = make_subscriber(newsletter), make_subscriber(newsletter)
    services.start_sending(issue=issue)

    by_address = {message.to[0]: message for message in mail.outbox}
    first, second = by_address[one.email], by_address[two.email]
    for message in (first, second):
        assert message.subject == "Today's news"
        assert message.extra_headers["List-Unsubscribe-Post"] == (
            "List-Unsubscribe=One-Click"
        )
        assert (
            message.extra_headers["List-Id"] == "Morning Briefing <morning.127.0.0.1>"
        )
        html = message.alternatives[0].content
        assert "Bridge reopens after repairs" in html
        assert "Bridge reopens after repairs" in message.body
        assert "1 Example Street" in message.body or "Example" in html
        assert sending.UNSUBSCRIBE_PLACEHOLDER not in html + message.body
        unsubscribe = message.extra_headers["List-Unsubscribe"].strip("<>")
        assert unsubscribe.startswith("http://127.0.0.1:8000/newsletter/unsubscribe/")
        assert unsubscribe in html and unsubscribe in message.body
    assert (
        first.extra_headers["List-Unsubscribe"]
        != second.extra_headers["List-Unsubscribe"]
    )
    assert first.extra_headers["Message-ID"] != second.extra_headers["Message-ID"]


def test_the_shared_body_is_rendered_once_per_issue(newsletter, issue, settings):
    settings.NEWSLETTER_BATCH_SIZE = 2
    for _ in range(5):
        make_subscriber(newsletter)
    with mock.patch(
        "newsletter.sending.render_to_string", wraps=sending.render_to_string
    ) as render:
        services.start_sending(issue=issue)
    assert render.call_count == 2  # HTML and text, once each
    assert len(mail.outbox) == 5


def test_an_unpublished_article_is_left_out(newsletter):
    draft = make_article(title="Not ready yet", status="draft")
    issue = make_issue(newsletter, articles=[draft, make_article(title="Ready")])
    html, text = sending.render_issue(issue)
    assert "Ready" in html
    assert "Not ready yet" not in html + text


def test_a_message_refused_for_now_is_retried_in_a_later_batch(
    newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    make_subscriber(newsletter)
    services.start_sending(issue=issue)
    connection = Scripted([smtplib.SMTPDataError(451, b"try later")])

    first = sending.send_batch(issue.pk, connection=connection)
    second = sending.send_batch(issue.pk, connection=connection)

    assert (first.deferred, second.sent) == (1, 1)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 2


def test_a_permanent_error_is_recorded_and_the_rest_still_go(
    newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    refused = make_subscriber(newsletter)
    fine = make_subscriber(newsletter)
    services.start_sending(issue=issue)
    connection = Scripted(
        [smtplib.SMTPRecipientsRefused({refused.email: (550, b"no such user")})]
    )

    sending.send_batch(issue.pk, connection=connection)

    assert Delivery.objects.get(subscriber=refused).status == Delivery.Status.FAILED
    assert "550 no such user" in Delivery.objects.get(subscriber=refused).error
    assert Delivery.objects.get(subscriber=fine).status == Delivery.Status.SENT
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert issue.progress()["failed"] == 1


def test_a_server_closing_on_us_makes_the_send_wait_with_nothing_in_doubt(
    newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    for _ in range(3):
        make_subscriber(newsletter)
    services.start_sending(issue=issue)
    connection = Scripted([smtplib.SMTPSenderRefused(421, b"busy", "news@x")])

    with pytest.raises(sending.ServerUnavailable):
        sending.send_batch(issue.pk, connection=connection)

    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING
    assert issue.waiting_until > timezone.now()
    assert issue.last_error == "421 busy"
    # Nobody claims a row while it waits.
    assert sending.send_batch(issue.pk, connection=Scripted([])).claimed == 0
    assert mail.outbox == []


def test_a_connection_lost_during_a_hand_over_leaves_that_one_in_doubt(
    newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    subscribers = [make_subscriber(newsletter) for _ in range(3)]
    services.start_sending(issue=issue)
    lost = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    result = sending.send_batch(issue.pk, connection=Scripted([lost]))

    assert (result.in_doubt, result.sent) == (1, 2)
    doubt = Delivery.objects.get(status=Delivery.Status.IN_DOUBT)
    assert doubt.subscriber == subscribers[0]
    assert "may have been delivered" in doubt.error
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_a_subscriber_who_leaves_mid_send_is_skipped(newsletter, issue, settings):
    settings.TASKS = DUMMY_TASKS
    stays, leaves = make_subscriber(newsletter), make_subscriber(newsletter)
    services.start_sending(issue=issue)
    services.unsubscribe(subscriber=leaves)

    sending.send_batch(issue.pk)

    assert recipients() == {stays.email: 1}
    assert Delivery.objects.get(subscriber=leaves).status == Delivery.Status.SKIPPED


def test_bounced_addresses_are_never_mailed_again(newsletter, issue):
    bounced = make_subscriber(newsletter, email="gone@example.org")
    call_command("mark_bounced", "GONE@example.org", stdout=mock.Mock())
    bounced.refresh_from_db()
    assert bounced.status == Subscriber.Status.BOUNCED
    services.start_sending(issue=issue)
    assert mail.outbox == []


@pytest.mark.parametrize("slice_size", [1, 3])
def test_a_crash_mid_batch_leaves_at_most_a_slice_in_doubt_and_resume_sends_the_rest(
    newsletter, issue, settings, slice_size
):
    """The worker dies while handing over its 5th message; the resume sends every
    other subscriber exactly once and never resends the rows that may have gone."""
    settings.TASKS = DUMMY_TASKS
    settings.NEWSLETTER_BATCH_SIZE = 8
    settings.NEWSLETTER_SENDING_SLICE = slice_size
    subscribers = [make_subscriber(newsletter) for _ in range(15)]
    services.start_sending(issue=issue)

    # Killed: no clean-up runs (a SIGKILL gives the process no chance to).
    with (
        mock.patch.object(sending._Batch, "release_unsent"),
        mock.patch.object(sending._Batch, "flush"),
        pytest.raises(WorkerKilled),
    ):
        sending.send_batch(issue.pk, worker="w1", connection=CrashAfter(4))

    counts = issue.progress()
    # Sent marks ride with the next slice's commit, so the slice being sent reads
    # "sending" as a whole: the bound is one slice.
    assert counts["sent"] + counts["sending"] == (4 // slice_size + 1) * slice_size
    assert counts["sending"] == slice_size
    assert counts["claimed"] == 8 - counts["sent"] - counts["sending"]
    assert counts["pending"] == 7

    # A resume right away leaves a possibly-live worker's rows alone...
    call_command("send_issue", issue.pk, "--resume", stdout=mock.Mock())
    assert issue.progress()["sending"] == counts["sending"]
    # ...and once they are stale, applies the rule.
    out = mock.Mock()
    call_command("send_issue", issue.pk, "--resume", "--stale-after", "0", stdout=out)

    after = issue.progress()
    assert after["in_doubt"] == counts["sending"]
    assert after["sent"] == 15 - after["in_doubt"]
    assert after["pending"] == after["claimed"] == after["sending"] == 0
    received = recipients()
    in_doubt = {d.subscriber for d in Delivery.objects.filter(status="in_doubt")}
    assert all(received[s.email] == 1 for s in subscribers if s not in in_doubt)
    assert all(received[s.email] <= 1 for s in in_doubt)
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert "in doubt" in "".join(str(call) for call in out.write.call_args_list)


def test_an_exception_mid_batch_hands_back_the_unstarted_rows(
    newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    for _ in range(4):
        make_subscriber(newsletter)
    services.start_sending(issue=issue)

    with pytest.raises(WorkerKilled):
        sending.send_batch(issue.pk, connection=CrashAfter(1))

    counts = issue.progress()
    assert (counts["sent"], counts["sending"], counts["pending"]) == (1, 1, 2)


def test_resend_in_doubt_is_an_explicit_choice(newsletter, issue, settings):
    settings.TASKS = DUMMY_TASKS
    subscriber = make_subscriber(newsletter)
    services.start_sending(issue=issue)
    Delivery.objects.update(status=Delivery.Status.IN_DOUBT)
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT)

    call_command("send_issue", issue.pk, stdout=mock.Mock())
    assert mail.outbox == []
    call_command("send_issue", issue.pk, "--resend-in-doubt", stdout=mock.Mock())
    assert recipients() == {subscriber.email: 1}


@pytest.mark.django_db(transaction=True)
def test_two_workers_claim_disjoint_batches(settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims with SKIP LOCKED need PostgreSQL")
    settings.TASKS = DUMMY_TASKS
    newsletter = make_newsletter()
    issue = make_issue(newsletter)
    Subscriber.objects.bulk_create(
        Subscriber(email=f"r{n}@example.org", status="confirmed") for n in range(400)
    )
    newsletter.subscribers.add(*Subscriber.objects.all())
    services.start_sending(issue=issue)
    claimed = {"a": [], "b": []}
    start = threading.Barrier(2)

    def work(name):
        start.wait()
        try:
            while rows := sending.claim_batch(issue.pk, worker=name, size=7):
                claimed[name] += [row.id for row in rows]
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    a, b = set(claimed["a"]), set(claimed["b"])
    assert not a & b
    assert len(a | b) == 400
    assert a and b  # both took part


def test_the_due_sweep_requeues_a_send_whose_worker_died(newsletter, issue, settings):
    settings.TASKS = DUMMY_TASKS
    # One message per slice: the crash after the first leaves exactly one in doubt.
    settings.NEWSLETTER_SENDING_SLICE = 1
    subscribers = [make_subscriber(newsletter) for _ in range(4)]
    services.start_sending(issue=issue)
    with (
        mock.patch.object(sending._Batch, "release_unsent"),
        mock.patch.object(sending._Batch, "flush"),
        pytest.raises(WorkerKilled),
    ):
        sending.send_batch(issue.pk, worker="dead", connection=CrashAfter(1))
    settings.TASKS = {
        "default": {
            "BACKEND": "django.tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "newsletter"],
        }
    }
    settings.NEWSLETTER_STALE_CLAIM_AFTER = 0

    # Nothing moved for longer than a live send ever pauses.
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        call_command("send_issue", "--due", stdout=mock.Mock())

    counts = issue.progress()
    assert (counts["sent"], counts["in_doubt"]) == (3, 1)
    in_doubt = Delivery.objects.get(status=Delivery.Status.IN_DOUBT).subscriber
    assert recipients() == {s.email: 1 for s in subscribers if s != in_doubt}
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


# --- Against a real SMTP server (aiosmtpd on loopback) -----------------------------


class SMTPServer:
    """An aiosmtpd handler that records what it accepts. `answers` maps a
    recipient to the replies its RCPT gets, one per attempt (then "250 OK");
    `mail_from_answer` answers every MAIL FROM, if set."""

    def __init__(self, *, answers=None, mail_from_answer=None):
        self.answers = {
            rcpt: list(replies) for rcpt, replies in (answers or {}).items()
        }
        self.mail_from_answer = mail_from_answer
        self.received = []  # email.message.EmailMessage, parsed
        self.raw = []  # bytes, as they came over the wire

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_from_answer:
            return self.mail_from_answer
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        replies = self.answers.get(address)
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.original_content)
        self.received.append(
            message_from_bytes(envelope.original_content, policy=policy.default)
        )
        return "250 OK"

    def to(self, address):
        return [message for message in self.received if message["To"] == address]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def use_smtp(settings, port):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }


@pytest.fixture
def smtp_server(request, settings):
    def start(*, port=None, **kwargs):
        server = SMTPServer(**kwargs)
        controller = Controller(server, hostname="127.0.0.1", port=port or free_port())
        controller.start()
        request.addfinalizer(controller.stop)
        use_smtp(settings, controller.port)
        server.port = controller.port
        return server

    return start


NON_ASCII = {
    "armenian": "Լրահոս՝ Երևանի կամուրջը",
    "cyrillic": "Новости: мост открыт",
    "apostrophe": "It’s the bridge’s day",
}


@pytest.mark.parametrize("text", NON_ASCII.values(), ids=NON_ASCII.keys())
@pytest.mark.parametrize("field", ["subject", "from name", "newsletter name"])
def test_non_ascii_subject_sender_and_newsletter_name_reach_everyone(
    smtp_server, settings, text, field
):
    settings.TASKS = DUMMY_TASKS
    server = smtp_server()
    newsletter = make_newsletter(
        name=text if field == "newsletter name" else "Morning Briefing"
    )
    if field == "from name":
        settings.NEWSLETTER_FROM_EMAIL = f'"{text}" <news@example.org>'
    issue = make_issue(
        newsletter,
        articles=[make_article(title=text)],
        subject=text if field == "subject" else "Today",
    )
    readers = [make_subscriber(newsletter) for _ in range(3)]
    services.start_sending(issue=issue)

    result = sending.send_batch(issue.pk)

    assert result.sent == 3
    assert sorted(message["To"] for message in server.received) == sorted(
        reader.email for reader in readers
    )
    message = server.received[0]
    if field == "subject":
        assert message["Subject"] == text
    elif field == "from name":
        assert message["From"].addresses[0].display_name == text
    else:
        assert text in str(message["List-Id"])
    assert text in message.get_body(preferencelist=("plain",)).get_content()
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_the_editors_test_goes_through_the_same_path(smtp_server, newsletter):
    server = smtp_server()
    issue = make_issue(
        newsletter, articles=[make_article()], subject=NON_ASCII["apostrophe"]
    )

    sending.send_test(issue, to="editor@example.org", links_to="http://x/")

    [message] = server.received
    assert message["Subject"] == f"[Test] {NON_ASCII['apostrophe']}"
    assert message["List-Unsubscribe"] == "<http://x/>"


@pytest.mark.parametrize("slice_size", [1, 5])
def test_a_slice_of_people_who_all_left_mid_send_is_skipped(
    smtp_server, newsletter, issue, settings, slice_size
):
    settings.TASKS = DUMMY_TASKS
    settings.NEWSLETTER_SENDING_SLICE = slice_size
    server = smtp_server()
    leavers = [make_subscriber(newsletter) for _ in range(slice_size)]
    stayers = [make_subscriber(newsletter) for _ in range(slice_size)]
    services.start_sending(issue=issue)
    for leaver in leavers:
        services.unsubscribe(subscriber=leaver)

    result = sending.send_batch(issue.pk)

    assert (result.sent, result.skipped) == (slice_size, slice_size)
    assert sorted(message["To"] for message in server.received) == sorted(
        stayer.email for stayer in stayers
    )
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_a_recipient_refused_for_now_is_retried_later_without_holding_up_others(
    smtp_server, newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    settings.NEWSLETTER_RETRY_BACKOFF = 300
    greylisted = make_subscriber(newsletter, email="grey@example.org")
    others = [make_subscriber(newsletter) for _ in range(4)]
    server = smtp_server(answers={greylisted.email: ["451 4.7.1 Greylisted"]})
    services.start_sending(issue=issue)

    first = sending.send_batch(issue.pk)

    assert (first.sent, first.deferred) == (4, 1)
    assert sorted(message["To"] for message in server.received) == sorted(
        other.email for other in others
    )
    delivery = Delivery.objects.get(subscriber=greylisted)
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.retry_at > timezone.now() + timedelta(minutes=4)
    assert "451 4.7.1 Greylisted" in delivery.error
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING
    # Not before its time...
    assert sending.send_batch(issue.pk).claimed == 0
    # ...and then it goes.
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        second = sending.send_batch(issue.pk)
    assert second.sent == 1
    assert len(server.to(greylisted.email)) == 1
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_a_batch_queues_its_follow_up_for_when_a_retry_is_due(
    smtp_server, newsletter, issue, settings
):
    from django.tasks import default_task_backend

    from newsletter import tasks

    settings.TASKS = DUMMY_TASKS
    settings.NEWSLETTER_RETRY_BACKOFF = 300
    greylisted = make_subscriber(newsletter, email="grey@example.org")
    make_subscriber(newsletter)
    smtp_server(answers={greylisted.email: ["451 Greylisted"]})
    services.start_sending(issue=issue)
    default_task_backend.clear()

    tasks.send_issue_batch.call(issue.pk)

    [follow_up] = default_task_backend.results
    retry_at = Delivery.objects.get(subscriber=greylisted).retry_at
    assert follow_up.task.name == "send_issue_batch"
    assert follow_up.task.run_after == retry_at


def test_a_recipient_refused_for_now_every_time_fails_in_the_end(
    smtp_server, newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    settings.NEWSLETTER_SMTP_ATTEMPTS = 3
    settings.NEWSLETTER_RETRY_BACKOFF = 0
    stubborn = make_subscriber(newsletter, email="full@example.org")
    smtp_server(answers={stubborn.email: ["452 Mailbox full"] * 10})
    services.start_sending(issue=issue)

    for _ in range(5):
        sending.send_batch(issue.pk)

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 3
    assert "452 Mailbox full" in delivery.error
    stubborn.refresh_from_db()
    assert stubborn.status == Subscriber.Status.CONFIRMED  # not a bounce
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_a_hard_bounce_fails_the_delivery_and_suppresses_the_address(
    smtp_server, newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    gone = make_subscriber(newsletter, email="gone@example.org")
    stays = make_subscriber(newsletter)
    server = smtp_server(answers={gone.email: ["550 5.1.1 No such user"]})
    services.start_sending(issue=issue)

    sending.send_batch(issue.pk)

    delivery = Delivery.objects.get(subscriber=gone)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error == "550 5.1.1 No such user"
    gone.refresh_from_db()
    assert gone.status == Subscriber.Status.BOUNCED
    assert services.send_progress(issue).failures == [
        {"email": gone.email, "error": "550 5.1.1 No such user", "attempts": 1}
    ]
    # The next issue does not mail the address.
    next_issue = make_issue(newsletter, articles=[make_article()])
    services.start_sending(issue=next_issue)
    sending.send_batch(next_issue.pk)
    assert [message["To"] for message in server.received] == [stays.email] * 2


def test_a_dead_server_pauses_the_send_and_it_resumes_by_itself(
    smtp_server, newsletter, issue, settings
):
    from django.tasks import default_task_backend

    from newsletter import tasks

    settings.TASKS = DUMMY_TASKS
    port = free_port()  # nothing listens there yet
    use_smtp(settings, port)
    readers = [make_subscriber(newsletter) for _ in range(3)]
    services.start_sending(issue=issue)
    default_task_backend.clear()

    tasks.send_issue_batch.call(issue.pk)

    counts = issue.progress()
    assert (counts["pending"], counts["in_doubt"], counts["sent"]) == (3, 0, 0)
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING  # never "sent" having sent nothing
    [resume] = default_task_backend.results
    assert resume.task.name == "resume_issue"
    assert resume.task.run_after == issue.waiting_until
    assert services.send_progress(issue).state == "waiting for the mail server"

    # The server comes back; the queued task runs at its time.
    server = smtp_server(port=port)
    default_task_backend.clear()
    with time_machine.travel(issue.waiting_until + timedelta(seconds=1)):
        assert tasks.resume_issue.call(issue.pk)
        for result in list(default_task_backend.results):
            tasks.send_issue_batch.call(*result.args)

    assert sorted(message["To"] for message in server.received) == sorted(
        reader.email for reader in readers
    )
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_a_server_refusing_our_sender_pauses_the_send(
    smtp_server, newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    smtp_server(mail_from_answer="421 4.3.2 Service shutting down")
    make_subscriber(newsletter)
    services.start_sending(issue=issue)

    with pytest.raises(sending.ServerUnavailable):
        sending.send_batch(issue.pk)

    assert issue.progress()["pending"] == 1
    issue.refresh_from_db()
    assert issue.last_error.startswith("421 4.3.2")


def test_a_subject_with_a_line_break_is_refused_before_anyone_is_mailed(
    newsletter, settings
):
    settings.TASKS = DUMMY_TASKS
    make_subscriber(newsletter)
    issue = make_issue(newsletter)
    # Stored before the field refused line breaks (saving refuses it now).
    Issue.objects.filter(pk=issue.pk).update(
        subject="Hello\r\nBcc: everyone@example.org"
    )

    with pytest.raises(services.ValidationError, match="cannot be mailed"):
        services.start_sending(issue=issue)

    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert not Delivery.objects.exists()


def test_a_digest_whose_headline_breaks_a_header_is_reported_not_injected(
    newsletter, settings, caplog
):
    from newsletter.models import Newsletter

    settings.TASKS = DUMMY_TASKS
    Newsletter.objects.filter(pk=newsletter.pk).update(
        kind=Newsletter.Kind.DAILY_DIGEST
    )
    make_subscriber(newsletter)
    article = make_article()
    # Stored before the field refused line breaks (saving refuses it now).
    Article.objects.filter(pk=article.pk).update(
        title="Storm\nBcc: everyone@example.org"
    )

    report = services.send_daily_digest()

    assert f"{newsletter}: NOT SENT" in "\n".join(report)
    assert "cannot be mailed" in caplog.text
    assert mail.outbox == []
    assert not Delivery.objects.exists()


def test_a_digest_whose_headline_has_an_apostrophe_goes_out(
    smtp_server, newsletter, settings
):
    from newsletter.models import Newsletter

    settings.TASKS = DUMMY_TASKS
    server = smtp_server()
    Newsletter.objects.filter(pk=newsletter.pk).update(
        kind=Newsletter.Kind.DAILY_DIGEST
    )
    make_subscriber(newsletter)
    make_article(title="It’s the ferry’s day")
    services.send_daily_digest()

    issue = Issue.objects.get(newsletter=newsletter)
    sending.send_batch(issue.pk)

    assert server.received[0]["Subject"].endswith("It’s the ferry’s day")


def test_the_due_sweep_leaves_a_moving_send_alone(newsletter, issue, settings):
    from django.tasks import default_task_backend

    settings.TASKS = DUMMY_TASKS
    settings.NEWSLETTER_BATCH_SIZE = 2
    settings.NEWSLETTER_WORKERS_PER_SEND = 3
    for _ in range(20):
        make_subscriber(newsletter)
    services.start_sending(issue=issue)
    # Ten batches, three workers: three chains.
    assert len(default_task_backend.results) == 3
    sending.send_batch(issue.pk)

    for _ in range(3):
        call_command("send_issue", "--due", stdout=mock.Mock())

    assert len(default_task_backend.results) == 3


@pytest.mark.django_db(transaction=True)
def test_the_due_sweep_records_a_killed_workers_task_as_failed(settings):
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from newsletter import tasks

    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": ["default", "newsletter"],
        }
    }
    killed = tasks.send_issue_batch.enqueue(1)
    alive = tasks.send_issue_batch.enqueue(2)
    DBTaskResult.objects.filter(id=killed.id).update(
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now() - timedelta(hours=1),
    )
    DBTaskResult.objects.filter(id=alive.id).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now()
    )

    call_command("send_issue", "--due", stdout=mock.Mock())

    assert DBTaskResult.objects.get(id=killed.id).status == TaskResultStatus.FAILED
    assert DBTaskResult.objects.get(id=alive.id).status == TaskResultStatus.RUNNING


def test_status_prints_one_readable_line(newsletter, issue, settings):
    settings.TASKS = DUMMY_TASKS
    make_subscriber(newsletter)
    services.start_sending(issue=issue)
    out = mock.Mock()

    call_command("send_issue", issue.pk, "--status", stdout=out)

    [line] = [call.args[0] for call in out.write.call_args_list]
    assert line.startswith(f"Issue {issue.pk}: sending, 0/1 done, 0 sent")


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"No")}), "bounced"),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (451, b"Later")}), "deferred"),
        (
            smtplib.SMTPRecipientsRefused({"a@example.org": (421, b"Bye")}),
            "server_down",
        ),
        (smtplib.SMTPSenderRefused(550, b"Not you", "news@x"), "server_down"),
        (smtplib.SMTPDataError(554, b"Spam"), "rejected"),
        (smtplib.SMTPDataError(452, b"Full"), "deferred"),
        (smtplib.SMTPServerDisconnected("gone"), "in_doubt"),
        (ValueError("Header values may not contain linefeed"), "rejected"),
    ],
)
def test_each_smtp_answer_has_its_outcome(error, outcome):
    assert sending.classify(error, "a@example.org")[0] == outcome


def answer(status_code):
    """An email service's HTTP response with this status, if any."""
    if status_code is None:
        return None
    response = requests.Response()
    response.status_code, response.reason = status_code, "Refused"
    response.raw = io.BytesIO(b"{}")
    return response


@pytest.mark.parametrize(
    ("status_code", "cause", "outcome"),
    [
        (422, None, "rejected"),
        (429, None, "server_down"),
        (503, None, "server_down"),
        (401, None, "server_down"),
        (None, requests.exceptions.ConnectionError(), "server_down"),
        (None, requests.exceptions.ReadTimeout(), "in_doubt"),
    ],
)
def test_each_email_service_answer_has_its_outcome(status_code, cause, outcome):
    try:
        try:
            raise cause or RuntimeError("no cause")
        except Exception as underlying:
            raise AnymailAPIError(
                "refused", status_code=status_code, response=answer(status_code)
            ) from (underlying if cause else None)
    except AnymailAPIError as error:
        assert sending.classify(error, "a@example.org")[0] == outcome


def test_a_recipient_an_email_service_rejects_is_suppressed(
    newsletter, issue, settings
):
    settings.TASKS = DUMMY_TASKS
    rejected = make_subscriber(newsletter)
    services.start_sending(issue=issue)
    refused = AnymailRecipientsRefused("All message recipients were rejected")

    sending.send_batch(issue.pk, connection=Scripted([refused]))

    assert Delivery.objects.get().status == Delivery.Status.FAILED
    rejected.refresh_from_db()
    assert rejected.status == Subscriber.Status.BOUNCED


def test_the_unsubscribe_header_crosses_the_wire_on_one_line(
    smtp_server, settings, newsletter
):
    # A URL longer than a folded line is otherwise sent as RFC 2047 encoded words,
    # which mail providers ignore: no one-click unsubscribe button.
    settings.TASKS = DUMMY_TASKS
    settings.SITE_URL = "https://news.a-rather-long-domain-name.example"
    server = smtp_server()
    issue = make_issue(newsletter, articles=[make_article()], subject="Today")
    make_subscriber(newsletter)
    services.start_sending(issue=issue)

    sending.send_batch(issue.pk)

    [raw] = server.raw
    header = re.search(rb"^List-Unsubscribe: ([^\r\n]*)", raw, re.MULTILINE)[1]
    assert re.fullmatch(
        rb"<https://news\.a-rather-long-domain-name\.example/\S+/>", header
    )
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
