"""The benchmark's SMTP sink (bench/smtp_sink.py, aiosmtpd with a counting
handler in a process of its own): what smtplib and Django's SMTP backend hand it
is counted once per message and recipient."""

import smtplib
import time

import pytest
from django.core.mail import EmailMessage, mailers

from bench.smtp_sink import SinkProcess

pytestmark = pytest.mark.slow

# A body whose lines start with dots, one of them a lone dot: sent dot-stuffed, so
# none of them may end the message early.
DOTTED = b"Subject: Dots\r\n\r\nFirst line\r\n.\r\n..two\r\n.\r\n\r\nLast line\r\n"


@pytest.fixture
def sink(tmp_path):
    with SinkProcess(tmp_path, record=True) as sink:
        yield sink


def settled(sink, **expected):
    """The sink's status once it shows `expected` (it is rewritten 4 times a
    second)."""
    deadline = time.monotonic() + 5
    while True:
        status = sink.status()
        if all(status.get(key) == value for key, value in expected.items()):
            return status
        if time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_smtplib_sends_several_messages_on_one_connection(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.sendmail("news@example.org", ["a@example.org"], DOTTED)
        smtp.sendmail("news@example.org", ["b@example.org", "C@example.org"], DOTTED)
        smtp.sendmail("news@example.org", ["a@example.org"], b"Subject: x\r\n\r\nx\r\n")

    status = settled(sink, messages=3)
    assert (status["messages"], status["recipients"]) == (3, 4)
    assert status["first"] <= status["last"]
    assert sink.recipients() == {
        "a@example.org": 2,
        "b@example.org": 1,
        "c@example.org": 1,
    }


def test_djangos_smtp_backend_sends_a_batch_on_one_connection(sink, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": sink.port, "timeout": 10},
        }
    }
    body = "Hello.\n.\n..and a line of dots\n" + "Quoted-printable? Not here. " * 400
    messages = [
        EmailMessage("Issue", body, "news@example.org", [f"reader{n}@example.org"])
        for n in range(5)
    ]
    with mailers.default as connection:
        assert connection.send_messages(messages) == 5

    assert settled(sink, messages=5)["recipients"] == 5
    assert sink.recipients() == {f"reader{n}@example.org": 1 for n in range(5)}


def test_the_delay_holds_each_messages_reply(tmp_path):
    with (
        SinkProcess(tmp_path, delay_ms=300) as sink,
        smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp,
    ):
        started = time.monotonic()
        smtp.sendmail("news@example.org", ["a@example.org"], DOTTED)
        waited = time.monotonic() - started
    # The feature under test is the delay itself: a floor, not a speed budget.
    assert waited >= 0.3


def test_a_crashed_sink_starts_again_on_its_port_and_keeps_counting(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.sendmail("news@example.org", ["a@example.org"], DOTTED)
    settled(sink, messages=1)

    sink.crash()
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", sink.port, timeout=10)
    sink.start_again()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.sendmail("news@example.org", ["b@example.org"], DOTTED)

    assert settled(sink, messages=2)["messages"] == 2
    assert sink.recipients() == {"a@example.org": 1, "b@example.org": 1}
