"""
`make bench`: build a dataset, serve it with the production profile, load it with
wrk, and print one table of what was measured next to the budgets.

    .venv/bin/python bench/run.py                  # full size, SQLite
    .venv/bin/python bench/run.py --quick          # small dataset
    .venv/bin/python bench/run.py --database-url postgres://postgres@127.0.0.1:5432/newsroom_bench

Everything runs on loopback: gunicorn with DEBUG off, wrk in another process, and
for the newsletter an SMTP sink (bench/smtp_sink.py) in a third. Timings are never a
test failure anywhere: this prints "missed" and exits 0. Results go to bench/results/
as markdown and JSON, named by the time of the run. See bench/README.md.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.server import (  # noqa: E402
    Gunicorn,
    Varnish,
    free_port,
    production_env,
    recreate_postgres_database,
    redis_reachable,
    varnishd_path,
)
from newsroom.cli import one_line_errors  # noqa: E402

RESULTS = ROOT / "bench" / "results"

# Budgets from issue 7 (and the feature issues for SQL queries and page weight).
ARTICLE_UNCACHED_RPS = 400
ARTICLE_CACHED_RPS = 3000
ARTICLE_P99_MS = 100
HOME_UNCACHED_RPS = 250
ARTICLE_QUERIES = 10
HOME_QUERIES = 12
ARTICLE_WEIGHT_BYTES = 100 * 1024
# Issue 13: the article with 50 comments as sent to a browser that accepts gzip.
ARTICLE_GZIP_BYTES = 15 * 1024
# Issue 15: the admin's comparison of two long revisions, "well under a second".
REVISION_COMPARE_MS = 1000
# One worker's rate against a bare smtplib loop to the same sink, same run.
NEWSLETTER_SHARE_OF_SMTPLIB = 0.8
NEWSLETTER_RSS_MB = 200
# Issue 13: behind the shipped Varnish, pages at this share of the rate Varnish
# serves a static file at; a change readers see through the cache within this.
VARNISH_STATIC_RATIO = 0.9
VARNISH_PAGES = ("article (50 comments)", "home", "feed")
PURGE_VISIBLE_SECONDS = 1.0


@dataclass
class Page:
    name: str
    path: str
    queries: int | None = None
    fragment_queries: int | None = None
    bytes: int | None = None
    gzip_bytes: int | None = None
    status: int | None = None
    # Median time of 5 requests one after another in-process, nothing cached,
    # then with the fragments cached.
    server_ms: float | None = None
    fragment_ms: float | None = None


@dataclass
class Load:
    """One wrk run."""

    page: str
    # "off" (nothing cached), "fragments" (fragments cached), "-" for the static
    # file from gunicorn, or "varnish" (through the shipped Varnish, static file
    # included).
    cache: str
    connections: int
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    errors: int = 0
    note: str = ""
    # Every run's req/s when the load was repeated (--repeat); the fields above
    # are the median run's, but for errors, which add up over all runs.
    runs: list = field(default_factory=list)


@dataclass
class Results:
    started: str
    database: str
    size: dict
    pages: list = field(default_factory=list)
    loads: list = field(default_factory=list)
    newsletter: list = field(default_factory=list)
    # Changes made while Varnish served: {"change", "page", "cached_before",
    # "seconds"} (None: not visible within the wait).
    purges: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    article_weight: int | None = None
    revision_compare_ms: float | None = None
    machine: dict = field(default_factory=dict)


# --- wrk -------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict:
    """Requests/s, p50 and p99 in milliseconds, requests and errors from the text
    wrk prints with --latency."""
    result = {"rps": None, "p50_ms": None, "p99_ms": None, "requests": 0, "errors": 0}
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        result["rps"] = float(match[1])
    for percentile, key in (("50", "p50_ms"), ("99", "p99_ms")):
        if match := re.search(rf"^\s+{percentile}%\s+(\S+)\s*$", output, re.M):
            result[key] = _ms(match[1])
    if match := re.search(r"(\d+) requests in", output):
        result["requests"] = int(match[1])
    if match := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        result["errors"] += int(match[1])
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        # Read errors are connections the server closed between keep-alive
        # requests; only failed connects and timeouts are lost requests.
        result["errors"] += int(match[1]) + int(match[4])
    if not result["requests"]:
        # Nothing completed in the window: no rate and no latency to report.
        result.update(rps=None, p50_ms=None, p99_ms=None)
    return result


def run_wrk(
    url: str, *, connections: int, seconds: float, headers: dict | None = None
) -> dict:
    threads = max(1, min(connections, os.cpu_count() or 1))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed: {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


# --- the run -----------------------------------------------------------------------


def bench_env(args, static_root: Path, database_path: Path | None) -> dict:
    return production_env(
        static_root=static_root,
        database_url=args.database_url or "",
        sqlite_path=database_path,
        redis_url=args.redis_url or "",
        # testserver: the in-process client that counts queries.
        ALLOWED_HOSTS="127.0.0.1,testserver",
    )


def reset_database(args, database_path: Path | None) -> None:
    if not args.database_url:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database_path}{suffix}").unlink(missing_ok=True)
        return
    name = args.database_url.rsplit("/", 1)[1].split("?")[0]
    if "bench" not in name:
        raise SystemExit(
            f"Refusing to drop {name!r}: the bench database's name must contain "
            "'bench', e.g. .../newsroom_bench."
        )
    recreate_postgres_database(args.database_url)


def page_weight(html: str, static_root: Path, static_url: str) -> int:
    """HTML plus the CSS and JS files it links from this site (images excluded)."""
    total = len(html.encode())
    pattern = r'<(?:link[^>]+rel="?stylesheet"?[^>]*href|script[^>]+src)="([^"]+)"'
    for url in set(re.findall(pattern, html)):
        path = url.split("?")[0]
        if path.startswith(static_url):
            file = static_root / path[len(static_url) :]
            if file.is_file():
                total += file.stat().st_size
    return total


def count_queries(pages: list[Page]) -> None:
    """SQL queries and bytes per page, from Django's test client in this process,
    against the same database the server uses. The second request of each page is
    counted, so one-off warm-ups (the sign-up box's cached choices) do not count."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    client = Client()

    def measure(page, **settings):
        with override_settings(**settings):
            client.get(page.path)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(page.path)
            # Now: the list reads the connection's log, which the next request
            # clears.
            count = len(queries)
            timings = []
            for _ in range(5):
                started = time.perf_counter()
                client.get(page.path)
                timings.append((time.perf_counter() - started) * 1000)
        return response, count, round(sorted(timings)[2], 1)

    for page in pages:
        response, page.queries, page.server_ms = measure(page, FRAGMENT_CACHE_SECONDS=0)
        page.status = response.status_code
        page.bytes = len(response.content)
        gzipped = client.get(page.path, headers={"Accept-Encoding": "gzip"})
        if gzipped.get("Content-Encoding") == "gzip":
            page.gzip_bytes = len(gzipped.content)
        _, page.fragment_queries, page.fragment_ms = measure(
            page, FRAGMENT_CACHE_SECONDS=300
        )


def sqlite_file_check(path: Path) -> str:
    """Whether the SQLite file survived the load: its header, and quick_check."""
    import sqlite3

    with open(path, "rb") as file:
        header = file.read(16)
    if header != b"SQLite format 3\x00":
        return f"SQLITE FILE DAMAGED after the load: header {header!r}"
    with sqlite3.connect(path) as conn:
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    return f"SQLite file after the load: quick_check {verdict}"


def gzip_without_comment_text(html: str) -> tuple[int, int]:
    """The characters of reader text in the page's comments, and the page's size
    gzipped as GZipMiddleware sends it (level 6) with that text taken out: what
    the page itself weighs, whatever its commenters wrote."""
    pattern = r'(<div class="comment-content">)(.*?)(</div>)'
    text = "".join(match[1] for match in re.findall(pattern, html, flags=re.S))
    without = re.sub(pattern, r"\1\3", html, flags=re.S)
    return len(text), len(gzip.compress(without.encode(), compresslevel=6, mtime=0))


def pick_static_file(html: str, static_url: str) -> str:
    """The stylesheet a public page links (the file every page loads), else the
    admin's."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    for url in re.findall(r'<link[^>]+rel="?stylesheet"?[^>]*href="([^"]+)"', html):
        if url.startswith(static_url):
            return url
    return staticfiles_storage.url("admin/css/base.css")


def median_run(runs: list[dict]) -> dict:
    """The run with the median rate (the lower middle one of an even number), with
    the errors of all runs: one stalled run in three, which this machine's
    neighbours cause now and then, neither sinks nor lifts a page's figure."""
    ordered = sorted(runs, key=lambda run: run["rps"] or 0)
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["errors"] = sum(run["errors"] for run in runs)
    return median


def drive(
    results: Results,
    server_url: str,
    pages,
    *,
    cache: str,
    args,
    headers=None,
    reference=None,
) -> None:
    """Load each page with wrk, `args.repeat` rounds per connection count. Every
    round loads every page in turn, so a page and the static file it is compared
    with are measured minutes apart at most, not a whole series apart.
    `reference`, a static file the server serves outside any page cache, joins
    every round and is recorded with the cache column "-"."""
    labels = {page.name: cache for page in pages}
    if reference is not None:
        pages = [reference, *pages]
        labels[reference.name] = "-"
    for page in pages:
        # Warm every worker's cache (or connection) before measuring.
        run_wrk(server_url + page.path, connections=4, seconds=1, headers=headers)
    for connections in args.connections:
        runs = {page.name: [] for page in pages}
        for _ in range(args.repeat):
            for page in pages:
                run = run_wrk(
                    server_url + page.path,
                    connections=connections,
                    seconds=args.duration,
                    headers=headers,
                )
                runs[page.name].append(run)
        for page in pages:
            record_load(results, page, runs[page.name], labels[page.name], connections)


def record_load(results, page, runs, cache, connections) -> None:
    load = Load(page=page.name, cache=cache, connections=connections)
    load.__dict__.update(median_run(runs))
    load.runs = [run["rps"] for run in runs]
    results.loads.append(load)
    spread = (
        " (runs: " + ", ".join(f"{run or 0:.0f}" for run in load.runs) + ")"
        if len(runs) > 1
        else ""
    )
    print(
        f"  {page.name:<22} cache {cache:<9} c={connections:<3} "
        f"{load.rps or 0:>9.1f} req/s  p99 {load.p99_ms or 0:.1f} ms"
        + spread
        + (f"  ({load.errors} errors)" if load.errors else ""),
        flush=True,
    )


def fetch(url: str) -> tuple[str, str]:
    """The body and X-Cache header of a GET."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode(errors="replace"), response.headers["X-Cache"]


def seconds_until_visible(url: str, text: str, change, *, wait: float = 10) -> dict:
    """Store `url` in the cache, make `change()`, then ask for `url` until `text`
    is in it: the seconds from the start of the change (its save, commit and
    purge) to the first answer that shows it; None if it did not within `wait`."""
    fetch(url)
    _, cache = fetch(url)
    started = time.monotonic()
    change()
    seconds = None
    while time.monotonic() - started < wait:
        if text in fetch(url)[0]:
            seconds = round(time.monotonic() - started, 3)
            break
        time.sleep(0.005)
    return {"cached_before": cache == "HIT", "seconds": seconds}


def measure_purges(varnish_url: str, data) -> list[dict]:
    """A publish (seen on the home page), an edit (the article's headline) and a
    comment approval (on the article), each made here as an editor's save would
    be, with this process purging Varnish as the app servers do."""
    from django.test.utils import override_settings
    from django.urls import reverse
    from django.utils import timezone

    from articles.models import Article

    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    home = varnish_url + reverse("articles:home")
    rows = []
    with override_settings(FRONTEND_CACHE_URLS=[varnish_url + "/"]):
        template = Article.objects.get(slug=data.article_50)
        title = f"Bench publish {stamp}"

        def publish():
            Article.objects.create(
                title=title,
                slug=f"bench-publish-{stamp}",
                body="<p>Published while Varnish served.</p>",
                status=Article.Status.PUBLISHED,
                published_at=timezone.now(),
                category_id=template.category_id,
            )

        rows.append({"change": "publish", "page": "home"})
        rows[-1].update(seconds_until_visible(home, title, publish))

        article = Article.objects.get(slug=f"bench-publish-{stamp}")
        page = varnish_url + article.get_absolute_url()
        edited = f"Bench edit {stamp}"

        def edit():
            article.title = edited
            article.save()

        rows.append({"change": "edit", "page": "article"})
        rows[-1].update(seconds_until_visible(page, edited, edit))

        if data.comments_built:
            from comments.models import Comment
            from comments.services import moderate

            text = f"Bench approval {stamp}"
            pending = Comment.objects.create(
                article=article,
                author_name="Bench",
                author_email="bench@example.org",
                text=text,
                html=f"<p>{text}</p>",
                status=Comment.Status.PENDING,
            )

            def approve():
                moderate(comments=[pending], status=Comment.Status.APPROVED)

            rows.append({"change": "approve comment", "page": "article"})
            rows[-1].update(seconds_until_visible(page, text, approve))
    for row in rows:
        print(
            f"  {row['change']:<16} on the {row['page']:<8} "
            f"{_fmt(row['seconds'], '.3f', ' s')} through Varnish"
            + ("" if row["cached_before"] else " (the page was not cached before)"),
            flush=True,
        )
    return rows


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of 1 or more: {text!r}"
        )
    return number


def main(argv=None) -> int:
    parser = one_line_errors(
        argparse.ArgumentParser(description="Benchmark the production profile.")
    )
    parser.add_argument("--quick", action="store_true", help="a small dataset")
    parser.add_argument("--articles", type=int)
    parser.add_argument("--comments", type=int)
    parser.add_argument("--subscribers", type=int)
    parser.add_argument(
        "--database-url",
        help="PostgreSQL database for the run (dropped and re-created; its name "
        "must contain 'bench'). Default: a SQLite file under bench/results/.",
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/15",
        help="Redis for the cache, as in production (default: database 15 on "
        "loopback, with a key prefix of its own; 'none' for the in-process cache)",
    )
    parser.add_argument(
        "--duration", type=float, default=5, help="seconds per wrk run (default 5)"
    )
    parser.add_argument(
        "--repeat",
        type=_at_least_one,
        default=3,
        help="wrk runs per page and connection count; the median is reported "
        "(default 3)",
    )
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[16, 64],
        help="comma-separated wrk connection counts (default 16,64)",
    )
    parser.add_argument(
        "--newsletter-url",
        default=os.environ.get(
            "BENCH_NEWSLETTER_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/newsroom_bench",
        ),
        help="PostgreSQL database for the newsletter send (its name must contain "
        "'bench'); 'none' skips the newsletter",
    )
    parser.add_argument(
        "--newsletter-seconds",
        type=float,
        help="stop each newsletter send after this long (default 60; 15 --quick)",
    )
    parser.add_argument(
        "--kills",
        type=int,
        help="SIGKILL a newsletter worker this many times during the last send "
        "(default 4; 1 --quick)",
    )
    parser.add_argument(
        "--sink-outage",
        type=float,
        help="seconds the mail server is down half-way through the last "
        "newsletter send (default 20; 0 --quick)",
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="run ANALYZE on SQLite after the load (PostgreSQL always gets it), "
        "to see what query-planner statistics change",
    )
    parser.add_argument("--skip-load", action="store_true", help="no wrk runs")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if a request failed or a finished newsletter send lost or "
        "doubled an email (never for a timing)",
    )
    args = parser.parse_args(argv)
    if args.newsletter_seconds is None:
        args.newsletter_seconds = 15 if args.quick else 60
    if args.kills is None:
        args.kills = 1 if args.quick else 4
    if args.sink_outage is None:
        args.sink_outage = 0 if args.quick else 20
    if args.redis_url.lower() == "none" or not redis_reachable(args.redis_url):
        args.redis_url = ""

    from bench import dataset as ds

    size = ds.Size.quick() if args.quick else ds.Size.full()
    for name in ("articles", "comments", "subscribers"):
        if getattr(args, name) is not None:
            setattr(size, name, getattr(args, name))

    if not args.skip_load and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk`.")

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="newsroom-bench-"))
    static_root = workdir / "static"
    database_path = None if args.database_url else RESULTS / "bench.sqlite3"
    env = bench_env(args, static_root, database_path)
    results = Results(
        started=stamp,
        database="PostgreSQL" if args.database_url else "SQLite",
        size=asdict(size),
        machine={
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_at_start": round(os.getloadavg()[0], 2),
        },
    )
    results.notes.append(
        f"req/s, p50 and p99: the median of {args.repeat} wrk run(s) of "
        f"{args.duration:g} s for each page and connection count (the .json keeps "
        "every run's req/s); errors add up over all runs"
    )
    results.notes.append(
        "cache backend: "
        + ("Redis (" + args.redis_url + ")" if args.redis_url else "in-process")
    )

    try:
        print(f"Building the dataset ({size}) in {results.database}", flush=True)
        reset_database(args, database_path)
        os.environ.clear()
        os.environ.update(env)
        import django
        from django.conf import settings
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False)
        started = time.monotonic()
        data = ds.build(size, log=print)
        print(f"  built in {time.monotonic() - started:.0f} s", flush=True)
        if args.analyze and not args.database_url:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            results.notes.append("SQLite: ANALYZE run after the load (--analyze)")
        for name, built in (
            ("comments", data.comments_built),
            ("subscribers", data.subscribers_built),
        ):
            if not built:
                results.size[name] = 0
                results.notes.append(f"{name}: not built (no model or table yet)")

        from django.urls import reverse

        pages = [Page("home", reverse("articles:home"))]
        pages.append(
            Page(
                "article (50 comments)",
                reverse("articles:detail", kwargs={"slug": data.article_50}),
            )
        )
        pages.append(
            Page(
                "article (500 comments)",
                reverse("articles:detail", kwargs={"slug": data.article_500}),
            )
        )
        pages.append(
            Page(
                "category",
                reverse("articles:category", kwargs={"slug": data.category}),
            )
        )
        for name, url_name, query in (
            ("search", "articles:search", "?q=" + data.search.replace(" ", "+")),
            ("feed", "articles:feed", ""),
        ):
            try:
                pages.append(Page(name, reverse(url_name) + query))
            except Exception:
                results.notes.append(f"{name}: no URL named {url_name} yet")

        count_queries(pages)
        results.pages = pages
        article = next(p for p in pages if p.name.startswith("article (50"))
        from django.test import Client

        html = Client().get(article.path).content.decode()
        results.article_weight = page_weight(html, static_root, settings.STATIC_URL)
        text_chars, gzip_bytes = gzip_without_comment_text(html)
        results.notes.append(
            f"{article.name}: its comments hold {text_chars:,} characters of "
            f"readers' text; without it the page is {gzip_bytes:,} bytes gzipped"
        )
        static_path = pick_static_file(html, settings.STATIC_URL)
        from bench.revisions import measure_compare_ms

        results.revision_compare_ms = measure_compare_ms(data.category)
        from django.db import connections

        connections.close_all()

        if not args.skip_load:
            loaded = [p for p in pages if p.name != "article (500 comments)"]
            # (name, fragment cache seconds)
            for cache, fragment_seconds in (("off", "0"), ("fragments", "300")):
                print(f"Serving with cache {cache}", flush=True)
                server_env = {**env, "FRAGMENT_CACHE_SECONDS": fragment_seconds}
                server_env["ALLOWED_HOSTS"] = "127.0.0.1"
                with Gunicorn(server_env, RESULTS / f"gunicorn-{stamp}.log") as server:
                    drive(
                        results,
                        server.url,
                        loaded,
                        cache=cache,
                        args=args,
                        reference=(
                            Page("static file", static_path) if cache == "off" else None
                        ),
                    )
            if varnishd_path() is None:
                results.notes.append("varnish: not installed, no rows (make varnish)")
            else:
                serve_through_varnish(
                    results, env, loaded, static_path, data, args=args, stamp=stamp
                )

        if database_path is not None:
            results.notes.append(sqlite_file_check(database_path))

        if args.newsletter_url.lower() != "none":
            from bench import newsletter as nl

            results.newsletter = nl.measure(args, size, workdir, results.notes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    results.machine["load_at_end"] = round(os.getloadavg()[0], 2)
    report = render_report(results)
    print()
    print(report)
    (RESULTS / f"bench-{stamp}.md").write_text(report + "\n")
    (RESULTS / f"bench-{stamp}.json").write_text(
        json.dumps(asdict(results), indent=2, default=str) + "\n"
    )
    print(f"\nWritten to bench/results/bench-{stamp}.md and .json")
    if args.strict and (problems := failures(results)):
        for problem in problems:
            print(f"FAILED: {problem}", file=sys.stderr)
        return 1
    return 0


def serve_through_varnish(results, env, pages, static_path, data, *, args, stamp):
    """gunicorn as in production behind the shipped Varnish, purged on every
    change: the same pages and the static file through Varnish, then how soon a
    change shows through it."""
    print("Serving through Varnish", flush=True)
    varnish_port = free_port()
    varnish_url = f"http://127.0.0.1:{varnish_port}"
    server_env = {**env, "FRONTEND_CACHE_URLS": varnish_url + "/"}
    server_env["ALLOWED_HOSTS"] = "127.0.0.1"
    with (
        Gunicorn(server_env, RESULTS / f"gunicorn-{stamp}.log") as server,
        Varnish(server.port, port=varnish_port, storage_mb=256) as varnish,
    ):
        # Search is not stored (every query is another address): it is
        # gunicorn's rows, plus a hop.
        stored = [Page("static file", static_path)]
        stored += [page for page in pages if page.name != "search"]
        # Every page stored before the first load, however long its render takes
        # on a busy machine: the rows measure Varnish serving them.
        for page in stored:
            fetch(varnish.url + page.path)
        # As browsers do: Varnish keeps what it fetched compressed (it asks for
        # gzip), and would unzip it again for every client that does not.
        gzip = {"Accept-Encoding": "gzip"}
        drive(results, varnish.url, stored, cache="varnish", args=args, headers=gzip)
        results.notes.append(
            "varnish rows: wrk sends Accept-Encoding: gzip, as browsers do"
        )
        results.purges = measure_purges(varnish.url, data)
        from django.db import connections

        connections.close_all()


def _killed_send_problem(row: dict) -> bool:
    return bool(
        row["duplicates"]
        or row["lost"]
        or row["unfinished"]
        or row["in_doubt"] > row.get("in_doubt_bound", row["in_doubt"])
    )


def failures(results: Results) -> list[str]:
    """What went wrong in the run, timings aside: requests that failed, a change
    that never showed through Varnish, and a finished newsletter send with emails
    lost, doubled or not marked sent."""
    problems = [
        f"{load.page}, cache {load.cache}, {load.connections} connections: "
        f"{load.errors} failed requests"
        for load in results.loads
        if load.errors
    ]
    problems += [
        f"{row['change']}: never visible through Varnish on the {row['page']}"
        for row in results.purges
        if row["seconds"] is None
    ]
    for row in results.newsletter:
        if row.get("killed"):
            if _killed_send_problem(row):
                problems.append(
                    f"newsletter, {row['run']}: {row['duplicates']} emails doubled, "
                    f"{row['lost']} lost, {row['unfinished']} never finished, "
                    f"{row['in_doubt']} in doubt (bound {row['in_doubt_bound']})"
                )
            continue
        if row["emails"] < row["recipients"]:
            continue  # Stopped at the time limit: nothing to compare yet.
        if not row["emails"] == row["marked_sent"] == row["recipients"]:
            problems.append(
                f"newsletter, {row['workers']} worker(s): {row['emails']:,} emails "
                f"received and {row['marked_sent']:,} marked sent for "
                f"{row['recipients']:,} recipients"
            )
    return problems


# --- the report --------------------------------------------------------------------


def _fmt(value, spec="", suffix=""):
    if value is None:
        return "n/a"
    return f"{value:{spec}}{suffix}"


def _load(results: Results, page: str, cache: str, connections: int) -> Load | None:
    for load in results.loads:
        if (load.page, load.cache, load.connections) == (page, cache, connections):
            return load
    return None


def render_table(results: Results) -> str:
    pages = {page.name: page for page in results.pages}
    # Each page against the static file of the same server: gunicorn's ("-"),
    # or Varnish's for the rows through Varnish.
    static = {
        (load.cache, load.connections): load
        for load in results.loads
        if load.page == "static file"
    }
    lines = [
        "| page | cache | conns | req/s | p50 ms | p99 ms | ratio to static "
        "| SQL queries | bytes | ms in-process |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for load in results.loads:
        page = pages.get(load.page)
        ceiling = static.get(
            ("varnish" if load.cache == "varnish" else "-", load.connections)
        )
        ratio = (
            load.rps / ceiling.rps
            if load.rps and ceiling and ceiling.rps and load.page != "static file"
            else None
        )
        queries = in_process = None
        if page is not None:
            queries, in_process = {
                "off": (page.queries, page.server_ms),
                "fragments": (page.fragment_queries, page.fragment_ms),
            }.get(load.cache, (None, None))
        errors = f" ({load.errors} errors)" if load.errors else ""
        lines.append(
            f"| {load.page} | {load.cache} | {load.connections} "
            f"| {_fmt(load.rps, ',.0f')}{errors} | {_fmt(load.p50_ms, '.1f')} "
            f"| {_fmt(load.p99_ms, '.1f')} | {_fmt(ratio, '.2f')} "
            f"| {_fmt(queries)} | {_fmt(page.bytes if page else None, ',')} "
            f"| {_fmt(in_process)} |"
        )
    measured = {load.page for load in results.loads}
    for name, page in pages.items():
        if name not in measured:
            lines.append(
                f"| {name} | off | - | not loaded | | | | {_fmt(page.queries)} "
                f"| {_fmt(page.bytes, ',')} | {_fmt(page.server_ms)} |"
            )
    return "\n".join(lines)


def budgets(results: Results) -> list[tuple[str, str, str]]:
    """(budget, measured, verdict) for every budget of the issues."""

    def verdict(ok):
        return "n/a" if ok is None else ("met" if ok else "missed")

    def rps_at_16(page, cache):
        load = _load(results, page, cache, 16)
        return load.rps if load else None

    def page(name):
        return next((p for p in results.pages if p.name == name), None)

    rows = []
    article = "article (50 comments)"
    for label, value, target in (
        (f"article uncached >= {ARTICLE_UNCACHED_RPS} req/s (16 conns; nothing "
         "cached)", rps_at_16(article, "off"), ARTICLE_UNCACHED_RPS),
        (f"article uncached >= {ARTICLE_UNCACHED_RPS} req/s (16 conns; "
         "fragments cached)",
         rps_at_16(article, "fragments"), ARTICLE_UNCACHED_RPS),
        (f"article cached >= {ARTICLE_CACHED_RPS:,} req/s (16 conns; through "
         "Varnish)", rps_at_16(article, "varnish"), ARTICLE_CACHED_RPS),
        (f"home uncached >= {HOME_UNCACHED_RPS} req/s (16 conns; nothing cached)",
         rps_at_16("home", "off"), HOME_UNCACHED_RPS),
        (f"home uncached >= {HOME_UNCACHED_RPS} req/s (16 conns; fragments "
         "cached)", rps_at_16("home", "fragments"), HOME_UNCACHED_RPS),
    ):  # fmt: skip
        rows.append(
            (label, _fmt(value, ",.0f", " req/s"),
             verdict(None if value is None else value >= target))
        )  # fmt: skip
    for cache in ("off", "fragments", "varnish"):
        load = _load(results, article, cache, 16)
        value = load.p99_ms if load else None
        rows.append(
            (
                f"article p99 < {ARTICLE_P99_MS} ms (cache {cache}, 16 conns)",
                _fmt(value, ".1f", " ms"),
                verdict(None if value is None else value < ARTICLE_P99_MS),
            )
        )
    for name, limit in (
        ("article (50 comments)", ARTICLE_QUERIES),
        ("article (500 comments)", ARTICLE_QUERIES),
        ("home", HOME_QUERIES),
    ):
        p = page(name)
        value = p.queries if p else None
        rows.append(
            (
                f"{name}: <= {limit} SQL queries",
                _fmt(value),
                verdict(None if value is None else value <= limit),
            )
        )
    article_page = page(article)
    gzip_bytes = article_page.gzip_bytes if article_page else None
    rows.append(
        (
            f"{article}: sent gzip <= {ARTICLE_GZIP_BYTES // 1024} KB",
            _fmt(gzip_bytes, ",", " bytes"),
            verdict(None if gzip_bytes is None else gzip_bytes <= ARTICLE_GZIP_BYTES),
        )
    )
    rows.append(
        (
            "article HTML + CSS + JS < 100 KB",
            _fmt(results.article_weight, ",", " bytes"),
            verdict(
                None
                if results.article_weight is None
                else results.article_weight < ARTICLE_WEIGHT_BYTES
            ),
        )
    )
    rows.append(
        (
            f"admin: two 2,000-word revisions compared < {REVISION_COMPARE_MS} ms",
            _fmt(results.revision_compare_ms, ".1f", " ms"),
            verdict(
                None
                if results.revision_compare_ms is None
                else results.revision_compare_ms < REVISION_COMPARE_MS
            ),
        )
    )
    rows += varnish_budgets(results)
    runs = {row.get("run"): row for row in results.newsletter}
    bare = runs.get("smtplib", {}).get("emails_per_second")
    one = runs.get("1 worker", {}).get("emails_per_second")
    rows.append(
        (
            f"newsletter, 1 worker >= {NEWSLETTER_SHARE_OF_SMTPLIB} x a bare "
            "smtplib loop to the same sink",
            _fmt(one / bare if one and bare else None, ".2f", "x")
            + (f" ({one:,.0f} / {bare:,.0f} emails/s)" if one and bare else ""),
            verdict(
                None
                if not (one and bare)
                else one >= NEWSLETTER_SHARE_OF_SMTPLIB * bare
            ),
        )
    )
    killed = next((row for row in results.newsletter if row.get("killed")), None)
    rows.append(
        (
            "newsletter, workers killed and the mail server down mid-send: none "
            "lost, none doubled, in doubt within the bound",
            "n/a"
            if killed is None
            else f"{killed['lost']} lost, {killed['duplicates']} doubled, "
            f"{killed['in_doubt']} in doubt (bound {killed['in_doubt_bound']}; "
            f"{killed['killed']} kills, server down "
            f"{killed['sink_outage_seconds']:g} s)",
            verdict(None if killed is None else not _killed_send_problem(killed)),
        )
    )
    peaks = [row.get("peak_rss_mb") for row in results.newsletter]
    peak = max((p for p in peaks if p is not None), default=None)
    rows.append(
        (
            f"newsletter worker peak RSS < {NEWSLETTER_RSS_MB} MB",
            _fmt(peak, ".0f", " MB"),
            verdict(None if peak is None else peak < NEWSLETTER_RSS_MB),
        )
    )
    return rows


def best_rate(load: Load | None) -> float | None:
    """A load's fastest run. At tens of thousands of requests a second, Varnish and
    wrk use both cores, and anything else running only ever takes rate away: the
    fastest run is the nearest to what the server does, as timeit takes the
    fastest of its repeats. Page and static file are judged alike."""
    if load is None:
        return None
    return max((rps for rps in load.runs if rps), default=load.rps)


def varnish_budgets(results: Results) -> list[tuple[str, str, str]]:
    """Issue 13: pages through Varnish against the static file through Varnish,
    and how soon a change shows through it."""
    rows = []
    static = best_rate(_load(results, "static file", "varnish", 16))
    for name in VARNISH_PAGES:
        rate = best_rate(_load(results, name, "varnish", 16))
        ratio = rate / static if rate and static else None
        rows.append(
            (
                f"{name} through Varnish >= {VARNISH_STATIC_RATIO} x the static "
                "file through Varnish (16 conns, best runs)",
                _fmt(ratio, ".2f", "x"),
                "n/a" if ratio is None else _verdict(ratio >= VARNISH_STATIC_RATIO),
            )
        )
    for row in results.purges:
        seconds = row["seconds"]
        rows.append(
            (
                f"{row['change']} visible through Varnish (the {row['page']}) "
                f"within {PURGE_VISIBLE_SECONDS:g} s",
                _fmt(seconds, ".3f", " s"),
                "n/a"
                if seconds is None or not row["cached_before"]
                else _verdict(seconds <= PURGE_VISIBLE_SECONDS),
            )
        )
    return rows


def _verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def sender_cpu_ms(row: dict) -> float | None:
    """CPU per email of the sender: the workers once mail flows (their start-up
    left out), or the smtplib loop."""
    return row.get("worker_steady_cpu_ms_per_email") or row.get(
        "worker_cpu_ms_per_email"
    )


def render_report(results: Results) -> str:
    size = results.size
    lines = [
        f"## Newsroom bench, {results.started}",
        "",
        f"{results.database}; {size['articles']:,} articles, "
        f"{size['comments']:,} comments, {size['subscribers']:,} subscribers; "
        f"{results.machine.get('cpus')} CPUs; load average "
        f"{results.machine.get('load_at_start')} at the start, "
        f"{results.machine.get('load_at_end')} at the end (anything above 0 is "
        "other work competing with the server and wrk).",
        "",
        render_table(results),
    ]
    if results.newsletter:
        lines += [
            "",
            "| newsletter run | recipients | emails received | marked sent "
            "| seconds | emails/s | CPU ms per email (sender) | peak RSS per worker |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for row in results.newsletter:
            lines.append(
                f"| {row.get('run', row['workers'])} "
                f"| {_fmt(row.get('recipients'), ',')} "
                f"| {_fmt(row.get('emails'), ',')} "
                f"| {_fmt(row.get('marked_sent'), ',')} "
                f"| {_fmt(row.get('seconds'), '.1f')} "
                f"| {_fmt(row.get('emails_per_second'), ',.0f')} "
                f"| {_fmt(sender_cpu_ms(row), '.2f')} "
                f"| {_fmt(row.get('peak_rss_mb'), '.0f', ' MB')} |"
            )
    lines += ["", "| budget | measured | verdict |", "|---|--:|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in budgets(results)]
    if results.notes:
        lines += [""] + [f"- {note}" for note in results.notes]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
