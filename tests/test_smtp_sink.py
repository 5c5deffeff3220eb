"""The benchmark's SMTP sink (bench/smtp_sink.py) is a correct SMTP server: what
smtplib, Django's SMTP backend and the newsletter's pipelined sender hand it is
counted once per message and recipient, however the bytes are split or grouped."""

import smtplib
import socket
import time

import pytest
from django.core.mail import EmailMessage, mailers

from bench.smtp_sink import MAX_MESSAGE, Sink, SinkProcess, SMTPSession

# A body whose lines start with dots, one of them a lone dot: sent dot-stuffed, so
# none of them may end the message early.
DOTTED = b"Subject: Dots\r\n\r\nFirst line\r\n.\r\n..two\r\n.\r\n\r\nLast line\r\n"


def stuffed(raw: bytes) -> bytes:
    """The message as it goes over the wire, before its final ".\r\n"."""
    lines = raw.split(b"\r\n")
    return b"\r\n".join(
        b"." + line if line.startswith(b".") else line for line in lines
    )


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
        code, features = smtp.ehlo("client.example.org")
        assert code == 250
        for extension in ("pipelining", "8bitmime", "size"):
            assert smtp.has_extn(extension), features
        assert int(smtp.esmtp_features["size"]) == MAX_MESSAGE
        smtp.sendmail("news@example.org", ["a@example.org"], DOTTED)
        smtp.sendmail("news@example.org", ["b@example.org", "C@example.org"], DOTTED)
        assert smtp.noop()[0] == 250
        smtp.sendmail("news@example.org", ["a@example.org"], b"Subject: x\r\n\r\nx\r\n")

    status = settled(sink, messages=3)
    assert (status["messages"], status["recipients"]) == (3, 4)
    assert status["bytes"] == 2 * len(stuffed(DOTTED)) + len(b"Subject: x\r\n\r\nx\r\n")
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


def read_replies(sock, count: int) -> list[bytes]:
    """The next `count` replies (a multi-line one counts once)."""
    data = b""
    while True:
        lines = data.split(b"\r\n")[:-1]
        finished = [line for line in lines if line[3:4] == b" "]
        if len(finished) >= count:
            return lines
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk


def test_a_whole_pipelined_group_is_answered_in_order(sink):
    with socket.create_connection(("127.0.0.1", sink.port), timeout=10) as sock:
        assert read_replies(sock, 1)[0].startswith(b"220 ")
        sock.sendall(b"EHLO client\r\n")
        assert b"250-PIPELINING" in read_replies(sock, 1)
        envelope = b"MAIL FROM:<n@example.org>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n"
        sock.sendall(envelope)
        assert [r[:3] for r in read_replies(sock, 3)] == [b"250", b"250", b"354"]
        # RFC 2920: the message may open the next group; here it carries a
        # refused envelope (no MAIL), a NOOP, a bad command, then a whole
        # transaction with two recipients, sent a few bytes at a time.
        group = (
            stuffed(DOTTED) + b".\r\n"
            b"RCPT TO:<x@example.org>\r\nNOOP\r\nBOGUS\r\n"
            b"MAIL FROM:<> BODY=8BITMIME SIZE=1000\r\n"
            b"RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
        )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, len(group), 7):
            sock.sendall(group[start : start + 7])
        assert [r[:3] for r in read_replies(sock, 8)] == [
            b"250", b"503", b"250", b"500", b"250", b"250", b"250", b"354"
        ]  # fmt: skip
        sock.sendall(b".\r\nQUIT\r\n")  # an empty message
        assert [r[:3] for r in read_replies(sock, 2)] == [b"250", b"221"]
        assert sock.recv(100) == b""  # closed after QUIT

    status = settled(sink, messages=2)
    assert (status["messages"], status["recipients"]) == (2, 3)
    assert status["bytes"] == len(stuffed(DOTTED))
    assert sink.recipients() == {
        "a@example.org": 1,
        "b@example.org": 1,
        "c@example.org": 1,
    }


class Transport:
    """What an SMTPSession writes, without a socket."""

    def __init__(self):
        self.written = []
        self.closed = False

    def write(self, data):
        self.written.append(data)

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed


def session():
    sink, transport = Sink(), Transport()
    protocol = SMTPSession(sink)
    protocol.connection_made(transport)
    transport.written.clear()  # the greeting
    return protocol, sink, transport


def feed(protocol, data: bytes, step: int) -> None:
    for start in range(0, len(data), step):
        piece = data[start : start + step]
        buffer = protocol.get_buffer(-1)
        buffer[: len(piece)] = piece
        protocol.buffer_updated(len(piece))


@pytest.mark.parametrize("step", [1, 2, 3, 5, 4096])
def test_a_conversation_split_anywhere_gets_the_same_replies(step):
    conversation = (
        b"EHLO client\r\nMAIL FROM:<n@example.org>\r\nRCPT TO:<a@example.org>\r\n"
        b"DATA\r\n" + stuffed(DOTTED) + b".\r\n"
        b"MAIL FROM:<n@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
        b"\r\n.\r\nQUIT\r\n"
    )
    protocol, sink, transport = session()
    feed(protocol, conversation, step)
    replies = b"".join(transport.written).split(b"\r\n")[:-1]
    codes = [reply[:3] for reply in replies if reply[3:4] == b" "]
    assert codes == [
        b"250", b"250", b"250", b"354", b"250", b"250", b"250", b"354", b"250", b"221"
    ]  # fmt: skip
    assert transport.closed
    assert (sink.messages, sink.recipients) == (2, 2)
    assert sink.bytes == len(stuffed(DOTTED)) + len(b"\r\n")
    if step == 4096:  # a whole pipelined conversation: one write
        assert len(transport.written) == 1


@pytest.mark.parametrize(
    ("commands", "codes"),
    [
        # A transaction needs a greeting, then MAIL, RCPT, DATA in that order.
        (b"MAIL FROM:<n@example.org>\r\n", [b"503"]),
        (b"HELO c\r\nRCPT TO:<a@example.org>\r\nDATA\r\n", [b"250", b"503", b"503"]),
        (b"EHLO\r\nHELO\r\n", [b"501", b"501"]),
        (
            b"HELO c\r\nMAIL FROM:<n@example.org>\r\nMAIL FROM:<n@example.org>\r\n",
            [b"250", b"250", b"503"],
        ),
        # RSET ends the transaction; EHLO too.
        (
            b"HELO c\r\nMAIL FROM:<n@example.org>\r\nRSET\r\n"
            b"RCPT TO:<a@example.org>\r\n",
            [b"250", b"250", b"250", b"503"],
        ),
        (
            b"HELO c\r\nMAIL FROM:<n@example.org>\r\nRCPT TO:<a@example.org>\r\n"
            b"EHLO c\r\nDATA\r\n",
            [b"250", b"250", b"250", b"250", b"503"],
        ),
        # Arguments.
        (
            b"HELO c\r\nMAIL n@example.org\r\nMAIL FROM:<n@example.org> X=1\r\n"
            b"MAIL FROM:<n@example.org> SIZE=99999999999\r\n"
            b"mail from:<n@example.org>\r\nRCPT TO:<>\r\nRCPT TO:a@example.org\r\n"
            b"RCPT TO:<a@example.org>\r\nDATA now\r\nRSET x\r\n",
            [
                b"250",
                b"501",
                b"555",
                b"552",
                b"250",
                b"501",
                b"501",
                b"250",
                b"501",
                b"501",
            ],
        ),
        # Anything else; a line longer than the limit.
        (b"VRFY a\r\nHELP\r\nNOOP\r\n", [b"500", b"500", b"250"]),
        (b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\n", [b"500", b"250"]),
    ],
)
def test_commands_out_of_order_or_malformed_are_refused(commands, codes):
    for step in (1, len(commands)):
        protocol, sink, transport = session()
        feed(protocol, commands, step)
        replies = b"".join(transport.written).split(b"\r\n")[:-1]
        assert [reply[:3] for reply in replies if reply[3:4] == b" "] == codes
        assert sink.messages == 0


def test_a_message_over_the_size_limit_is_refused_and_the_session_goes_on(
    monkeypatch,
):
    monkeypatch.setattr("bench.smtp_sink.MAX_MESSAGE", 1000)
    protocol, sink, transport = session()
    envelope = (
        b"HELO c\r\nMAIL FROM:<n@example.org>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n"
    )
    feed(protocol, envelope + b"x" * 300 + b"\r\n", 50)
    feed(
        protocol, (b"y" * 78 + b"\r\n") * 100 + b".\r\n" + envelope + b"ok\r\n.\r\n", 50
    )
    replies = b"".join(transport.written).split(b"\r\n")[:-1]
    assert [reply[:3] for reply in replies] == [
        b"250", b"250", b"250", b"354", b"552", b"250", b"250", b"250", b"354", b"250"
    ]  # fmt: skip
    assert (sink.messages, sink.bytes) == (1, 4)


def test_the_delay_holds_each_messages_reply(tmp_path):
    with SinkProcess(tmp_path, delay_ms=300) as sink:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
            smtp.ehlo()
            started = time.monotonic()
            smtp.sendmail("news@example.org", ["a@example.org"], DOTTED)
            smtp.sendmail("news@example.org", ["b@example.org"], DOTTED)
            assert time.monotonic() - started >= 0.6
        assert settled(sink, messages=2)["messages"] == 2


def test_what_is_kept_of_a_message_too_big_never_ends_it_early(monkeypatch):
    # Of a message over the limit only its last bytes are kept, to find its end:
    # here ".\r\nX", which is no end, since no line break comes before the dot.
    monkeypatch.setattr("bench.smtp_sink.MAX_MESSAGE", 1000)
    protocol, sink, transport = session()
    envelope = (
        b"HELO c\r\nMAIL FROM:<n@example.org>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n"
    )
    feed(protocol, envelope, len(envelope))
    feed(protocol, b"x" * 1100 + b"abc.\r\nX", 2000)
    feed(protocol, b"yz\r\n.\r\nNOOP\r\n", 2000)
    replies = b"".join(transport.written).split(b"\r\n")[:-1]
    assert [reply[:3] for reply in replies] == [
        b"250", b"250", b"250", b"354", b"552", b"250"
    ]  # fmt: skip
    assert sink.messages == 0
