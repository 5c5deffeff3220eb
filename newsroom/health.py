"""
GET /healthz: can this app server do its job? For load balancers and monitoring.

Checks the database, the cache and the task queue, and answers 200 with a small JSON
report when all are fine, or 503 naming what is down. Errors are reported by class
name only and logged in full; the body never holds a stack trace or a host name.
"""

import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Case, F, When
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)


@require_safe
@never_cache
def healthz(request):
    checks = {
        "database": _check(_database),
        "cache": _check(_cache),
        "tasks": _check(_tasks),
    }
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


def _check(probe) -> dict:
    started = time.monotonic()
    try:
        result = probe()
    except Exception as error:
        logger.warning(
            "Health check %s failed", probe.__name__.strip("_"), exc_info=True
        )
        result = {"ok": False, "error": type(error).__name__}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _cache() -> dict:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    found = cache.get(key) == "1"
    cache.delete(key)
    if not found:
        return {"ok": False, "error": "value written was not read back"}
    return {"ok": True}


def _tasks() -> dict:
    """Tasks waiting for a worker, and how long the oldest has been due. A queue
    whose oldest task waited longer than HEALTH_MAX_TASK_WAIT means no worker is
    keeping up (or none is running)."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    ready = DBTaskResult.objects.ready()
    count = ready.count()
    # A task without run_after is due from the moment it was enqueued.
    oldest_due = (
        ready.annotate(
            due=Case(
                When(run_after=get_date_max(), then=F("enqueued_at")),
                default=F("run_after"),
            )
        )
        .order_by("due")
        .values_list("due", flat=True)
        .first()
    )
    wait = (timezone.now() - oldest_due).total_seconds() if oldest_due else 0
    limit = getattr(settings, "HEALTH_MAX_TASK_WAIT", 900)
    result = {"ok": wait <= limit, "ready": count, "oldest_wait_seconds": round(wait)}
    if not result["ok"]:
        result["error"] = f"oldest ready task has waited over {limit} seconds"
    return result
