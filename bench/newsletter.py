"""
Newsletter sending speed, memory and exactly-once: one issue to every subscriber,
through a stock aiosmtpd sink in another process (bench/smtp_sink.py), with
`manage.py db_worker` processes on PostgreSQL.

Four runs, side by side in one process:

1. smtplib: a bare smtplib loop handing pre-built messages of the issue to the
   sink over one connection. The ceiling of what the sink accepts.
2. one worker: the real send. Its budget is >= 0.8 of the smtplib rate.
3. two workers: reported, no budget.
4. two workers, one SIGKILLed and replaced --kills times spread over the send,
   and the sink SIGKILLed half-way and started again on its port
   --sink-outage seconds later, with `send_issue --due` run every few seconds
   as cron would (for the killed workers' rows): the whole send, to the end,
   checked at the sink for lost and doubled emails.

run.py calls measure(), which runs this file in a process of its own (its Django is
configured for the newsletter's database, not the page benchmark's).

    python bench/newsletter.py --database-url postgres://.../newsroom_bench \
        --subscribers 100000 --out /tmp/newsletter.json [--reuse]

Emails per second is the steady rate the sink saw: messages after the first,
divided by the time from the first to the last. Runs 1-3 stop after --seconds
and are measured over what arrived.
"""

import argparse
import contextlib
import email.policy
import json
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.server import (  # noqa: E402
    postgres_reachable,
    production_env,
    recreate_postgres_database,
)
from bench.smtp_sink import SinkProcess  # noqa: E402
from newsroom.cli import one_line_errors  # noqa: E402


def measure(args, size, workdir: Path, notes: list) -> list[dict]:
    """Run the newsletter benchmark in a subprocess; returns one row per worker
    count (empty, with a note, when it cannot run)."""
    url = args.newsletter_url
    if not url.startswith("postgres"):
        notes.append("newsletter: n/a (needs a PostgreSQL --newsletter-url)")
        return []
    if not postgres_reachable(url):
        notes.append(f"newsletter: n/a (PostgreSQL not reachable at {url})")
        return []
    if "bench" not in url.rsplit("/", 1)[1]:
        notes.append("newsletter: n/a (the database's name must contain 'bench')")
        return []
    if not size.subscribers:
        notes.append("newsletter: n/a (no subscribers)")
        return []
    command = [
        sys.executable,
        str(Path(__file__)),
        "--kill-timeout",
        str(max(1800, args.newsletter_seconds * 30)),
        "--database-url",
        url,
        "--subscribers",
        str(size.subscribers),
        "--out",
        str(workdir / "newsletter.json"),
        "--seconds",
        str(args.newsletter_seconds),
        "--kills",
        str(args.kills),
        "--sink-outage",
        str(args.sink_outage),
        # The quick run's batches are small enough for cron to take back a
        # killed worker's rows soon.
        "--stale-claim-after",
        "5" if args.quick else "60",
    ]
    if args.database_url == url:
        command.append("--reuse")
    print(f"Newsletter: {size.subscribers:,} subscribers on PostgreSQL", flush=True)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if completed.returncode != 0:
        notes.append(f"newsletter: failed (exit status {completed.returncode})")
        return []
    result = json.loads((workdir / "newsletter.json").read_text())
    notes.extend(result["notes"])
    return result["rows"]


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, in MB, from /proc."""
    current = peak = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return current, peak


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """(busy, all) CPU time of the whole machine so far, in clock ticks, from
    /proc/stat: user, nice, system, irq, softirq and steal count as busy."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def _prepare_issue():
    """A fresh issue of the bench newsletter with five articles, and an empty
    task queue."""
    from django_tasks_db.models import DBTaskResult

    from articles.models import Article
    from newsletter.models import Delivery, Issue, IssueArticle, Newsletter

    Delivery.objects.all().delete()
    IssueArticle.objects.all().delete()
    Issue.objects.all().delete()
    DBTaskResult.objects.all().delete()
    newsletter = Newsletter.objects.get(slug="morning-briefing")
    issue = Issue.objects.create(
        newsletter=newsletter,
        subject="Morning Briefing: the harbour, the ferry and the budget",
        preheader="Five stories to start the day.",
        intro="<p>Good morning. Here is what our reporters found this week.</p>",
    )
    for position, article in enumerate(Article.objects.published()[:5]):
        IssueArticle.objects.create(issue=issue, article=article, position=position)
    return issue


def _settle_database() -> None:
    """Start every send from the same state of PostgreSQL: the deliveries just
    written (and the last run's, deleted) vacuumed and analysed, and their WAL
    flushed by a checkpoint. Otherwise autovacuum and a checkpoint fall due during
    the second run, which alone pays for the first run's rows."""
    from django.db import DatabaseError, connection

    from newsletter.models import Delivery

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {Delivery._meta.db_table}")
        with contextlib.suppress(DatabaseError):  # CHECKPOINT wants a superuser
            cursor.execute("CHECKPOINT")


def _start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "newsletter"]
        + ["--no-startup-delay", "--no-reload", "--interval", "0.2", "-v", "0"]
        + ["--skip-checks"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def _steady_rate(status: dict) -> float | None:
    messages = status["messages"]
    if messages > 1 and status["last"] > status["first"]:
        return (messages - 1) / (status["last"] - status["first"])
    return None


def run_smtplib(window: float, workdir: Path) -> dict:
    """The sink's ceiling: pre-built messages of the issue (the same bytes
    Django's SMTP backend would send), handed over by a bare smtplib loop on
    one connection for `window` seconds."""
    from django.conf import settings

    from newsletter.models import Subscriber
    from newsletter.sending import IssueMail

    issue = _prepare_issue()
    mail = IssueMail.for_issue(issue)
    sender = settings.NEWSLETTER_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">")
    people = (
        Subscriber.objects.filter(
            status=Subscriber.Status.CONFIRMED, newsletters=issue.newsletter_id
        )
        .order_by("id")
        .values_list("id", "email")[:500]
    )
    messages = [
        (address, mail.message_for(pk, address).message(policy=email.policy.SMTP))
        for pk, address in people
    ]
    messages = [(address, message.as_bytes()) for address, message in messages]
    with SinkProcess(workdir) as sink:
        cpu = time.process_time()
        deadline = time.monotonic() + window
        sent = 0
        with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
            while time.monotonic() < deadline:
                address, raw = messages[sent % len(messages)]
                smtp.sendmail(sender, [address], raw)
                sent += 1
        cpu = time.process_time() - cpu
        sink.wait_for(sent, timeout=5)
        status = sink.status()
    rate = _steady_rate(status)
    return {
        "run": "smtplib",
        "workers": 0,
        "emails": status["messages"],
        "recipients": sent,
        "marked_sent": sent,
        "emails_per_second": round(rate, 1) if rate else None,
        "worker_cpu_ms_per_email": round(cpu / max(sent, 1) * 1000, 2),
        "load_average": [round(n, 2) for n in os.getloadavg()],
    }


def _kill_events(recipients: int, kills: int, outage: float) -> list[tuple[int, str]]:
    """When to act, as emails received: the kills spread evenly over the send,
    the mail server's outage half-way."""
    events = [(recipients * n // (kills + 1), "kill") for n in range(1, kills + 1)]
    if outage:
        events.append((recipients // 2, "outage"))
    return sorted(events)


def run_killed(
    env: dict,
    workdir: Path,
    timeout: float,
    *,
    kills: int = 1,
    outage: float = 0,
    stale_after: float = 60,
) -> dict:
    """Two workers; `kills` times the oldest is SIGKILLed and replaced, and once
    the sink is SIGKILLed and started again on its port `outage` seconds later.
    `send_issue --due` runs every few seconds, as cron would, for the killed
    workers' rows. The whole send, then the sink's record: who got the issue,
    and how often."""
    from django.conf import settings
    from django.db import connections

    from bench.server import manage
    from newsletter import services
    from newsletter.models import Delivery

    issue = _prepare_issue()
    unfinished = [
        Delivery.Status.PENDING,
        Delivery.Status.CLAIMED,
        Delivery.Status.SENDING,
    ]
    with SinkProcess(workdir, record=True) as sink:
        recipients = services.start_sending(issue=issue, user=None)
        connections.close_all()
        worker_env = {
            **env,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
            "EMAIL_USE_TLS": "0",
            # Longer than a batch takes, so only a dead worker's rows are taken
            # back; cron runs a few times within it.
            "NEWSLETTER_STALE_CLAIM_AFTER": str(round(stale_after)),
        }
        cron_every = max(3, stale_after / 4)
        events = _kill_events(recipients, kills, outage)
        started = time.monotonic()
        workers = [_start_worker(worker_env) for _ in range(2)]
        everyone_started = list(workers)
        peaks, cpu = {}, {}
        server_back = None
        next_cron = started + cron_every
        while time.monotonic() < started + timeout:
            for process in workers:
                peaks[process.pid] = max(
                    peaks.get(process.pid, 0.0), _rss_mb(process.pid)[1]
                )
                cpu[process.pid] = _cpu_seconds(process.pid) or cpu.get(process.pid, 0)
            if events and sink.status()["messages"] >= events[0][0]:
                if events.pop(0)[1] == "kill":
                    workers[0].send_signal(signal.SIGKILL)
                    workers[0].wait()
                    workers = workers[1:] + [_start_worker(worker_env)]
                    everyone_started.append(workers[-1])
                else:
                    sink.crash()
                    time.sleep(outage)
                    sink.start_again()
                    server_back = time.time()
                continue
            if time.monotonic() >= next_cron:
                manage(worker_env, "send_issue", "--due")
                next_cron = time.monotonic() + cron_every
            left = Delivery.objects.filter(issue=issue, status__in=unfinished).count()
            connections.close_all()
            if not left:
                break
            time.sleep(1)
        seconds = time.monotonic() - started
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        sent = Delivery.objects.filter(issue=issue, status=Delivery.Status.SENT)
        sink.wait_for(sent.count(), timeout=5)
        received = sink.recipients()
        first_after_outage = sink.status()["first"]
    everyone = set(
        Delivery.objects.filter(issue=issue).values_list("subscriber__email", flat=True)
    )
    in_doubt = set(
        Delivery.objects.filter(
            issue=issue, status=Delivery.Status.IN_DOUBT
        ).values_list("subscriber__email", flat=True)
    )
    counts = issue.progress()
    emails = sum(received.values())
    return {
        "run": f"2 workers, {kills} killed, mail server down {outage:g} s",
        "workers": 2,
        "killed": kills,
        "sink_outage_seconds": outage,
        # From the server's return to the first message it got: the send
        # resuming by itself (NEWSLETTER_SERVER_RETRY_AFTER), or cron's doing.
        "resumed_after_seconds": (
            round(first_after_outage - server_back, 1)
            if server_back and first_after_outage
            else None
        ),
        "recipients": recipients,
        "emails": emails,
        "marked_sent": counts["sent"],
        "unfinished": sum(counts[status] for status in unfinished),
        "seconds": round(seconds, 1),
        "emails_per_second": round(emails / seconds, 1),
        "duplicates": sum(times - 1 for times in received.values() if times > 1),
        "lost": len(everyone - set(received) - in_doubt),
        "in_doubt": len(in_doubt),
        # The documented bound: one slice per killed worker, and the message
        # each live worker was handing over when the server died.
        "in_doubt_bound": kills * max(1, settings.NEWSLETTER_SENDING_SLICE)
        + (2 if outage else 0),
        "strangers": len(set(received) - everyone),
        "peak_rss_mb_per_worker": [
            round(peaks.get(process.pid, 0.0), 1) for process in everyone_started
        ],
        "peak_rss_mb": round(max(peaks.values()), 1),
        "worker_cpu_ms_per_email": round(sum(cpu.values()) / max(emails, 1) * 1000, 2),
    }


def run_send(env: dict, workers: int, window: float, workdir: Path) -> dict:
    from django.db import connections

    from newsletter import services
    from newsletter.models import Delivery

    issue = _prepare_issue()
    with SinkProcess(workdir) as sink:
        prepared = time.monotonic()
        recipients = services.start_sending(issue=issue, user=None)
        prepare_seconds = time.monotonic() - prepared
        _settle_database()
        connections.close_all()
        worker_env = {
            **env,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
            "EMAIL_USE_TLS": "0",
        }
        sink_cpu = -_cpu_seconds(sink.process.pid)
        busy_before, all_before = _machine_jiffies()
        started = time.monotonic()
        started_wall = time.time()
        processes = [_start_worker(worker_env) for _ in range(workers)]
        peaks = {process.pid: 0.0 for process in processes}
        deadline = started + window
        # The workers' CPU once mail flows (their start-up left out), and how
        # many messages had arrived then.
        steady_from = None
        while (arrived := sink.status()["messages"]) < recipients and (
            time.monotonic() < deadline
        ):
            if steady_from is None and arrived:
                steady_from = (
                    sum(_cpu_seconds(process.pid) for process in processes),
                    arrived,
                )
            for process in processes:
                peaks[process.pid] = max(peaks[process.pid], _rss_mb(process.pid)[1])
            time.sleep(0.2)
        worker_cpu = sum(_cpu_seconds(process.pid) for process in processes)
        sink_cpu += _cpu_seconds(sink.process.pid)
        busy_after, all_after = _machine_jiffies()
        machine_cpu = (busy_after - busy_before) / os.sysconf("SC_CLK_TCK")
        machine_busy = (busy_after - busy_before) / max(all_after - all_before, 1)
        for process in processes:
            peaks[process.pid] = max(peaks[process.pid], _rss_mb(process.pid)[1])
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        sent = Delivery.objects.filter(issue=issue, status=Delivery.Status.SENT).count()
        sink.wait_for(sent, timeout=2)  # its status file lags a little
        status = sink.status()
    messages = status["messages"]
    steady = _steady_rate(status)
    return {
        "run": f"{workers} worker{'s' if workers > 1 else ''}",
        "workers": workers,
        "emails": messages,
        "recipients": recipients,
        "marked_sent": sent,
        "window_seconds": window,
        "prepare_seconds": round(prepare_seconds, 2),
        "seconds": round((status["last"] or started_wall) - started_wall, 2),
        "emails_per_second": round(steady, 1) if steady else None,
        "peak_rss_mb": round(max(peaks.values()), 1),
        # CPU per email received, over the whole window (start-up included).
        "worker_cpu_ms_per_email": round(worker_cpu / max(messages, 1) * 1000, 2),
        # The same once mail flows: what each email costs the workers.
        "worker_steady_cpu_ms_per_email": (
            round(
                (worker_cpu - steady_from[0])
                / max(messages - steady_from[1], 1)
                * 1000,
                2,
            )
            if steady_from
            else None
        ),
        "sink_cpu_ms_per_email": round(sink_cpu / max(messages, 1) * 1000, 2),
        # Everything else the machine did meanwhile: PostgreSQL, the kernel, and
        # whatever else was running.
        "other_cpu_ms_per_email": round(
            (machine_cpu - worker_cpu - sink_cpu) / max(messages, 1) * 1000, 2
        ),
        "machine_busy_percent": round(machine_busy * 100),
        "load_average": [round(n, 2) for n in os.getloadavg()],
    }


def main() -> None:
    parser = one_line_errors(
        argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--subscribers", type=int, required=True)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--seconds",
        type=float,
        default=60,
        help="stop each send after this long if it has not finished (default 60)",
    )
    parser.add_argument(
        "--kill-timeout",
        type=float,
        default=900,
        help="give up on the send with a killed worker after this long (default 900)",
    )
    parser.add_argument(
        "--kills",
        type=int,
        default=4,
        help="SIGKILL a worker this many times during the last send (default 4)",
    )
    parser.add_argument(
        "--sink-outage",
        type=float,
        default=20,
        help="seconds the mail server is down half-way through the last send "
        "(default 20; 0: never)",
    )
    parser.add_argument(
        "--stale-claim-after",
        type=float,
        default=60,
        help="NEWSLETTER_STALE_CLAIM_AFTER for the last send (default 60)",
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="newsroom-bench-newsletter-"))
    env = production_env(static_root=workdir / "static", database_url=args.database_url)
    os.environ.clear()
    os.environ.update(env)
    import django
    from django.core.management import call_command

    if not args.reuse:
        recreate_postgres_database(args.database_url)
    django.setup()
    from bench import dataset as ds

    notes = []
    if not args.reuse:
        call_command("migrate", verbosity=0, interactive=False)
        ds.build(
            ds.Size(articles=50, comments=0, subscribers=args.subscribers),
            log=lambda *a: None,
        )
    rows = [run_smtplib(min(args.seconds, 20), workdir)]
    print(
        f"  smtplib loop: {rows[0]['emails']:,} emails, "
        f"{rows[0]['emails_per_second'] or 0:,.0f}/s, CPU per email "
        f"{rows[0]['worker_cpu_ms_per_email']} ms in the client",
        flush=True,
    )
    for workers in (1, 2):
        row = run_send(env, workers, args.seconds, workdir)
        print(
            f"  {workers} worker(s): {row['emails']:,} emails, "
            f"{row['emails_per_second'] or 0:,.0f}/s, peak {row['peak_rss_mb']} MB, "
            f"CPU per email {row['worker_cpu_ms_per_email']} ms in the workers "
            f"({row['worker_steady_cpu_ms_per_email']} ms once mail flows), "
            f"{row['sink_cpu_ms_per_email']} ms in the sink, "
            f"{row['other_cpu_ms_per_email']} ms elsewhere (PostgreSQL, kernel); "
            f"machine {row['machine_busy_percent']} % busy, "
            f"load average {row['load_average'][0]}",
            flush=True,
        )
        if row["emails"] < row["recipients"]:
            notes.append(
                f"newsletter with {workers} worker(s): measured over the first "
                f"{args.seconds:.0f} s ({row['emails']:,} of {row['recipients']:,} "
                "emails); the rest were left pending"
            )
        rows.append(row)
    killed = run_killed(
        env,
        workdir,
        args.kill_timeout,
        kills=args.kills,
        outage=args.sink_outage,
        stale_after=args.stale_claim_after,
    )
    resumed = killed["resumed_after_seconds"]
    print(
        f"  {killed['run']}: {killed['emails']:,} emails for "
        f"{killed['recipients']:,} recipients in {killed['seconds']} s "
        f"({killed['emails_per_second']}/s), {killed['duplicates']} doubled, "
        f"{killed['lost']} lost, {killed['in_doubt']} in doubt (bound "
        f"{killed['in_doubt_bound']}), {killed['unfinished']} unfinished"
        + (f", resumed {resumed} s after the outage" if resumed is not None else "")
        + f"; peak "
        f"RSS per worker {killed['peak_rss_mb_per_worker']} MB, CPU per email "
        f"{killed['worker_cpu_ms_per_email']} ms",
        flush=True,
    )
    rows.append(killed)
    Path(args.out).write_text(json.dumps({"rows": rows, "notes": notes}))


if __name__ == "__main__":
    main()
