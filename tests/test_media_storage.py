"""MEDIA_STORAGE=s3 and the AWS_* variables put uploaded images in an S3-compatible
bucket, configured by environment alone. No request leaves the machine: the
storage is built and asked for addresses, which boto3 makes without the network."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.core.files.storage import default_storage
print(json.dumps({
    "default": settings.STORAGES["default"],
    "url": default_storage.url("articles/2026/12/harbour-0123456789abcdef.jpg"),
}))
"""

S3_ENV = {
    "MEDIA_STORAGE": "s3",
    "AWS_STORAGE_BUCKET_NAME": "newsroom-media",
    "AWS_S3_REGION_NAME": "eu-central-1",
    "AWS_S3_ENDPOINT_URL": "https://s3.eu-central-1.example.net",
    "AWS_S3_CUSTOM_DOMAIN": "media.example.com",
    "AWS_ACCESS_KEY_ID": "test-key-id",
    "AWS_SECRET_ACCESS_KEY": "test-secret",
}


def run_probe(env_changes):
    env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "PYTHONPATH"}
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "newsroom.settings",
        "DEBUG": "1",
        **env_changes,
    }
    return subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_s3_media_storage_is_configured_by_environment_alone():
    result = run_probe(S3_ENV)

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["default"] == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "newsroom-media",
            "region_name": "eu-central-1",
            "endpoint_url": "https://s3.eu-central-1.example.net",
            "custom_domain": "media.example.com",
            "querystring_auth": False,
            "file_overwrite": False,
            "object_parameters": {
                "CacheControl": "public, max-age=31536000, immutable"
            },
        },
    }
    assert probe["url"] == (
        "https://media.example.com/articles/2026/12/harbour-0123456789abcdef.jpg"
    )


def test_media_stay_on_the_local_disk_by_default():
    result = run_probe({})

    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["default"] == {
        "BACKEND": "django.core.files.storage.FileSystemStorage"
    }
    assert probe["url"] == "/media/articles/2026/12/harbour-0123456789abcdef.jpg"


def test_s3_without_a_bucket_stops_start_up_with_a_message():
    result = run_probe({"MEDIA_STORAGE": "s3"})

    assert result.returncode != 0
    assert "MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME." in result.stderr


def test_an_unknown_media_storage_stops_start_up_with_a_message():
    result = run_probe({"MEDIA_STORAGE": "ftp"})

    assert result.returncode != 0
    assert "MEDIA_STORAGE must be local or s3, not 'ftp'." in result.stderr
