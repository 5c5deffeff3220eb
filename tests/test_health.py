from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

pytestmark = pytest.mark.django_db


def _enqueue_task(*, waited: timedelta) -> None:
    task = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="newsroom.health.healthz",
        backend_name="default",
        queue_name="default",
        priority=0,
        run_after=timezone.now() - waited,
    )
    DBTaskResult.objects.filter(pk=task.pk).update(enqueued_at=timezone.now() - waited)


def test_it_answers_200_with_every_check_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "tasks": True,
    }
    assert "no-cache" in response["Cache-Control"]


def test_it_reports_how_long_the_oldest_ready_task_has_waited(client):
    _enqueue_task(waited=timedelta(minutes=2))

    tasks = client.get("/healthz").json()["checks"]["tasks"]

    assert tasks["ready"] == 1
    assert 115 <= tasks["oldest_wait_seconds"] <= 125


def test_it_answers_503_when_tasks_have_waited_too_long(client, settings):
    settings.HEALTH_MAX_TASK_WAIT = 60
    _enqueue_task(waited=timedelta(minutes=5))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["tasks"]["ok"] is False


def test_it_answers_503_naming_the_database_without_a_stack_trace(client):
    with mock.patch(
        "newsroom.health.connection.cursor",
        side_effect=OperationalError("could not connect to server at 10.0.0.5"),
    ):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    database = body["checks"]["database"]
    assert (database["ok"], database["error"]) == (False, "OperationalError")
    assert body["checks"]["cache"]["ok"] is True
    assert "Traceback" not in response.content.decode()
    assert "10.0.0.5" not in response.content.decode()


def test_it_answers_503_when_the_cache_is_down(client):
    with mock.patch(
        "newsroom.health.cache.set", side_effect=ConnectionError("redis is gone")
    ):
        response = client.get("/healthz")

    assert response.status_code == 503
    cache = response.json()["checks"]["cache"]
    assert (cache["ok"], cache["error"]) == (False, "ConnectionError")


def test_it_refuses_posts(client):
    assert client.post("/healthz").status_code == 405
