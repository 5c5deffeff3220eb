"""
Two app servers and two task workers on one PostgreSQL database and one Redis, as
in docs/deployment.md: what one server changes, the other shows within a second, and
work the workers share is done exactly once.

Runs in the PostgreSQL pass (DATABASE_URL=postgres://...) when Redis answers too;
skipped otherwise. Everything it starts is stopped, and its database and Redis keys
removed, in `finally`.
"""

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_TIMEOUT = 60


def _reachable() -> str | None:
    """Why the test cannot run here, or None."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "needs PostgreSQL (set DATABASE_URL=postgres://...)"
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return f"needs Redis at {REDIS_URL}"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(_reachable() is not None, reason=str(_reachable())),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    """A throwaway database, and the processes of a small production site."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.run_id = uuid.uuid4().hex[:10]
        db = settings.DATABASES["default"]
        self.server_dsn = {
            "host": db.get("HOST") or "127.0.0.1",
            "port": db.get("PORT") or 5432,
            "user": db.get("USER") or "postgres",
            "password": db.get("PASSWORD") or "",
        }
        self.database = f"newsroom_scale_{self.run_id}"
        self.cache_prefix = f"newsroom-scale-{self.run_id}"
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    @property
    def env(self) -> dict:
        dsn = self.server_dsn
        password = f":{dsn['password']}" if dsn["password"] else ""
        env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
        return env | {
            "DJANGO_SETTINGS_MODULE": "newsroom.settings",
            "DEBUG": "0",
            "SECRET_KEY": "scale-out-" + "q7Lm" * 12,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "DATABASE_URL": (
                f"postgres://{dsn['user']}{password}@{dsn['host']}:{dsn['port']}/"
                f"{self.database}"
            ),
            "REDIS_URL": REDIS_URL,
            "CACHE_KEY_PREFIX": self.cache_prefix,
            "MEDIA_ROOT": str(self.tmp_path / "media"),
            "LOG_FORMAT": "plain",
            # Small batches, so one issue makes work for both task workers.
            "NEWSLETTER_BATCH_SIZE": "10",
        }

    def _admin_connection(self):
        import psycopg

        return psycopg.connect(dbname="postgres", autocommit=True, **self.server_dsn)

    def create_database(self) -> None:
        with self._admin_connection() as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.manage("migrate", "--noinput")

    def manage(self, *args, **env) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env | env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self, name: str, args: list[str], **env) -> subprocess.Popen:
        log = self.tmp_path / f"{name}.log"
        self.logs.append(log)
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env | env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_app_server(self, name: str) -> str:
        """gunicorn as in production; its own STATIC_ROOT, like its own machine."""
        port = _free_port()
        self.start(
            name,
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
            STATIC_ROOT=str(self.tmp_path / name / "static"),
        )
        return f"http://127.0.0.1:{port}"

    def start_worker(self, name: str, **env) -> subprocess.Popen:
        return self.start(
            name,
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--queue-name",
                "*",
                "--interval",
                "0.2",
                "--no-reload",
            ],
            **env,
        )

    def wait_until_healthy(self, base_url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.assert_running()
            try:
                with urllib.request.urlopen(base_url + "/healthz", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"{base_url} did not become healthy\n{self.log_tail()}")

    def assert_running(self) -> None:
        for process in self.processes:
            assert process.poll() is None, f"{process.args} died\n{self.log_tail()}"

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text()[-3000:]}"
            for log in self.logs
            if log.exists()
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def newsletter_tasks_outstanding(self) -> int:
        """Newsletter tasks queued or running: none once the workers are idle."""
        import psycopg

        with psycopg.connect(dbname=self.database, **self.server_dsn) as conn:
            [(count,)] = conn.execute(
                "SELECT count(*) FROM django_tasks_database_dbtaskresult "
                "WHERE queue_name = 'newsletter' AND status IN ('READY', 'RUNNING')"
            ).fetchall()
        return count

    def drop(self) -> None:
        import redis

        with self._admin_connection() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{self.cache_prefix}:*"))
        if keys:
            client.delete(*keys)


class SmtpSink:
    """A real SMTP server in the test process, counting messages per recipient."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.received: Counter = Counter()
        self._lock = threading.Lock()
        self.port = _free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        # A little slower than a local relay, so both workers get batches to send.
        await asyncio.sleep(0.01)
        with self._lock:
            self.received.update(envelope.rcpt_tos)
        return "250 Message accepted"

    def total(self) -> int:
        with self._lock:
            return sum(self.received.values())


_SETUP = """
from articles.models import Article, Category, User
User.objects.create_superuser("chief", "chief@example.org", "scale-out-pw")
category = Category.objects.create(name="Regions", slug="regions")
Article.objects.create(
    title="Older story", slug="older-story", category=category,
    status="published", body="<p>Already out.</p>",
)
draft = Article.objects.create(
    title="Lake level reaches a ten-year high", slug="lake-level",
    category=category, status="draft", body="<p>Measured this morning.</p>",
)
print(draft.pk)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Two app servers and two task workers on one database, one Redis and one
    SMTP server, started once for the tests of this module."""
    deployment = Deployment(tmp_path_factory.mktemp("scale-out"))
    smtp = SmtpSink()
    smtp.controller.start()
    try:
        deployment.create_database()
        deployment.draft_id = deployment.manage("shell", "-c", _SETUP).split()[-1]
        worker_env = {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
        }
        deployment.first = deployment.start_app_server("app1")
        deployment.second = deployment.start_app_server("app2")
        deployment.workers = [
            deployment.start_worker("worker1", **worker_env),
            deployment.start_worker("worker2", **worker_env),
        ]
        deployment.smtp = smtp
        deployment.wait_until_healthy(deployment.first)
        deployment.wait_until_healthy(deployment.second)
        yield deployment
    finally:
        deployment.stop()
        smtp.controller.stop()
        deployment.drop()


class _Forms(HTMLParser):
    """The fields of one form (by id, else the first method=post form), as a
    browser would send them."""

    def __init__(self, form_id: str | None = None):
        super().__init__()
        self.form_id = form_id
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._found = False
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self._found:
            if self.form_id:
                self._in_form = attrs.get("id") == self.form_id
            else:
                self._in_form = attrs.get("method", "").lower() == "post"
            self._found = self._in_form
        if not self._in_form:
            return
        if tag == "option" and self._select and "selected" in attrs:
            self.fields.append((self._select, attrs.get("value", "")))
        if "name" not in attrs:
            return
        if tag == "input":
            kind = attrs.get("type", "text")
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                return
            if kind not in {"submit", "button", "file", "image"}:
                # A checked box without a value sends "on"; any other input, "".
                default = "on" if kind in {"checkbox", "radio"} else ""
                self.fields.append((attrs["name"], attrs.get("value", default)))
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.fields.append((self._textarea, ""))

    def handle_data(self, data):
        if self._textarea:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


class Browser:
    """Cookies and form posts against one server, with the standard library."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar())
        )

    def get(self, path: str) -> tuple[int, str, dict]:
        try:
            with self.opener.open(self.base_url + path, timeout=15) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), dict(error.headers)

    def form(self, path: str, form_id: str | None = None) -> list[tuple[str, str]]:
        status, html, _ = self.get(path)
        assert status == 200, (path, status, html[:500])
        parser = _Forms(form_id)
        parser.feed(html)
        return parser.fields

    def post(self, path: str, fields: list[tuple[str, str]]) -> tuple[int, str]:
        request = urllib.request.Request(
            self.base_url + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Referer": self.base_url + path},
        )
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def log_in(self, username: str, password: str) -> None:
        fields = [
            (k, v)
            for k, v in self.form("/admin/login/", "login-form")
            if k != "username"
        ]
        fields += [("username", username), ("password", password)]
        status, html = self.post("/admin/login/?next=/admin/", fields)
        assert status == 200 and "Log out" in html, html[:500]


def _page_once_it_shows(browser, path: str, text: str, *, within: float = 10) -> str:
    """The page at `path`, asked for until it shows `text` or `within` seconds have
    passed. Another server sees a change up to PAGE_CACHE_GENERATION_SECONDS (1 s)
    late: until then it renders from the fragments of the generation it last
    read."""
    deadline = time.monotonic() + within
    while True:
        _, html, _ = browser.get(path)
        if text in html or time.monotonic() > deadline:
            return html
        time.sleep(0.1)


def test_an_article_published_on_one_server_shows_on_the_other(site):
    first, second, draft_id = site.first, site.second, site.draft_id
    reader = Browser(second)
    for _ in range(2):
        status, home, headers = reader.get("/")
        assert status == 200
        assert "Lake level reaches a ten-year high" not in home
    assert "s-maxage" in headers["Cache-Control"]

    editor = Browser(first)
    editor.log_in("chief", "scale-out-pw")
    change = f"/admin/articles/article/{draft_id}/change/"
    # What an editor does: status Published, date and time "Today" and "Now".
    now = datetime.now(UTC) - timedelta(seconds=5)
    publish = {
        "status": "published",
        "published_at_0": now.strftime("%Y-%m-%d"),
        "published_at_1": now.strftime("%H:%M:%S"),
    }
    fields = [
        (k, v) for k, v in editor.form(change, "article_form") if k not in publish
    ]
    fields += [*publish.items(), ("_save", "Save")]
    status, html = editor.post(change, fields)
    errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>.*?</ul>', html, re.S)
    assert status == 200 and "was changed successfully" in html, (status, errors)

    home = _page_once_it_shows(reader, "/", "Lake level reaches a ten-year high")
    assert "Lake level reaches a ten-year high" in home
    status, page, _ = reader.get("/articles/lake-level/")
    assert status == 200
    assert "Measured this morning." in page
    site.assert_running()
    assert json.loads(reader.get("/healthz")[1])["status"] == "ok"


_SEND = """
import json
from articles.models import Article
from newsletter import services
from newsletter.models import Issue, Newsletter, Subscriber
newsletter = Newsletter.objects.create(name="Scale-out Briefing", slug="scale-out")
for n in range({count}):
    subscriber = Subscriber.objects.create(
        email=f"reader{{n}}@example.org", status=Subscriber.Status.CONFIRMED
    )
    subscriber.newsletters.add(newsletter)
issue = Issue.objects.create(
    newsletter=newsletter, subject="Two workers, one issue",
    intro="<p>Every reader should get this once.</p>",
)
issue.articles.set(Article.objects.published())
print(json.dumps([issue.pk, services.start_sending(issue=issue)]))
"""

_DELIVERIES = """
import json
from newsletter.models import Delivery
rows = Delivery.objects.filter(issue_id={issue_id})
claims = rows.values_list("claimed_by", flat=True)
print(json.dumps({{
    "statuses": sorted(set(rows.values_list("status", flat=True))),
    "workers": sorted({{claim.split("-")[0] for claim in claims}}),
}}))
"""


def test_one_issue_sent_by_two_workers_reaches_each_subscriber_once(site):
    count = 200
    issue_id, recipients = json.loads(
        site.manage("shell", "-c", _SEND.format(count=count)).splitlines()[-1]
    )
    assert recipients == count

    # Once no newsletter task is queued or running, no worker is still sending:
    # a duplicate, if there were one, has arrived.
    deadline = time.monotonic() + 90
    while site.newsletter_tasks_outstanding() and time.monotonic() < deadline:
        site.assert_running()
        time.sleep(0.2)

    expected = {f"reader{n}@example.org" for n in range(count)}
    assert set(site.smtp.received) == expected, site.log_tail()
    assert set(site.smtp.received.values()) == {1}
    deliveries = json.loads(
        site.manage("shell", "-c", _DELIVERIES.format(issue_id=issue_id)).splitlines()[
            -1
        ]
    )
    assert deliveries["statuses"] == ["sent"]
    # Both workers took part (claimed_by starts with the worker's process id).
    assert deliveries["workers"] == sorted(str(w.pid) for w in site.workers)
