"""
An SMTP server on loopback that accepts every message and counts it: the far end of
the newsletter benchmark and of the reliability tests' sends.

    python bench/smtp_sink.py --port 2525 --status /tmp/sink.json \
        [--recipients FILE] [--delay-ms N]

Every quarter of a second it rewrites --status with {"messages", "recipients",
"first", "last"} (times from time.time()); with --recipients it appends every
recipient address, one a line, as each message is accepted, so a test can count
who got a message and how often. --delay-ms makes every message take that long, so a
test can stop a sender half-way. Stops on SIGTERM or SIGINT.
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
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, syntax

# A line of the message that starts with a dot was sent with a second one.
_DOT_STUFFING = re.compile(rb"(?m)^\.")


class WholeDataSMTP(SMTP):
    """aiosmtpd's server, reading a message up to its final dot at once.

    Stock aiosmtpd reads DATA line by line in Python: about 1.4 ms of CPU for a
    newsletter of 11 KB (200-odd lines of quoted-printable), twice what the
    worker spends building and sending it, so a benchmark through it measured
    mostly the sink. A real mail server spends a fraction of that. Everything
    else (the commands, their checks, the handler's hooks) is aiosmtpd's own.
    """

    # The reader's buffer limit, here the largest message accepted.
    line_length_limit = 32 * 1024 * 1024

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
    def factory(self):
        return WholeDataSMTP(self.handler, **self.SMTP_kwargs)


class Counter:
    def __init__(self, recipients_path: str | None, delay: float = 0):
        self.delay = delay
        self.lock = threading.Lock()
        self.messages = 0
        self.recipients = 0
        self.first = None
        self.last = None
        self.log = open(recipients_path, "a") if recipients_path else None  # noqa: SIM115

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd reads commands in order from a buffer, so it serves pipelined
        # ones (RFC 2920) correctly; it only does not offer them.
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        now = time.time()
        with self.lock:
            self.messages += 1
            self.recipients += len(envelope.rcpt_tos)
            self.first = self.first or now
            self.last = now
            if self.log:
                self.log.write("".join(f"{rcpt}\n" for rcpt in envelope.rcpt_tos))
                self.log.flush()
        return "250 Message accepted"

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "messages": self.messages,
                "recipients": self.recipients,
                "first": self.first,
                "last": self.last,
            }


def write_status(path: str, status: dict) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        json.dump(status, file)
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description="A counting SMTP sink.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--status", required=True)
    parser.add_argument("--recipients")
    parser.add_argument("--delay-ms", type=float, default=0)
    args = parser.parse_args()

    counter = Counter(args.recipients, delay=args.delay_ms / 1000)
    controller = SinkController(counter, hostname="127.0.0.1", port=args.port)
    controller.start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    write_status(args.status, {**counter.snapshot(), "ready": True})
    while not stopping.wait(0.25):
        write_status(args.status, {**counter.snapshot(), "ready": True})
    controller.stop()
    write_status(args.status, {**counter.snapshot(), "ready": True, "stopped": True})


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
