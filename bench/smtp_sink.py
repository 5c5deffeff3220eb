"""
An SMTP server on loopback that accepts every message and counts it: the far end of
the newsletter benchmark and of the reliability tests' sends.

    python bench/smtp_sink.py --port 2525 --status /tmp/sink.json \
        [--recipients FILE] [--delay-ms N]

Every quarter of a second it rewrites --status with {"messages", "recipients",
"bytes", "first", "last"} (times from time.time(); "bytes" is the size of the
messages' data as sent, dot-stuffed, without the final ".\r\n"); with --recipients
it appends every recipient address, one a line, as each message is accepted, so a
test can count who got a message and how often. --delay-ms makes every message
wait that long for its "250", so a test can stop a sender half-way. A message
counts when its "250" is sent. Stops on SIGTERM or SIGINT.

Why a server of its own: the sink is the benchmark's measuring instrument, and it
shares the machine's two cores with the workers it measures, so every
millisecond it spends is one the second worker does not get. aiosmtpd cost 0.7-0.9
ms of CPU per 11 KB newsletter even reading DATA in one piece (1.4 ms stock, line
by line), more than the worker spent building and sending it, and capped the
two-worker scaling. This one is a single asyncio.BufferedProtocol per connection:
it reads into a bytearray of its own (no new 256 KB bytes object per read), finds
the end of a message with one bytearray.find() of "\r\n.\r\n" (no Python per
line), and answers every command it has in its buffer (a pipelined MAIL, RCPT,
DATA) with one write. About 17 us of Python per message; the rest of its 0.13-0.17
ms per email in bench/newsletter.py is the kernel's: loopback TCP and waking the
sender, twice per message (the envelope, then the data), which any server pays.

Postfix's smtp-sink (C; `apt-get install postfix`, "No configuration") was
measured as the alternative: 0.12-0.14 ms per email in the same benchmark, so
hardly cheaper, and it counts only messages and sessions (its -c counters, read
from its stdout), not recipients, cannot record who got what except by dumping
every message to disk, delays only in whole seconds, and installing Postfix
replaces whatever mail server the machine had (exim4, nullmailer). One sink that
runs everywhere, the same in the benchmark and in the tests, won.

It is a correct SMTP server (RFC 5321, RFC 2920), not a permissive one: EHLO/HELO
(advertising PIPELINING, 8BITMIME and SIZE), MAIL (with SIZE= and BODY=), RCPT,
DATA, RSET, NOOP and QUIT, in order or a 503, with bad arguments a 501, and
anything else a 500. tests/test_smtp_sink.py sends through it with smtplib,
Django's SMTP backend and newsletter.sending.send_pipelined().

WholeDataSMTP and SinkController below are the aiosmtpd-based server this one
replaced, kept only because tests/test_newsletter_sending.py checks
send_pipelined() byte for byte against it.
"""

import argparse
import asyncio
import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, syntax

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from newsroom.cli import one_line_errors  # noqa: E402

# The largest message accepted, advertised as SIZE.
MAX_MESSAGE = 32 * 1024 * 1024
# The longest command line (RFC 5321 asks for at least 512 octets).
MAX_LINE = 4096
# How much each read asks for, at least.
READ_SIZE = 256 * 1024

_MAIL = re.compile(rb"(?i)FROM:\s*<([^<>\s]*)>((?:\s+\S+)*)\s*\Z")
_RCPT = re.compile(rb"(?i)TO:\s*<([^<>\s]+)>\s*\Z")
_BODY = {b"7BIT", b"8BITMIME"}


def _reply(text: str) -> bytes:
    return f"{text}\r\n".encode()


EHLO_REPLY = b"".join(
    _reply(line)
    for line in (
        "250-127.0.0.1",
        "250-PIPELINING",
        "250-8BITMIME",
        f"250 SIZE {MAX_MESSAGE}",
    )
)
OK = b"250 2.0.0 OK\r\n"
ACCEPTED = b"250 2.0.0 Message accepted\r\n"


class Sink:
    """What every connection reports to: the counters and the recipients' log."""

    def __init__(self, recipients_path: str | None = None, delay: float = 0):
        self.delay = delay
        self.messages = 0
        self.recipients = 0
        self.bytes = 0
        self.first = None
        self.last = None
        self.log = open(recipients_path, "a") if recipients_path else None  # noqa: SIM115

    def accept(self, recipients: list[str], size: int) -> None:
        now = time.time()
        self.messages += 1
        self.recipients += len(recipients)
        self.bytes += size
        if self.first is None:
            self.first = now
        self.last = now
        if self.log:
            self.log.write("".join(f"{rcpt}\n" for rcpt in recipients))
            self.log.flush()

    def snapshot(self) -> dict:
        return {
            "messages": self.messages,
            "recipients": self.recipients,
            "bytes": self.bytes,
            "first": self.first,
            "last": self.last,
        }


class SMTPSession(asyncio.BufferedProtocol):
    """One SMTP connection. The socket is read into a bytearray of the session's
    own (no new bytes object per read); each read runs every complete command
    (or message) in it, and their replies go out as one write."""

    def __init__(self, sink: Sink):
        self.sink = sink

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray(READ_SIZE)
        self.start = 0  # what is not yet handled is buffer[start:end]
        self.end = 0
        self.scanned = 0  # in DATA: where to resume looking for the final dot
        self.in_data = False
        self.too_big = False
        self.overlong = False  # discarding a command line that was too long
        self.waiting = False  # the --delay-ms pause before a message's "250"
        self.closing = False
        self.helo = None
        self._reset()
        transport.write(b"220 127.0.0.1 ESMTP bench sink\r\n")

    def _reset(self):
        self.sender = None
        self.rcpts = []

    def get_buffer(self, sizehint):
        # The only place the buffer changes size: asyncio still holds the view
        # it returns while it calls buffer_updated().
        if self.start:
            left = self.end - self.start
            self.buffer[:left] = self.buffer[self.start : self.end]
            self.scanned = max(0, self.scanned - self.start)
            self.start, self.end = 0, left
        if len(self.buffer) - self.end < READ_SIZE // 2:
            self.buffer.extend(bytes(READ_SIZE))
        return memoryview(self.buffer)[self.end :]

    def buffer_updated(self, nbytes):
        self.end += nbytes
        if not (self.waiting or self.closing):
            self._process()

    def _process(self):
        buffer, pos, end = self.buffer, self.start, self.end
        replies = []
        while not self.closing:
            if self.in_data:
                # pos is where the message starts (or, once too big, its tail).
                if not self.too_big and buffer.startswith(b".\r\n", pos, end):
                    # An empty message.
                    last = pos
                else:
                    last = buffer.find(b"\r\n.\r\n", max(pos, self.scanned), end)
                    if last < 0:
                        if end - pos > MAX_MESSAGE:  # drop it, keep the tail
                            self.too_big = True
                            pos = end - 4
                        self.scanned = max(pos, end - 4)
                        break
                    last += 2
                size, pos = last - pos, last + 3
                self.in_data = False
                if self.too_big:
                    self.too_big = False
                    self._reset()
                    replies.append(b"552 5.3.4 Message size exceeds fixed limit\r\n")
                elif self.sink.delay:
                    self.waiting = True
                    asyncio.get_running_loop().call_later(
                        self.sink.delay, self._delayed_accept, size
                    )
                    break
                else:
                    self.sink.accept(self.rcpts, size)
                    self._reset()
                    replies.append(ACCEPTED)
                continue
            newline = buffer.find(b"\n", pos, end)
            if newline < 0:
                if end - pos > MAX_LINE:
                    pos = end
                    if not self.overlong:
                        self.overlong = True
                        replies.append(b"500 5.5.2 Line too long\r\n")
                break
            line, pos = bytes(buffer[pos:newline]), newline + 1
            if self.overlong:  # the end of a line already answered
                self.overlong = False
                continue
            if len(line) > MAX_LINE:
                replies.append(b"500 5.5.2 Line too long\r\n")
                continue
            replies.append(self._command(line.rstrip(b"\r")))
        self.start = pos
        if replies:
            self.transport.write(b"".join(replies))
        if self.closing:
            self.transport.close()

    def _delayed_accept(self, size: int) -> None:
        if self.transport.is_closing():
            return
        self.sink.accept(self.rcpts, size)
        self._reset()
        self.waiting = False
        self.transport.write(ACCEPTED)
        self._process()

    def _command(self, line: bytes) -> bytes:
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        arg = arg.strip()
        if verb == b"EHLO" or verb == b"HELO":
            if not arg:
                return _reply(f"501 5.5.4 Syntax: {verb.decode()} hostname")
            self.helo = arg
            self._reset()
            return EHLO_REPLY if verb == b"EHLO" else b"250 127.0.0.1\r\n"
        if verb == b"MAIL":
            if self.helo is None:
                return b"503 5.5.1 Error: send HELO first\r\n"
            if self.sender is not None:
                return b"503 5.5.1 Error: nested MAIL command\r\n"
            match = _MAIL.match(arg)
            if not match:
                return b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
            for param in match[2].split():
                key, _, value = param.upper().partition(b"=")
                if key == b"SIZE" and value.isdigit():
                    if int(value) > MAX_MESSAGE:
                        return b"552 5.3.4 Message size exceeds fixed limit\r\n"
                elif not (key == b"BODY" and value in _BODY):
                    return b"555 5.5.4 MAIL FROM parameters not recognized\r\n"
            self.sender = match[1]
            return b"250 2.1.0 OK\r\n"
        if verb == b"RCPT":
            if self.sender is None:
                return b"503 5.5.1 Error: need MAIL command\r\n"
            match = _RCPT.match(arg)
            if not match:
                return b"501 5.5.4 Syntax: RCPT TO:<address>\r\n"
            self.rcpts.append(match[1].decode("utf-8", "replace"))
            return b"250 2.1.5 OK\r\n"
        if verb == b"DATA":
            if arg:
                return b"501 5.5.4 Syntax: DATA\r\n"
            if not self.rcpts:
                return b"503 5.5.1 Error: need RCPT command\r\n"
            self.in_data = True
            self.scanned = 0
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"RSET" or verb == b"NOOP":
            if arg and verb == b"RSET":
                return b"501 5.5.4 Syntax: RSET\r\n"
            if verb == b"RSET":
                self._reset()
            return OK
        if verb == b"QUIT":
            self.closing = True
            return b"221 2.0.0 Bye\r\n"
        return b"500 5.5.2 Error: command not recognized\r\n"


# The aiosmtpd-based server the sink used to be -------------------------------------

# A line of the message that starts with a dot was sent with a second one.
_DOT_STUFFING = re.compile(rb"(?m)^\.")


class WholeDataSMTP(SMTP):
    """aiosmtpd's server, reading a message up to its final dot at once (stock
    aiosmtpd reads DATA line by line in Python). Everything else (the commands,
    their checks, the handler's hooks) is aiosmtpd's own."""

    # The reader's buffer limit, here the largest message accepted.
    line_length_limit = MAX_MESSAGE

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = await self._reader.readuntil(b"\r\n.\r\n")
        content = _DOT_STUFFING.sub(b"", data[: -len(b".\r\n")])
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class SinkController(Controller):
    """aiosmtpd's Controller (a server in a thread) serving WholeDataSMTP."""

    def factory(self):
        return WholeDataSMTP(self.handler, **self.SMTP_kwargs)


# The process ------------------------------------------------------------------------


def write_status(path: str, status: dict) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        json.dump(status, file)
    os.replace(temporary, path)


async def serve(port: int, status_path: str, sink: Sink) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTPSession(sink), "127.0.0.1", port, reuse_address=True, backlog=256
    )
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    write_status(status_path, {**sink.snapshot(), "ready": True})
    while True:
        try:
            await asyncio.wait_for(stopping.wait(), 0.25)
        except TimeoutError:
            write_status(status_path, {**sink.snapshot(), "ready": True})
        else:
            break
    server.close()
    write_status(status_path, {**sink.snapshot(), "ready": True, "stopped": True})


def main() -> None:
    parser = one_line_errors(
        argparse.ArgumentParser(description="A counting SMTP sink.")
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--status", required=True)
    parser.add_argument("--recipients")
    parser.add_argument("--delay-ms", type=float, default=0)
    args = parser.parse_args()
    sink = Sink(args.recipients, delay=args.delay_ms / 1000)
    asyncio.run(serve(args.port, args.status, sink))


class SinkProcess:
    """The sink in a process of its own, as a context manager."""

    def __init__(self, workdir: Path, *, record: bool = False, delay_ms: float = 0):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.status_path = Path(workdir) / f"sink-{self.port}.json"
        self.recipients_path = Path(workdir) / f"sink-{self.port}.rcpt"
        command = [sys.executable, __file__, "--port", str(self.port)]
        command += ["--status", str(self.status_path), "--delay-ms", str(delay_ms)]
        if record:
            command += ["--recipients", str(self.recipients_path)]
        self.process = subprocess.Popen(command)

    def __enter__(self):
        deadline = time.monotonic() + 20
        while not self.status_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the SMTP sink did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop()

    def status(self) -> dict:
        try:
            return json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            return {"messages": 0, "recipients": 0, "first": None, "last": None}

    def wait_for(self, messages: int, timeout: float, poll: float = 0.1) -> bool:
        """True once `messages` have arrived, False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        while self.status()["messages"] < messages:
            if time.monotonic() > deadline:
                return False
            time.sleep(poll)
        return True

    def recipients(self) -> collections.Counter:
        """How many messages each address received."""
        if not self.recipients_path.exists():
            return collections.Counter()
        lines = self.recipients_path.read_text().split("\n")
        return collections.Counter(line.strip().lower() for line in lines if line)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":
    main()
