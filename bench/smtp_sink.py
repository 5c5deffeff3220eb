"""
An SMTP server on loopback that accepts every message and counts it: the far end of
the newsletter benchmark and of the reliability tests' sends.

    python bench/smtp_sink.py --port 2525 --status /tmp/sink.json [--recipients FILE]

Every quarter of a second it rewrites --status with {"messages", "recipients",
"first", "last"} (times from time.time()); with --recipients it appends every
recipient address, one a line, as each message is accepted, so a test can count
who got a message and how often. Stops on SIGTERM or SIGINT.
"""

import argparse
import json
import os
import signal
import threading
import time

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self, recipients_path: str | None):
        self.lock = threading.Lock()
        self.messages = 0
        self.recipients = 0
        self.first = None
        self.last = None
        self.log = open(recipients_path, "a") if recipients_path else None  # noqa: SIM115

    async def handle_DATA(self, server, session, envelope):
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
    args = parser.parse_args()

    counter = Counter(args.recipients)
    controller = Controller(counter, hostname="127.0.0.1", port=args.port)
    controller.start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    write_status(args.status, {**counter.snapshot(), "ready": True})
    while not stopping.wait(0.25):
        write_status(args.status, {**counter.snapshot(), "ready": True})
    controller.stop()
    write_status(args.status, {**counter.snapshot(), "ready": True, "stopped": True})


if __name__ == "__main__":
    main()
