"""
The production profile under load, abuse and a dead database: gunicorn with DEBUG
off (bench/server.py), its own database (a SQLite file, or a scratch PostgreSQL
database when DATABASE_URL points at PostgreSQL) and Redis for the cache and rate
limits when Redis answers, as in production.

The server runs in another process, so these tests do not use pytest-django's
database: they seed theirs with `manage.py shell` and read it back with plain SQL.
"""

import concurrent.futures
import http.client
import json
import os
import re
import sqlite3
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from bench.server import (
    Gunicorn,
    drop_postgres_database,
    manage,
    postgres_reachable,
    production_env,
    recreate_postgres_database,
    redis_reachable,
)

pytestmark = pytest.mark.slow

DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith("postgres")
# RELIABILITY_REDIS_URL=none runs the embedded profile (in-process cache) instead.
REDIS_URL = os.environ.get("RELIABILITY_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET_KEY = "reliability-" + "k" * 40

SEED = """
import json
from articles.models import Article, Category
category = Category.objects.create(name="Town", slug="town")
ids = {}
for slug in ("busy-thread", "flooded-thread"):
    ids[slug] = Article.objects.create(
        title=slug.replace("-", " ").title(), slug=slug, category=category,
        body="<p>A story readers argue about.</p>", status="published",
    ).pk
print(json.dumps(ids))
"""


class Site:
    """A running production server with a database of its own."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.static_root = workdir / "static"
        self.sqlite_path = workdir / "site.sqlite3"
        self.database_url = ""
        if ON_POSTGRES:
            base, name = DATABASE_URL.rsplit("/", 1)
            self.database_url = f"{base}/{name.split('?')[0]}_server"
            recreate_postgres_database(self.database_url)
        self.redis = REDIS_URL != "none" and redis_reachable(REDIS_URL)
        self.env = production_env(
            static_root=self.static_root,
            database_url=self.database_url,
            sqlite_path=self.sqlite_path,
            redis_url=REDIS_URL if self.redis else "",
            secret_key=SECRET_KEY,
            # Each test client looks like its own reader through X-Forwarded-For.
            TRUSTED_PROXY_COUNT="1",
            # The bot check's minimum time would make these posts spam; spam is
            # still stored, but the point here is the ordinary path.
            COMMENTS_MIN_SECONDS="0",
            # One comment per address per hour, so the flood test cannot outlast
            # the window however slow the machine is.
            COMMENTS_FLOOD_SECONDS="3600",
            # Without Redis, rate limits live in each worker's memory: one worker
            # keeps them exact (the embedded profile is one process).
            **({} if self.redis else {"WEB_CONCURRENCY": "1"}),
        )
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "collectstatic", "--noinput")
        output = manage(self.env, "shell", "-v", "0", "-c", SEED).stdout
        self.articles = json.loads(output.strip().splitlines()[-1])
        self.server = Gunicorn(self.env, workdir / "gunicorn.log").__enter__()
        self.url = self.server.url

    def close(self):
        self.server.stop()
        if self.database_url:
            drop_postgres_database(self.database_url)

    def sql(self, query: str, params=()) -> list[tuple]:
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchall()
        with sqlite3.connect(self.sqlite_path, timeout=20) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if ON_POSTGRES and not postgres_reachable(DATABASE_URL):
        pytest.skip("PostgreSQL is not reachable")
    site = Site(tmp_path_factory.mktemp("site"))
    yield site
    site.close()


class Reader:
    """One HTTP client with its own address (X-Forwarded-For) and cookies."""

    def __init__(self, base_url: str, ip: str):
        parsed = urllib.parse.urlsplit(base_url)
        self.host, self.port = parsed.hostname, parsed.port
        self.ip = ip
        self.cookies = {}
        self.connection = None

    def request(self, method, path, form=None):
        headers = {"X-Forwarded-For": self.ip, "Host": f"{self.host}:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=60
                )
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError):
                # The server closed an idle keep-alive connection: open another.
                self.connection.close()
                self.connection = None
                if attempt:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, response.headers, content.decode(errors="replace")

    def get(self, path):
        return self.request("GET", path)

    def comment_form(self, article_path: str) -> dict:
        """Open the article and return the hidden fields its form carries."""
        status, _, html = self.get(article_path)
        assert status == 200, html[:500]
        fields = {}
        for name in ("ts",):
            match = re.search(rf'name="{name}" value="([^"]*)"', html) or re.search(
                rf'value="([^"]*)" name="{name}"', html
            )
            assert match, f"no {name} in the comment form"
            fields[name] = match[1]
        return fields

    def close(self):
        if self.connection is not None:
            self.connection.close()


def post_comment(reader: Reader, site: Site, slug: str, hidden: dict, text: str):
    form = {
        **hidden,
        "name": "Reader " + reader.ip,
        "email": f"{reader.ip.replace('.', '-')}@example.net",
        "url": "",
        "comment": text,
        "homepage": "",
    }
    return reader.request("POST", f"/comments/post/{site.articles[slug]}/", form)


def assert_clean_log(site: Site):
    log = site.server.output()
    assert "database is locked" not in log
    assert "Traceback" not in log


def test_fifty_concurrent_comments_all_land_while_pages_keep_answering(site):
    article = "/articles/busy-thread/"
    posters = [Reader(site.url, f"10.1.{n // 200}.{n % 200 + 1}") for n in range(50)]
    # Each poster opens the article first, as a browser would, for its form.
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        forms = list(pool.map(lambda r: r.comment_form(article), posters))

    def post(index):
        text = f"Comment number {index} on the busy thread."
        status, headers, body = post_comment(
            posters[index], site, "busy-thread", forms[index], text
        )
        return index, text, status, body

    def read(index):
        reader = Reader(site.url, f"10.2.0.{index + 1}")
        try:
            return [
                reader.get(path)[0] for path in ("/", article, "/feed/", "/search/?q=x")
            ]
        finally:
            reader.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        posts = [pool.submit(post, i) for i in range(50)]
        reads = [pool.submit(read, i) for i in range(25)]
        posted = [future.result() for future in posts]
        read_statuses = [s for future in reads for s in future.result()]

    for reader in posters:
        reader.close()
    failures = [
        (i, status, body[:300]) for i, _, status, body in posted if status >= 500
    ]
    assert failures == []
    assert all(status == 200 for status in read_statuses), read_statuses
    accepted = [text for _, text, status, _ in posted if status == 303]
    # Fifty different readers, one comment each: no rule should refuse any.
    assert len(accepted) == 50, [(s, b[:200]) for _, _, s, b in posted if s != 303]
    stored = {
        row[0]
        for row in site.sql(
            "SELECT c.text FROM comments_comment c JOIN articles_article a "
            "ON a.id = c.article_id WHERE a.slug = ?",
            ("busy-thread",),
        )
    }
    assert set(accepted) <= stored
    assert_clean_log(site)


def test_a_flooding_client_gets_429s_while_another_keeps_reading(site):
    article = "/articles/flooded-thread/"
    flooder = Reader(site.url, "10.3.0.1")
    hidden = flooder.comment_form(article)
    statuses = []
    reads = []
    stop = False

    def flood(batch):
        reader = Reader(site.url, "10.3.0.1")
        reader.cookies = dict(flooder.cookies)
        try:
            for n in batch:
                text = f"Flood message {n}, all different so none is a duplicate."
                statuses.append(
                    post_comment(reader, site, "flooded-thread", hidden, text)[0]
                )
        finally:
            reader.close()

    def keep_reading():
        reader = Reader(site.url, "10.4.0.1")
        try:
            while not stop or len(reads) < 5:
                reads.append(reader.get(article)[0])
        finally:
            reader.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=9) as pool:
        other = pool.submit(keep_reading)
        floods = [pool.submit(flood, range(n, 500, 8)) for n in range(8)]
        for future in floods:
            future.result()
        stop = True
        other.result()
    flooder.close()

    assert len(statuses) == 500
    assert statuses.count(303) == 1, {s: statuses.count(s) for s in set(statuses)}
    assert statuses.count(429) == 499
    assert reads and all(status == 200 for status in reads), set(reads)
    stored = site.sql(
        "SELECT count(*) FROM comments_comment c JOIN articles_article a "
        "ON a.id = c.article_id WHERE a.slug = ?",
        ("flooded-thread",),
    )[0][0]
    assert stored == 1
    assert_clean_log(site)


# --- The database unreachable -----------------------------------------------------

LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlite", 'File "/', "SECRET")


@pytest.fixture(scope="module")
def site_without_database(site, tmp_path_factory):
    """The same site, its database gone: PostgreSQL on a port nothing listens on,
    or a SQLite file in a directory that does not exist."""
    workdir = tmp_path_factory.mktemp("no-database")
    env = dict(site.env)
    # A cache of its own: the site's cached fragments would otherwise let this
    # server answer some pages without reaching the database at all.
    env["CACHE_KEY_PREFIX"] = "no-database-" + os.urandom(4).hex()
    if ON_POSTGRES:
        env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/newsroom"
    else:
        env["SQLITE_PATH"] = str(workdir / "missing" / "site.sqlite3")
    server = Gunicorn(env, workdir / "gunicorn.log").__enter__()
    yield server
    server.stop()


def test_pages_answer_with_the_styled_503_page_when_the_database_is_down(
    site_without_database,
):
    reader = Reader(site_without_database.url, "10.5.0.1")
    for path in ("/", "/articles/busy-thread/", "/feed/", "/search/?q=harbour"):
        status, headers, body = reader.get(path)
        assert status == 503, (path, status, body[:300])
        assert headers["Content-Type"].startswith("text/html")
        assert headers.get("Retry-After")
        assert "<h1>" in body and "<style>" in body
        assert not [leak for leak in LEAKS if leak in body]
    reader.close()


def test_a_comment_sent_while_the_database_is_down_is_told_it_was_not_saved(
    site_without_database,
):
    reader = Reader(site_without_database.url, "10.5.0.2")
    status, _, body = reader.request(
        "POST", "/comments/post/1/", {"name": "A", "comment": "Hello"}
    )
    # Without a database there is no CSRF failure page either: whatever answers
    # must not be a stack trace or a bare 500.
    assert status in {403, 503}, (status, body[:300])
    if status == 503:
        assert "not saved" in body
    assert not [leak for leak in LEAKS if leak in body]
    reader.close()


def test_the_health_check_says_503_and_names_the_database(site_without_database):
    reader = Reader(site_without_database.url, "10.5.0.3")
    status, headers, body = reader.get("/healthz")
    reader.close()
    assert status == 503
    report = json.loads(body)
    assert report["checks"]["database"]["ok"] is False
    assert not [leak for leak in LEAKS[:1] if leak in body]


def test_the_health_check_is_200_with_the_database_up(site):
    reader = Reader(site.url, "10.5.0.4")
    status, _, body = reader.get("/healthz")
    reader.close()
    assert json.loads(body)["checks"]["database"]["ok"] is True
    assert status == 200
