"""
gunicorn settings for production: `gunicorn -c gunicorn.conf.py`.

Every value can be overridden from the environment (see docs/deployment.md). Before
loading the app, gunicorn collects static files (hashed, compressed names for
WhiteNoise), so a fresh release serves its own CSS and JS; set COLLECTSTATIC=0 if the
image build already did it.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from gunicorn.glogging import Logger

from newsroom.logging import stdout_config

wsgi_app = "newsroom.wsgi:application"

# 2 x cores + 1 (the usual rule for mostly-waiting web workers), capped so a large
# machine does not open more database connections than PostgreSQL allows.
_cores = os.cpu_count() or 1
workers = int(
    os.environ.get(
        "WEB_CONCURRENCY",
        min(2 * _cores + 1, int(os.environ.get("GUNICORN_MAX_WORKERS", "12"))),
    )
)
# Threads let one worker wait on the database for one request while serving
# another; each thread may hold its own connection (CONN_MAX_AGE).
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread" if threads > 1 else "sync"

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# A request that takes longer than this is killed and logged; readers get a 502/504
# from the load balancer rather than a worker stuck for ever.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Longer than nothing, shorter than a load balancer's idle timeout (60 s on most).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak cannot grow for ever; the jitter
# keeps them from all restarting at once. Only now and then: a worker serving
# cached fragments answers many requests a second, and each restart costs the new
# worker its warm-up (importing the views, filling its in-memory fragments).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "10000"))
# Load Django once in the master and fork: faster starts, shared memory.
preload_app = True
# Proxies in front (load balancer) set X-Forwarded-*; trust them from anywhere,
# since the app servers are only reachable through the load balancer.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# gunicorn's runtime control socket (gunicornc) only when asked for: its default
# path is per user, so two servers on one machine would fight over it.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# Access and error logs to stdout, as JSON lines like Django's own (newsroom.logging).
accesslog = "-"


class AccessLogger(Logger):
    """gunicorn's logger, with only the access-log atoms our log lines use.

    gunicorn's own also makes an atom of every request header, response header
    and environ variable, for every request: on a page rendered from cached
    fragments that is a large part of what its log line costs."""

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        method = environ["REQUEST_METHOD"]
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "t": self.now(),
            "r": f"{method} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status,
            "m": method,
            "U": environ.get("PATH_INFO"),
            "q": environ.get("QUERY_STRING"),
            "b": "-" if resp.sent is None else str(resp.sent),
            "B": resp.sent,
            "M": request_time // timedelta(milliseconds=1),
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
        }


logger_class = AccessLogger
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = stdout_config(
    os.environ.get("LOG_FORMAT", "json"),
    "INFO",
    {
        name: {"handlers": ["stdout"], "level": "INFO", "propagate": False}
        for name in ("gunicorn.error", "gunicorn.access")
    },
)


def _collect_static() -> None:
    # Here, as the config file loads, and not in the on_starting hook: with
    # preload_app the master loads Django (and WhiteNoise indexes STATIC_ROOT)
    # before on_starting runs.
    if os.environ.get("COLLECTSTATIC", "1").lower() in {"0", "false", "no", "off"}:
        return
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=Path(__file__).resolve().parent,
        check=True,
    )


_collect_static()
