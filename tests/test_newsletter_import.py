"""Importing a CSV list from the admin: the upload returns at once, a task
imports it a chunk at a time, and the import's page shows how far it got and
every row left out."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.tasks import default_task_backend
from django.urls import reverse

from articles.models import User
from newsletter import subscriber_csv
from newsletter.models import Subscriber, SubscriberImport
from newsletter.tasks import import_subscribers
from tests.factories import make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db

roles = importlib.import_module(
    "newsletter.migrations.0002_newsletters_and_editor_permissions"
)
QUEUED_TASKS = {
    "default": {
        "BACKEND": "django.tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "newsletter"],
    }
}
LIST = (
    b"email,newsletters\n"
    b"new@example.org,\n"
    b"Pending@example.org,\n"
    b"left@example.org,\n"
    b"not-an-address,\n"
)


@pytest.fixture
def editor(client):
    roles.create_newsletters_and_permissions(apps, None)
    user = User.objects.create_user("editor", is_staff=True)
    user.groups.add(Group.objects.get(name="Editors"))
    client.force_login(user)
    return user


@pytest.fixture
def newsletter():
    return make_newsletter(slug="weekly")


def upload(client, content=LIST, **fields):
    return client.post(
        reverse("admin:newsletter_subscriber_import"),
        {
            "file": SimpleUploadedFile("list.csv", content, "text/csv"),
            "newsletters": [fields.pop("newsletter").pk],
            "consent_note": "Paper sign-up sheet, open day 2026",
            **fields,
        },
    )


def test_the_upload_returns_before_anyone_is_imported(
    client, editor, newsletter, settings
):
    settings.TASKS = QUEUED_TASKS

    response = upload(client, newsletter=newsletter)

    record = SubscriberImport.objects.get()
    assert response["Location"] == record.get_absolute_url()
    assert record.status == SubscriberImport.Status.QUEUED
    assert record.created_by == editor
    assert not Subscriber.objects.exists()
    [queued] = default_task_backend.results
    assert queued.task.name == "import_subscribers"
    assert queued.args == [record.pk]
    page = client.get(record.get_absolute_url()).content.decode()
    assert "Waiting for a worker" in page
    assert 'http-equiv="refresh"' in page


def test_the_task_imports_and_the_page_reports_every_row(
    client, editor, newsletter, settings
):
    settings.TASKS = QUEUED_TASKS
    pending = make_subscriber(email="pending@example.org", status="pending")
    make_subscriber(email="left@example.org", status="unsubscribed")
    upload(client, newsletter=newsletter)
    record = SubscriberImport.objects.get()

    import_subscribers.call(record.pk)

    record.refresh_from_db()
    assert record.status == SubscriberImport.Status.DONE
    assert (record.rows_total, record.rows_done) == (3, 3)
    assert (record.created_count, record.updated_count) == (1, 1)
    assert record.csv_text == ""  # the list of addresses is not kept
    new = Subscriber.objects.get(email="new@example.org")
    assert new.status == Subscriber.Status.CONFIRMED
    assert new.consent_source == "Import: Paper sign-up sheet, open day 2026"
    assert list(new.newsletters.all()) == [newsletter]
    pending.refresh_from_db()
    assert pending.status == Subscriber.Status.CONFIRMED
    assert Subscriber.objects.get(email="left@example.org").status == "unsubscribed"
    page = client.get(record.get_absolute_url()).content.decode()
    assert "Imported: 1 new, 1 existing" in page
    assert "line 5: &#x27;not-an-address&#x27; is not a valid email address." in page
    assert "line 4: left@example.org is unsubscribed; not subscribed again." in page
    assert 'http-equiv="refresh"' not in page

    import_subscribers.call(record.pk)  # run twice: nothing more happens
    assert Subscriber.objects.count() == 3


def test_progress_is_recorded_after_each_chunk(newsletter, monkeypatch):
    monkeypatch.setattr(subscriber_csv, "IMPORT_CHUNK", 2)
    lines = ["email"] + [f"reader{n}@example.org" for n in range(5)]
    seen = []

    report = subscriber_csv.import_rows(
        lines,
        newsletters=[newsletter],
        consent_note="Old list",
        progress=lambda report: seen.append((report.done, report.total)),
    )

    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert report.created == 5
    assert newsletter.subscribers.count() == 5


def test_importing_the_same_list_again_adds_nobody_twice(newsletter):
    lines = ["email", "a@example.org", "b@example.org"]
    subscriber_csv.import_rows(lines, newsletters=[newsletter], consent_note="x")

    again = subscriber_csv.import_rows(
        lines, newsletters=[newsletter], consent_note="x"
    )

    assert (again.created, again.updated) == (0, 2)
    assert Subscriber.objects.count() == 2
    assert newsletter.subscribers.count() == 2


def test_a_dry_run_counts_without_writing(newsletter):
    report = subscriber_csv.import_rows(
        ["email", "a@example.org"],
        newsletters=[newsletter],
        consent_note="x",
        dry_run=True,
    )
    assert report.created == 1
    assert not Subscriber.objects.exists()


def test_a_file_that_is_not_utf8_is_refused_with_the_form(client, editor, newsletter):
    response = upload(client, b"email\nm\xe9lanie@example.org\n", newsletter=newsletter)

    assert response.status_code == 200
    assert "The file is not UTF-8 text." in response.content.decode()
    assert not SubscriberImport.objects.exists()


def test_a_consent_note_with_a_line_break_is_refused(client, editor, newsletter):
    response = upload(
        client, newsletter=newsletter, consent_note="Open day\r\nBcc: x@example.org"
    )

    assert response.status_code == 200
    assert not SubscriberImport.objects.exists()
    assert response.context["form"].errors["consent_note"]
