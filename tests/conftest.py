"""Shared fixtures. Factories live in tests/factories.py."""

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Property tests try a few examples in the fast tier and many in `make test`,
# which passes --hypothesis-profile=thorough. In CI every run tries the same
# examples, so a red build is reproducible and never a roll of the dice;
# developers' runs keep exploring new ones.
_ci = {"derandomize": True, "database": None} if os.environ.get("CI") else {}
hypothesis_settings.register_profile("fast", max_examples=10, **_ci)
hypothesis_settings.register_profile("thorough", max_examples=60, **_ci)
hypothesis_settings.load_profile("fast")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"


# A test that uses one of these starts a server or a browser.
SLOW_FIXTURES = {"live_server", "browser", "page", "phone_page"}


def pytest_collection_modifyitems(items):
    """Mark the tests that start a server or a browser as slow, so `make test-fast`
    (`pytest -m "not slow"`) leaves them out without each module saying so."""
    for item in items:
        uses_slow_fixture = SLOW_FIXTURES.intersection(item.fixturenames)
        if uses_slow_fixture or item.get_closest_marker("varnish"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fast_tests_start_no_process(request, monkeypatch):
    """A test not marked slow may not start a process: the fast tier stays fast
    because nothing in it can wait on another program."""
    if request.node.get_closest_marker("slow"):
        return

    def refuse(*args, **kwargs):
        raise AssertionError(
            "This test starts a process: mark it @pytest.mark.slow "
            "(or its module: pytestmark = pytest.mark.slow)."
        )

    monkeypatch.setattr(subprocess, "Popen", refuse)


def _store_migration_data_again(**kwargs):
    from tests.factories import restore_migration_data

    restore_migration_data()


@pytest.fixture(scope="session", autouse=True)
def _flush_keeps_migration_data():
    """A transactional test ends with a flush, which empties every table; then
    (on post_migrate, which the flush sends) the rows the data migrations made
    are stored again, so the tests after it find the database as `migrate` left
    it, whatever order they run in."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    sender = apps.get_app_config("newsletter")
    post_migrate.connect(_store_migration_data_again, sender=sender)
    yield
    post_migrate.disconnect(_store_migration_data_again, sender=sender)


@pytest.fixture
def flush_as_in_production():
    """For a test whose command flushes the database itself (restore): that flush
    leaves the tables as it does in production, without the rows stored again
    above, which the command then loads from its backup. The test's own closing
    flush stores them again."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    sender = apps.get_app_config("newsletter")
    post_migrate.disconnect(_store_migration_data_again, sender=sender)
    yield
    post_migrate.connect(_store_migration_data_again, sender=sender)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache, so rate limits, cached choices and
    query budgets never depend on the tests that happened to run before it."""
    from django.core.cache import caches

    for cache in caches.all(initialized_only=True):
        cache.clear()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def run_axe(page, **options):
    """axe's results for the page once it has loaded: right after a click the
    next page may still be fetching its stylesheet, and axe would measure it
    unstyled (every link 17 px high, too small a target)."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_load_state("load")
    return Axe().run(page, options={"resultTypes": ["violations"], **options})


def save_screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under screenshots/ (git ignores it)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.wait_for_load_state("load")  # Its stylesheet too, after a click.
    # A full-page picture never scrolls, so lazy images below the fold would show
    # as empty boxes: load them all first, as a reader scrolling down would.
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]')"
        ".forEach(image => { image.loading = 'eager'; })"
    )
    page.wait_for_function("[...document.images].every(image => image.complete)")
    page.screenshot(path=str(path), full_page=True)
    return path
