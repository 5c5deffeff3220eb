"""Readers get the styled 503 page, not a bare 500, while the database is down."""

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST

from articles.models import Category

ROOT = Path(__file__).resolve().parent.parent


@require_POST
def _save_a_category(request):
    Category.objects.create(name=request.POST["name"], slug="from-a-form")
    return HttpResponse("saved")


# This module doubles as the URLconf of its tests: one form endpoint that writes.
urlpatterns = [path("form/", _save_a_category)]


def _database_down(error=OperationalError):
    return mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=error("connection to server failed"),
    )


@pytest.mark.django_db
def test_a_reader_gets_the_styled_503_page_with_retry_after(client):
    with _database_down():
        response = client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "We'll be back in a moment" in page
    assert "not saved" not in page
    assert "Traceback" not in page


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_form_sent_while_the_database_is_down_says_it_was_not_saved(client):
    with _database_down(InterfaceError):
        response = client.post("/form/", {"name": "Opinion"})

    assert response.status_code == 503
    assert "Your message was not saved, please try again." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_other_errors_are_left_to_the_500_handler(client):
    with pytest.raises(KeyError):
        client.post("/form/", {})


_SCRIPT = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import override_settings
from django.conf import settings
client = Client(raise_request_exception=False)
# Nothing was collected here: static files straight from the apps.
storages = {
    **settings.STORAGES,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
with override_settings(STORAGES=storages):
    home = client.get("/")
with override_settings(ROOT_URLCONF="tests.test_production_database_down"):
    form = client.post("/form/", {"name": "Opinion"})
print(json.dumps({
    "home": [home.status_code, home.get("Retry-After")],
    "form": [form.status_code, "Your message was not saved" in form.text],
}))
"""


@pytest.mark.slow
def test_an_unreachable_database_server_gives_503_pages():
    """A real failure, not a patched one: the settings point at a PostgreSQL port
    where nothing listens."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:9/nowhere",
        "LOG_FORMAT": "plain",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"home": [503, "30"], "form": [503, True]}
