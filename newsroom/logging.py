"""
Structured log lines: one JSON object per line on stdout, for whatever collects
the container's output (journald, Loki, CloudWatch...).

`stdout_config` is the one logging configuration: settings.LOGGING (JSON by
default outside DEBUG) and gunicorn.conf.py (gunicorn's own error and access logs)
both use it, so every line of a server's output has the same form.
"""

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else was passed with `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
) | {"message", "asctime", "taskName"}

# gunicorn's access log passes its atoms as the record's args.
_ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "a": "user_agent",
    "f": "referer",
}
# The atoms that are numbers, though gunicorn may give them as text.
_ACCESS_NUMBERS = {"s", "B", "M"}


def stdout_config(log_format: str, level: str, loggers: dict | None = None) -> dict:
    """A dictConfig that writes every record to stdout, as JSON lines
    (log_format "json") or plain text ("plain")."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "newsroom.logging.JsonFormatter"},
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": log_format,
            },
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": loggers or {},
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry["message"] = "request"
            for atom, field in _ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value in (None, "-", ""):
                    continue
                entry[field] = (
                    _number_or_text(value) if atom in _ACCESS_NUMBERS else value
                )
        else:
            entry["message"] = record.getMessage()
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "method"):
            # django.request and django.server attach the request object.
            entry["method"] = request.method
            entry["path"] = request.path
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in entry and key != "request":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _number_or_text(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
