"""
A stock SMTP server (aiosmtpd) on loopback that accepts every message and counts
it: the far end of the newsletter benchmark and of the reliability tests' sends.

    python bench/smtp_sink.py --port 2525 --status /tmp/sink.json \
        [--recipients FILE] [--delay-ms N]

Every quarter of a second it rewrites --status with {"messages", "recipients",
"bytes", "first", "last"} (times from time.time()); with --recipients it appends
every recipient address, one a line, as each message is accepted, so a test can
count who got a message and how often. --delay-ms makes every message wait that
long for its "250", so a test can stop a sender half-way. A message counts when
it is accepted. Stops on SIGTERM or SIGINT.

It is aiosmtpd's own server with a counting handler, nothing tuned: the
benchmark compares the newsletter's worker with a bare smtplib loop sending to
this same sink, so what the sink costs is the same on both sides.
"""

import argparse
import asyncio
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from newsroom.cli import one_line_errors  # noqa: E402


class CountingHandler:
    """Accepts every message; counts messages, recipients and bytes."""

    def __init__(self, *, recipients_file=None, delay: float = 0):
        self.recipients_file = recipients_file
        self.delay = delay
        self.messages = 0
        self.recipients = 0
        self.bytes = 0
        self.first = None
        self.last = None

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        now = time.time()
        self.first = self.first or now
        self.last = now
        self.messages += 1
        self.recipients += len(envelope.rcpt_tos)
        self.bytes += len(envelope.original_content or b"")
        if self.recipients_file:
            self.recipients_file.write("".join(f"{r}\n" for r in envelope.rcpt_tos))
            self.recipients_file.flush()
        return "250 OK"

    def status(self) -> dict:
        return {
            "messages": self.messages,
            "recipients": self.recipients,
            "bytes": self.bytes,
            "first": self.first,
            "last": self.last,
        }


def write_status(path: Path, status: dict) -> None:
    # Replaced whole, so a reader never sees half a file.
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(status))
    os.replace(partial, path)


def main() -> None:
    parser = one_line_errors(
        argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--status", required=True, type=Path)
    parser.add_argument("--recipients", type=Path)
    parser.add_argument("--delay-ms", type=float, default=0)
    args = parser.parse_args()

    recipients_file = open(args.recipients, "a") if args.recipients else None  # noqa: SIM115
    handler = CountingHandler(
        recipients_file=recipients_file, delay=args.delay_ms / 1000
    )
    controller = Controller(handler, hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    try:
        while True:
            write_status(args.status, handler.status())
            if stop.wait(0.25):
                break
    finally:
        controller.stop()
        write_status(args.status, handler.status())
        if recipients_file:
            recipients_file.close()


class SinkProcess:
    """The sink in a process of its own, as a context manager."""

    def __init__(self, workdir: Path, *, record: bool = False, delay_ms: float = 0):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.status_path = Path(workdir) / f"sink-{self.port}.json"
        self.recipients_path = Path(workdir) / f"sink-{self.port}.rcpt"
        self.command = [sys.executable, __file__, "--port", str(self.port)]
        self.command += ["--status", str(self.status_path), "--delay-ms", str(delay_ms)]
        if record:
            self.command += ["--recipients", str(self.recipients_path)]
        # Messages received by earlier processes of this sink (crash()).
        self.earlier = 0
        self.process = subprocess.Popen(self.command)

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

    def crash(self) -> None:
        """SIGKILL the sink, as a mail server that dies: connections drop, even
        in the middle of a message. Needs record=True: once it is started again
        its counts carry on from the recipients file (one recipient a message)."""
        self.process.kill()
        self.process.wait()
        self.earlier = sum(self.recipients().values())
        self.status_path.unlink(missing_ok=True)

    def start_again(self) -> None:
        """A new sink process on the same port, after crash()."""
        self.process = subprocess.Popen(self.command)
        self.__enter__()

    def status(self) -> dict:
        try:
            status = json.loads(self.status_path.read_text())
        except (OSError, ValueError):
            status = {"messages": 0, "recipients": 0, "first": None, "last": None}
        status["messages"] += self.earlier
        status["recipients"] += self.earlier
        return status

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
