"""
The production profile on loopback, for the benchmark and the reliability tests:
its environment, a dedicated database, gunicorn with the project's config, and
Varnish with the shipped configuration in front of it.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, timeout: float = 60, process=None) -> None:
    """Wait for `url` to answer anything (even an error status)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
                return
        except urllib.error.HTTPError:
            return
        except OSError as error:
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"the server exited ({process.returncode})"
                ) from error
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer: {error}") from error
            time.sleep(0.2)


def production_env(
    *,
    static_root: Path,
    database_url: str = "",
    sqlite_path: Path | None = None,
    redis_url: str = "",
    secret_key: str = "",
    **extra: str,
) -> dict:
    """The environment of the production profile (DEBUG off) on plain-HTTP
    loopback, with one database and, optionally, Redis."""
    env = dict(os.environ)
    for name in ("DEBUG", "DATABASE_URL", "SQLITE_PATH", "REDIS_URL"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="newsroom.settings",
        DEBUG="0",
        SECRET_KEY=secret_key or "server-" + os.urandom(24).hex(),
        ALLOWED_HOSTS="127.0.0.1",
        # Plain HTTP on loopback: no redirect to HTTPS, cookies not Secure-only.
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        STATIC_ROOT=str(static_root),
        MEDIA_ROOT=str(static_root.parent / "media"),
        # gunicorn.conf.py would collect static files at every start.
        COLLECTSTATIC="0",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="plain",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env["SQLITE_PATH"] = str(sqlite_path)
    if redis_url:
        env["REDIS_URL"] = redis_url
        env["CACHE_KEY_PREFIX"] = "server-" + os.urandom(6).hex()
    env.update(extra)
    return env


def manage(
    env: dict, *args: str, check: bool = True, **kwargs
) -> subprocess.CompletedProcess:
    # System checks belong to `make checks`; here they would only slow every call
    # (and stop it on a half-finished edit elsewhere in the tree).
    command, *rest = args
    skip = [] if command == "shell" else ["--skip-checks"]
    return subprocess.run(
        [sys.executable, "manage.py", command, *skip, *rest],
        cwd=ROOT,
        env=env,
        check=check,
        capture_output=True,
        text=True,
        **kwargs,
    )


def postgres_reachable(url: str = PG_DEFAULT) -> bool:
    try:
        import psycopg

        base = url.rsplit("/", 1)[0]
        psycopg.connect(base + "/postgres", connect_timeout=3).close()
        return True
    except Exception:
        return False


def redis_reachable(url: str = "redis://127.0.0.1:6379/0") -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named in `url`. Only for scratch databases."""
    import psycopg

    base, name = url.rsplit("/", 1)
    name = name.split("?")[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_postgres_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    name = name.split("?")[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


class _Server:
    """A server process used as `with`: up when entered (stopped if it never
    comes up), stopped on exit."""

    def __enter__(self):
        try:
            self.wait_until_up()
        except RuntimeError:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()


class Gunicorn(_Server):
    """gunicorn with gunicorn.conf.py (when there is one) on a free loopback port."""

    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        command = [str(BIN / "gunicorn")]
        conf = ROOT / "gunicorn.conf.py"
        if conf.exists():
            command += ["--config", str(conf)]
        else:
            command += ["--workers", str(2 * (os.cpu_count() or 1) + 1)]
        command += ["--bind", f"127.0.0.1:{self.port}", "newsroom.wsgi:application"]
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_up(self) -> None:
        wait_until_up(self.url + "/", process=self.process)

    def stop(self):
        """Stop the master and every worker. Killing only the master would leave
        busy workers running on as orphans, still using the database while the
        next server starts on it."""
        group = self.process.pid  # start_new_session: the master leads its group
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            # Past gunicorn's own graceful timeout (30 s by default).
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=40)
        # Whatever is left of the group (workers of a master that has gone, or a
        # master that would not stop) is killed and waited for, within reason:
        # an orphan nobody reaps stays a zombie, harmless but still listed.
        started = time.monotonic()
        while _group_alive(group) and time.monotonic() - started < 20:
            if time.monotonic() - started > 5:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
            self.process.poll()
            time.sleep(0.2)
        if not self.log.closed:
            self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class ScratchDatabase:
    """A database of its own for work in other processes: a SQLite file in
    `workdir`, or, when `like_url` is PostgreSQL, a database named after it with
    `suffix` appended (dropped and re-created; drop() removes it)."""

    def __init__(self, workdir: Path, *, like_url: str = "", suffix: str = "scratch"):
        self.sqlite_path = Path(workdir) / f"{suffix}.sqlite3"
        self.url = ""
        if like_url.startswith("postgres"):
            base, name = like_url.rsplit("/", 1)
            self.url = f"{base}/{name.split('?')[0]}_{suffix}"
            recreate_postgres_database(self.url)

    def env(self, static_root: Path, **extra: str) -> dict:
        return production_env(
            static_root=static_root,
            database_url=self.url,
            sqlite_path=self.sqlite_path,
            **extra,
        )

    def sql(self, query: str, params=()) -> list[tuple]:
        """Run one query (placeholders written ?) and return its rows."""
        if self.url:
            import psycopg

            with psycopg.connect(self.url) as conn:
                return conn.execute(query.replace("?", "%s"), params).fetchall()
        import sqlite3

        with sqlite3.connect(self.sqlite_path, timeout=20) as conn:
            return conn.execute(query, params).fetchall()

    def drop(self) -> None:
        if self.url:
            drop_postgres_database(self.url)


VARNISH_VCL = ROOT / "deploy" / "varnish" / "newsroom.vcl"


def varnishd_path() -> str | None:
    """Debian's varnishd, also when /usr/sbin is not on this user's PATH."""
    return shutil.which("varnishd") or shutil.which("varnishd", path="/usr/sbin")


class Varnish(_Server):
    """varnishd in the foreground on a free loopback port with the shipped
    deploy/varnish/newsroom.vcl, in front of the app server at backend_port;
    purges allowed from 127.0.0.1. `port` chooses the port (so the app can be
    told where to send purges before Varnish starts)."""

    def __init__(self, backend_port: int, *, port: int = 0, storage_mb: int = 64):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"varnish-{self.port}-"))
        # varnishd, started as root, compiles and runs the VCL as its own user.
        self.workdir.chmod(0o755)
        site = self.workdir / "site.vcl"
        site.write_text(
            "vcl 4.1;\n"
            f'backend default {{ .host = "127.0.0.1"; .port = "{backend_port}"; }}\n'
            'acl purgers { "127.0.0.1"; }\n'
            f'include "{VARNISH_VCL}";\n'
        )
        self.log = open(self.workdir / "varnishd.log", "wb")  # noqa: SIM115
        command = [varnishd_path() or "varnishd", "-F", "-a", f"127.0.0.1:{self.port}"]
        command += ["-f", str(site), "-s", f"malloc,{storage_mb}m"]
        command += ["-n", str(self.workdir / "n")]
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"varnishd exited: {self.output()}")
            try:
                # Answered by Varnish itself: no request reaches the app.
                self.ban_everything()
                return
            except OSError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"varnishd did not answer: {error}") from error
                time.sleep(0.1)

    def ban_everything(self) -> None:
        request = urllib.request.Request(self.url + "/", method="BAN")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def output(self) -> str:
        return (self.workdir / "varnishd.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        if not self.log.closed:
            self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
