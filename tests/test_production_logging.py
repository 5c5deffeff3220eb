import json
import logging
import runpy
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from django.test import RequestFactory
from gunicorn.config import Config
from gunicorn.glogging import SafeAtoms

from newsroom.logging import JsonFormatter

ROOT = Path(__file__).resolve().parent.parent


def _record(name="newsroom", msg="hello %s", args=("world",), exc_info=None):
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, exc_info)


def test_it_writes_one_json_object_per_line():
    line = JsonFormatter().format(_record())

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "newsroom"
    assert entry["message"] == "hello world"
    assert entry["ts"].endswith("+00:00")


def test_it_keeps_extra_fields_and_the_request_path():
    record = _record()
    record.status_code = 503
    record.request = RequestFactory().post("/comments/post/")

    entry = json.loads(JsonFormatter().format(record))

    assert entry["status_code"] == 503
    assert entry["method"] == "POST"
    assert entry["path"] == "/comments/post/"


def test_it_puts_a_traceback_inside_the_json_line():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = _record(exc_info=sys.exc_info())

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exc"]


def test_it_turns_a_gunicorn_access_line_into_fields():
    atoms = {"h": "10.0.0.7", "m": "GET", "U": "/healthz", "q": "", "s": "200"}
    atoms |= {"B": "93", "M": "4", "a": 'curl/8 "quoted"', "f": "-"}
    record = _record(name="gunicorn.access", msg="%(h)s", args=())
    record.args = atoms

    entry = json.loads(JsonFormatter().format(record))

    assert entry["message"] == "request"
    assert entry["path"] == "/healthz"
    assert entry["status"] == 200
    assert entry["duration_ms"] == 4
    assert entry["user_agent"] == 'curl/8 "quoted"'
    assert "query" not in entry
    assert "referer" not in entry


def test_gunicorn_logs_each_request_with_its_own_fields(monkeypatch):
    monkeypatch.setenv("COLLECTSTATIC", "0")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/search/?q=ferry",
        "PATH_INFO": "/search/",
        "QUERY_STRING": "q=ferry",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_USER_AGENT": "curl/8",
        "HTTP_COOKIE": "csrftoken=not-for-the-log",
    }
    response = SimpleNamespace(status="200 OK", sent=93, headers=[])
    logger = config["AccessLogger"](Config())

    atoms = SafeAtoms(logger.atoms(response, None, environ, timedelta(milliseconds=4)))
    record = _record(name="gunicorn.access", msg=Config().access_log_format, args=())
    record.args = atoms
    entry = json.loads(JsonFormatter().format(record))

    assert {k: v for k, v in entry.items() if k != "ts"} == {
        "level": "WARNING",
        "logger": "gunicorn.access",
        "message": "request",
        "remote_addr": "10.0.0.7",
        "method": "GET",
        "path": "/search/",
        "query": "q=ferry",
        "status": 200,
        "bytes": 93,
        "duration_ms": 4,
        "user_agent": "curl/8",
    }
    plain = Config().access_log_format % atoms
    assert plain.startswith("10.0.0.7 - - [")
    assert plain.endswith('] "GET /search/?q=ferry HTTP/1.1" 200 93 "-" "curl/8"')
