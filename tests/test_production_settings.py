"""The production profile: DEBUG off and the variables docs/deployment.md lists."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "prod-" + "k3y-Zq9" * 9,
    "ALLOWED_HOSTS": "news.example.com",
    "SITE_URL": "https://news.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://news.example.com",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
}

_PROBE = """
import json, django
django.setup()
from django.core.management import call_command
from django.test import Client
# As the production start does: hashed, compressed files for WhiteNoise.
call_command("collectstatic", "--noinput", verbosity=0)
client = Client(raise_request_exception=False, HTTP_HOST="news.example.com")
plain = client.get("/admin/login/")
secure = client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
cookie = secure.cookies.get("csrftoken")
from django.contrib.staticfiles.storage import staticfiles_storage
css = client.get(
    staticfiles_storage.url("admin/css/base.css"),
    headers={"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"},
)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "secure": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security"),
    "csrf_cookie": [bool(cookie["secure"]), bool(cookie["httponly"])],
    "static": [
        staticfiles_storage.url("admin/css/base.css"),
        css.status_code,
        css.get("Cache-Control"),
        css.get("Content-Encoding"),
    ],
    "log_format": django.conf.settings.LOGGING["handlers"]["stdout"]["formatter"],
}))
"""


def _run(args, env_changes, tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "PYTHONPATH"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "STATIC_ROOT": str(tmp_path / "static"),
        **env_changes,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_nothing_in_the_production_profile(tmp_path):
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        PRODUCTION_ENV,
        tmp_path,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_notices_switched_off_protections(tmp_path):
    switched_off = {
        "SECURE_SSL_REDIRECT": "security.W008",
        "SESSION_COOKIE_SECURE": "security.W012",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "security.W005",
    }
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        PRODUCTION_ENV | dict.fromkeys(switched_off, "0"),
        tmp_path,
    )

    assert result.returncode != 0
    for warning in switched_off.values():
        assert warning in result.stdout + result.stderr


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """What a production process answers to a few requests."""
    result = _run(["-c", _PROBE], PRODUCTION_ENV, tmp_path_factory.mktemp("probe"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_redirects_to_https_and_trusts_the_proxy_header(probe):
    outcome = probe
    assert outcome["plain"] == [301, "https://news.example.com/admin/login/"]
    assert outcome["secure"] == 200
    assert outcome["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert outcome["csrf_cookie"] == [True, True]
    assert outcome["log_format"] == "json"


def test_production_serves_hashed_compressed_static_files_for_ever(probe):
    url, status, cache_control, encoding = probe["static"]
    assert re.fullmatch(r"/static/admin/css/base\.[0-9a-f]{12}\.css", url)
    assert status == 200
    assert "immutable" in cache_control
    assert encoding == "gzip"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _run(["manage.py", "check"], PRODUCTION_ENV | {"SECRET_KEY": ""}, tmp_path)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.django_db
def test_pages_carry_the_security_headers(client):
    response = client.get("/")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


@pytest.mark.django_db
def test_public_pages_allow_no_inline_scripts(client):
    policy = client.get("/")["Content-Security-Policy"]

    directives = dict(
        part.strip().split(" ", 1) for part in policy.split(";") if " " in part
    )
    assert "'unsafe-inline'" not in directives["script-src"]
    assert directives["script-src"].startswith("'self'")
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


def test_log_level_is_read_in_any_case(tmp_path):
    probe = "import django, logging; django.setup(); print(logging.getLogger().level)"
    result = _run(["-c", probe], PRODUCTION_ENV | {"LOG_LEVEL": "warning"}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "30"


def test_an_unknown_log_level_is_refused_with_a_clear_message(tmp_path):
    env = PRODUCTION_ENV | {"LOG_LEVEL": "loud"}
    result = _run(["manage.py", "check"], env, tmp_path)

    assert result.returncode != 0
    assert "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'loud'" in (
        result.stderr
    )
