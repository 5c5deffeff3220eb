"""
Measure newsletter sending: emails per second and worker memory.

    .venv/bin/python newsletter/bench_sending.py --subscribers 20000 --workers 1
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/newsroom_bench_nl \
        .venv/bin/python newsletter/bench_sending.py --subscribers 100000 --workers 2

It builds a scratch database (a temporary SQLite file, or the PostgreSQL database
named by DATABASE_URL, which it empties first), starts the SMTP sink of
bench/smtp_sink.py (accepting everything) in another process, creates
the subscribers and an issue of five articles, queues the send (deliveries +
batch tasks), then runs `--workers` real `manage.py db_worker --batch` processes
and reports the rate, each worker's peak RSS, and the CPU seconds of the
workers, of the sink and (on PostgreSQL) of the workers' database backends: on
two cores shared by all three, CPU per email says more than a rate. bench/ runs
it as part of the budgets.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_cpu(cursor, seen: dict[int, float]) -> None:
    """Record the CPU time of every other backend connected to this database."""
    cursor.execute(
        "SELECT pid FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    for (pid,) in cursor.fetchall():
        with contextlib.suppress(OSError):  # it ended meanwhile
            seen[pid] = cpu_seconds(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="newsletter-bench-"))
    sys.path.insert(0, str(ROOT))
    from bench.smtp_sink import SinkProcess

    with SinkProcess(workdir) as sink:
        measure(args, workdir, sink)


def measure(args, workdir: Path, sink) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret-key"),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "NEWSLETTER_BATCH_SIZE": str(args.batch_size),
        "LOG_LEVEL": "WARNING",
    }
    if not env.get("DATABASE_URL"):
        env["SQLITE_PATH"] = str(workdir / "bench.sqlite3")
    os.environ.update(env)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)

    from articles.models import Article, Category
    from newsletter import services
    from newsletter.models import Issue, IssueArticle, Newsletter, Subscriber

    newsletter = Newsletter.objects.create(name="Bench", slug="bench")
    Through = Subscriber.newsletters.through
    chunk = 5000
    for start in range(0, args.subscribers, chunk):
        people = Subscriber.objects.bulk_create(
            Subscriber(email=f"reader{n}@example.org", status="confirmed")
            for n in range(start, min(start + chunk, args.subscribers))
        )
        Through.objects.bulk_create(
            Through(subscriber_id=p.pk, newsletter_id=newsletter.pk) for p in people
        )
    category = Category.objects.create(name="Town", slug="town")
    issue = Issue.objects.create(
        newsletter=newsletter, subject="Benchmark issue", preheader="Five stories"
    )
    for n in range(5):
        article = Article.objects.create(
            title=f"Story number {n} about the harbour and the hills",
            slug=f"story-{n}",
            category=category,
            excerpt="A paragraph summing the story up for the email. " * 3,
            status="published",
            published_at=django.utils.timezone.now(),
        )
        IssueArticle.objects.create(issue=issue, article=article, position=n)

    queued_at = time.perf_counter()
    total = services.start_sending(issue=issue)
    queue_seconds = time.perf_counter() - queued_at
    connection.close()

    load_before = os.getloadavg()
    sink_cpu = -cpu_seconds(sink.process.pid)  # it was idle until now
    started = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--batch"]
            + ["--queue-name", "newsletter", "--no-startup-delay", "--no-reload"]
            + ["-v", "0", "--skip-checks"],
            cwd=ROOT,
            env=env,
        )
        for _ in range(args.workers)
    ]
    usage = {}  # worker pid -> its resource usage, once it has exited
    backends = {}  # database backend pid -> CPU seconds last seen
    while len(usage) < len(workers):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                backend_cpu(cursor, backends)
        for worker in workers:
            if worker.pid not in usage:
                pid, status, rusage = os.wait4(worker.pid, os.WNOHANG)
                if pid:
                    worker.returncode = os.waitstatus_to_exitcode(status)
                    usage[pid] = rusage
        time.sleep(0.25)
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()
    connection.close()
    sink.wait_for(total, timeout=5)  # its status file lags a little
    sink_cpu += cpu_seconds(sink.process.pid)
    received = sink.status()["messages"]

    progress = Issue.objects.get(pk=issue.pk).progress()
    sent = progress["sent"] or 1
    worker_cpu = [r.ru_utime + r.ru_stime for r in usage.values()]
    database_cpu = sum(backends.values())
    print(
        json.dumps(
            {
                "database": connection.vendor,
                "subscribers": args.subscribers,
                "workers": args.workers,
                "batch_size": args.batch_size,
                "queue_seconds": round(queue_seconds, 2),
                "send_seconds": round(seconds, 2),
                "emails_per_second": round(progress["sent"] / seconds, 1),
                "sent": progress["sent"],
                "received_by_smtp": received,
                "recipients": total,
                "peak_worker_rss_mb": round(
                    max(r.ru_maxrss for r in usage.values()) / 1024, 1
                ),
                "worker_cpu_seconds": [round(cpu, 1) for cpu in worker_cpu],
                "sink_cpu_seconds": round(sink_cpu, 1),
                "database_cpu_seconds": round(database_cpu, 1),
                "cpu_ms_per_email": {
                    "workers": round(sum(worker_cpu) / sent * 1000, 2),
                    "sink": round(sink_cpu / sent * 1000, 2),
                    "database": round(database_cpu / sent * 1000, 2),
                },
                "load_average": {
                    "before": [round(n, 2) for n in load_before],
                    "after": [round(n, 2) for n in load_after],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
