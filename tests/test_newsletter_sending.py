"""Sending an issue: deliveries, the shared body, SMTP errors, crashes and resume."""

import smtplib
import socket
import threading
from collections import Counter
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from bench.smtp_sink import SinkController
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
            message.extra_headers["List-Id"] == '"Morning Briefing" <morning.127.0.0.1>'
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


def test_a_transient_error_is_retried_and_then_sent(newsletter, issue, settings):
    settings.TASKS = DUMMY_TASKS
    make_subscriber(newsletter)
    services.start_sending(issue=issue)
    connection = Scripted([smtplib.SMTPResponseException(451, b"try later")])

    result = sending.send_batch(issue.pk, connection=connection)

    assert result.sent == 1
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 2
    assert connection.opened == 2  # a new connection for the retry


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
    assert "no such user" in Delivery.objects.get(subscriber=refused).error
    assert Delivery.objects.get(subscriber=fine).status == Delivery.Status.SENT
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert issue.progress()["failed"] == 1


def test_a_server_that_stays_down_gets_the_batch_back(newsletter, issue, settings):
    settings.TASKS = DUMMY_TASKS
    for _ in range(3):
        make_subscriber(newsletter)
    services.start_sending(issue=issue)
    busy = smtplib.SMTPResponseException(421, b"busy")
    connection = Scripted([busy] * 10)

    with pytest.raises(sending.SMTPUnavailable):
        sending.send_batch(issue.pk, connection=connection)

    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}
    assert mail.outbox == []
    # Later the server is back: everyone gets it once.
    sending.send_batch(issue.pk, connection=Scripted([]))
    assert sorted(recipients().values()) == [1, 1, 1]


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

    call_command("send_issue", "--due", stdout=mock.Mock())

    counts = issue.progress()
    assert (counts["sent"], counts["in_doubt"]) == (3, 1)
    in_doubt = Delivery.objects.get(status=Delivery.Status.IN_DOUBT).subscriber
    assert recipients() == {s.email: 1 for s in subscribers if s != in_doubt}
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


class SMTPServer:
    """A real SMTP server in a thread that records what it accepts, refuses the
    addresses in `refuse`, and offers PIPELINING or not."""

    def __init__(self, *, pipelining: bool, refuse=(), refuse_content=()):
        self.pipelining = pipelining
        self.refuse = set(refuse)
        self.refuse_content = set(refuse_content)
        self.received = []  # (recipients, bytes as sent, dots unstuffed)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_content & set(envelope.rcpt_tos):
            return "554 Message refused"
        self.received.append((envelope.rcpt_tos, envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp_server(request, settings):
    def start(*, controller_class=Controller, **kwargs):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = SMTPServer(**kwargs)
        controller = controller_class(server, hostname="127.0.0.1", port=port)
        controller.start()
        request.addfinalizer(controller.stop)
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 30},
            }
        }
        server.port = port
        return server

    return start


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize(
    "controller_class", [Controller, SinkController], ids=["aiosmtpd", "bench-sink"]
)
def test_the_message_arrives_byte_for_byte_with_or_without_pipelining(
    smtp_server, pipelining, controller_class
):
    server = smtp_server(pipelining=pipelining, controller_class=controller_class)
    raw = b"Subject: Dots\r\n\r\n.A line that starts with a dot\r\n..and two\r\n"
    with smtplib.SMTP("127.0.0.1", server.port) as smtp:
        smtp.ehlo()
        with mock.patch.object(smtp, "send", wraps=smtp.send) as send:
            sending.send_pipelined(smtp, "news@example.org", "a@example.org", raw)
            sending.send_pipelined(smtp, "news@example.org", "b@example.org", raw)

    assert server.received == [(["a@example.org"], raw), (["b@example.org"], raw)]
    if pipelining:
        # The envelope as one write, then the message: two per email.
        assert send.call_count == 4


@pytest.mark.parametrize(
    "controller_class", [Controller, SinkController], ids=["aiosmtpd", "bench-sink"]
)
def test_each_message_carries_the_next_envelope_one_write_per_message(
    smtp_server, controller_class
):
    server = smtp_server(pipelining=True, controller_class=controller_class)
    raws = [f"Subject: {n}\r\n\r\n.Dot {n}\r\n".encode() for n in range(3)]
    to = ["a@example.org", "b@example.org", "c@example.org"]
    with smtplib.SMTP("127.0.0.1", server.port) as smtp:
        smtp.ehlo()
        pipeline = sending.Pipeline(smtp, "news@example.org")
        with mock.patch.object(smtp, "send", wraps=smtp.send) as send:
            pipeline.send(to[0], raws[0], then=to[1])
            pipeline.send(to[1], raws[1], then=to[2])
            pipeline.send(to[2], raws[2])

    assert server.received == [
        ([rcpt], raw) for rcpt, raw in zip(to, raws, strict=True)
    ]
    # The first envelope, then each message with the next envelope after it.
    assert send.call_count == 4


@pytest.mark.parametrize(
    ("refusal", "error", "code"),
    [
        ({"refuse_content": {"no@example.org"}}, smtplib.SMTPDataError, 554),
        ({"refuse": {"no@example.org"}}, smtplib.SMTPRecipientsRefused, 550),
    ],
    ids=["message-refused", "recipient-refused"],
)
def test_a_refusal_in_the_middle_of_a_chain_raises_and_the_next_message_goes(
    smtp_server, refusal, error, code
):
    # The refused recipient's envelope went ahead with the first message, and
    # the next one's with the refused message (or not, if its envelope failed).
    server = smtp_server(pipelining=True, **refusal)
    raw = b"Subject: Hello\r\n\r\nHello\r\n"
    with smtplib.SMTP("127.0.0.1", server.port) as smtp:
        pipeline = sending.Pipeline(smtp, "news@example.org")
        pipeline.send("a@example.org", raw, then="no@example.org")
        with pytest.raises(error) as refused:
            pipeline.send("no@example.org", raw, then="b@example.org")
        pipeline.send("b@example.org", raw)

    if error is smtplib.SMTPRecipientsRefused:
        assert refused.value.recipients["no@example.org"][0] == code
    else:
        assert refused.value.smtp_code == code
    assert server.received == [(["a@example.org"], raw), (["b@example.org"], raw)]


def test_a_message_for_another_recipient_than_the_open_envelope_is_refused(
    smtp_server,
):
    server = smtp_server(pipelining=True)
    raw = b"Subject: Hello\r\n\r\nHello\r\n"
    smtp = smtplib.SMTP("127.0.0.1", server.port)
    pipeline = sending.Pipeline(smtp, "news@example.org")
    pipeline.send("a@example.org", raw, then="b@example.org")
    with pytest.raises(smtplib.SMTPException, match="open, not for"):
        pipeline.send("c@example.org", raw)
    # Replies to the open envelope are still unread: the caller closes.
    smtp.close()

    assert server.received == [(["a@example.org"], raw)]


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_refused_recipient_raises_and_the_next_message_still_goes(
    smtp_server, pipelining
):
    server = smtp_server(pipelining=pipelining, refuse={"gone@example.org"})
    raw = b"Subject: Hello\r\n\r\nHello\r\n"
    with smtplib.SMTP("127.0.0.1", server.port) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            sending.send_pipelined(smtp, "news@example.org", "gone@example.org", raw)
        sending.send_pipelined(smtp, "news@example.org", "here@example.org", raw)

    assert refused.value.recipients["gone@example.org"][0] == 550
    assert server.received == [(["here@example.org"], raw)]


@pytest.mark.parametrize(
    ("refusal", "code"),
    [("refuse", 550), ("refuse_content", 554)],
    ids=["recipient-refused", "message-refused"],
)
def test_a_send_over_pipelined_smtp_reaches_everyone_once(
    newsletter, issue, settings, smtp_server, refusal, code
):
    settings.TASKS = DUMMY_TASKS
    settings.NEWSLETTER_BATCH_SIZE = 10
    settings.NEWSLETTER_SENDING_SLICE = 3
    # Third in its slice: its envelope goes ahead with the second message, and
    # the fourth's with it.
    readers = [make_subscriber(newsletter) for _ in range(2)]
    refused = make_subscriber(newsletter, email="no@example.org")
    readers += [make_subscriber(newsletter) for _ in range(5)]
    server = smtp_server(pipelining=True, **{refusal: {refused.email}})
    services.start_sending(issue=issue)

    result = sending.send_batch(issue.pk)

    assert (result.sent, result.failed) == (7, 1)
    assert Counter(rcpt for rcpts, _ in server.received for rcpt in rcpts) == {
        reader.email: 1 for reader in readers
    }
    failed = Delivery.objects.get(subscriber=refused)
    assert failed.status == Delivery.Status.FAILED
    assert str(code) in failed.error
    for delivery in Delivery.objects.exclude(subscriber=refused):
        assert delivery.status == Delivery.Status.SENT
        assert delivery.attempts == 1
        assert delivery.sent_at is not None
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT


def test_a_slice_is_one_statement_and_leaves_out_rows_another_worker_took(
    newsletter, issue, settings, django_assert_num_queries
):
    settings.TASKS = DUMMY_TASKS
    for _ in range(5):
        make_subscriber(newsletter)
    services.start_sending(issue=issue)
    rows = sending.claim_batch(issue.pk, worker="slow", size=5)
    # A resume handed this row to another worker while this one was stalled.
    Delivery.objects.filter(pk=rows[1].id).update(claimed_by="other")
    batch = sending._Batch(worker="slow", mail=None, connection=None)

    with django_assert_num_queries(1):
        first = batch.begin_slice(rows[2:])
    marked = batch.begin_slice(rows[:2])

    assert first == rows[2:]
    assert marked == rows[:1]
    assert Delivery.objects.get(pk=rows[1].id).status == Delivery.Status.CLAIMED
    # What the server accepted is recorded with the next statement.
    batch.accepted = [(rows[0].id, 1), (rows[2].id, 3)]
    with django_assert_num_queries(1):
        batch.begin_slice([])
    assert dict(
        Delivery.objects.filter(status=Delivery.Status.SENT).values_list(
            "id", "attempts"
        )
    ) == {rows[0].id: 1, rows[2].id: 3}
    assert set(
        Delivery.objects.filter(status=Delivery.Status.SENDING).values_list(
            "id", flat=True
        )
    ) == {rows[3].id, rows[4].id}


@pytest.mark.parametrize(
    ("raw", "stuffed"),
    [
        (b"Subject: x\r\n\r\nNo dots at the start.\r\n", None),
        (b".First line\r\nsecond\r\n", b"..First line\r\nsecond\r\n"),
        (b"a\r\n.b\r\n..c\r\nd.\r\n", b"a\r\n..b\r\n...c\r\nd.\r\n"),
        (b"a\n.b", b"a\n..b"),
    ],
)
def test_dot_stuffing_doubles_a_dot_only_at_the_start_of_a_line(raw, stuffed):
    assert sending._dot_stuffed(raw) == (raw if stuffed is None else stuffed)
