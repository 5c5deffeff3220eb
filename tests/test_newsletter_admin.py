"""Composing and sending in the admin, through real admin requests."""

import csv
import importlib
import io
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth.models import Group
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from articles.models import User
from newsletter.models import Delivery, Issue, Subscriber
from tests.factories import make_article, make_issue, make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db

roles = importlib.import_module(
    "newsletter.migrations.0002_newsletters_and_editor_permissions"
)


@pytest.fixture
def editors():
    # What the data migration does (a transactional test elsewhere may have
    # flushed the migration's rows).
    roles.create_newsletters_and_permissions(apps, None)
    return Group.objects.get(name="Editors")


def staff(username, *groups, **fields):
    user = User.objects.create_user(
        username, email=f"{username}@newsroom.example", is_staff=True, **fields
    )
    user.groups.add(*groups)
    return user


@pytest.fixture
def editor(editors):
    return staff("editor", editors)


@pytest.fixture
def writer():
    writers, _ = Group.objects.get_or_create(name="Writers")
    return staff("writer", writers)


@pytest.fixture
def newsletter():
    return make_newsletter(name="Morning Briefing", slug="morning")


@pytest.fixture
def issue(newsletter):
    make_subscriber(newsletter, email="reader@example.org")
    return make_issue(
        newsletter, articles=[make_article(title="Tram line opens")], subject="Trams"
    )


def url(name, issue):
    return reverse(f"admin:newsletter_issue_{name}", args=[issue.pk])


def test_editors_hold_the_send_permission(editor):
    assert editor.has_perm("newsletter.send_issue")
    assert editor.has_perm("newsletter.change_issue")
    assert editor.has_perm("newsletter.view_subscriber")


def test_an_editor_sends_an_issue(client, editor, issue):
    client.force_login(editor)
    confirm = client.get(url("send", issue))
    assert confirm.status_code == 200
    assert b"1</strong> confirmed subscriber" in confirm.content

    response = client.post(url("send", issue))

    assert response.status_code == 302
    assert response["Location"] == url("progress", issue)
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert issue.sent_by == editor
    assert [m.to for m in mail.outbox] == [["reader@example.org"]]


def test_sending_to_one_subscriber_says_subscriber(client, editor, issue):
    client.force_login(editor)
    response = client.post(url("send", issue), follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Sending to 1 subscriber."
    ]


def test_a_sent_issue_offers_no_send_now(client, editor, issue):
    client.force_login(editor)
    client.post(url("send", issue))
    mail.outbox.clear()

    confirm = client.get(url("send", issue), follow=True)
    change = client.get(reverse("admin:newsletter_issue_change", args=[issue.pk]))
    again = client.post(url("send", issue))

    assert confirm.redirect_chain == [(url("progress", issue), 302)]
    assert b"Yes, send it now" not in confirm.content
    assert url("send", issue).encode() not in change.content
    assert again.status_code == 302
    assert mail.outbox == []


@pytest.mark.parametrize("action", ["send", "schedule"])
def test_a_writer_cannot_send_or_schedule(client, writer, issue, action):
    client.force_login(writer)
    assert client.post(url(action, issue)).status_code == 403
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert mail.outbox == []


def test_change_permission_alone_does_not_allow_sending(client, issue):
    from django.contrib.auth.models import Permission

    composer = staff("composer")
    composer.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="newsletter",
            codename__in=["view_issue", "change_issue"],
        )
    )
    client.force_login(composer)
    assert (
        client.get(
            reverse("admin:newsletter_issue_change", args=[issue.pk])
        ).status_code
        == 200
    )
    assert client.post(url("send", issue)).status_code == 403
    assert not Delivery.objects.exists()


def test_anonymous_visitors_are_sent_to_the_login(client, issue):
    response = client.post(url("send", issue))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert not Delivery.objects.exists()


def test_preview_shows_the_email_as_mailed(client, editor, issue):
    client.force_login(editor)
    response = client.get(url("preview", issue))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Tram line opens" in html
    assert "Unsubscribe" in html
    assert "@@NEWSLETTER" not in html
    text = client.get(url("preview", issue) + "?format=text")
    assert "Tram line opens" in text.content.decode()


def test_a_test_goes_to_the_editor_only(client, editor, issue):
    client.force_login(editor)
    response = client.post(url("test", issue))
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["editor@newsroom.example"]
    assert message.subject == "[Test] Trams"
    issue.refresh_from_db()
    assert issue.status == Issue.Status.DRAFT
    assert not Delivery.objects.exists()


def shape(message):
    """The header names and the MIME parts of a message as mailed."""
    mime = message.message()
    return sorted(mime.keys()), [part.get_content_type() for part in mime.walk()]


def test_a_test_is_built_like_the_real_send(client, editor, issue):
    client.force_login(editor)

    client.post(url("test", issue))
    client.post(url("send", issue))

    test, real = mail.outbox
    assert real.to == ["reader@example.org"]
    assert shape(test) == shape(real)
    assert shape(real) == (
        [
            "Content-Type",
            "Date",
            "From",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "MIME-Version",
            "Message-ID",
            "Subject",
            "To",
        ],
        ["multipart/alternative", "text/plain", "text/html"],
    )
    assert test.extra_headers["List-Unsubscribe"] == "<http://testserver/newsletter/>"


def test_fill_adds_articles_published_since_the_last_issue(client, editor, newsletter):
    now = timezone.now()
    sent = make_issue(newsletter)
    Issue.objects.filter(pk=sent.pk).update(
        status=Issue.Status.SENT, started_at=now - timedelta(hours=5)
    )
    make_article(title="Old news", published_at=now - timedelta(hours=6))
    make_article(title="Fresh", published_at=now - timedelta(hours=1))
    make_article(title="Not yet", published_at=now + timedelta(hours=1))
    draft = make_issue(newsletter)
    client.force_login(editor)

    client.post(url("fill", draft))
    client.post(url("fill", draft))  # twice: no duplicates

    assert [i.article.title for i in draft.items.all()] == ["Fresh"]


def test_an_editor_schedules_an_issue_and_it_goes_out_when_due(client, editor, issue):
    send_at = timezone.now() + timedelta(hours=2)
    Issue.objects.filter(pk=issue.pk).update(send_at=send_at)
    client.force_login(editor)

    client.post(url("schedule", issue))

    issue.refresh_from_db()
    assert issue.status == Issue.Status.SCHEDULED
    call_command("send_issue", "--due", stdout=io.StringIO())
    assert mail.outbox == []
    with time_machine.travel(send_at + timedelta(minutes=1)):
        call_command("send_issue", "--due", stdout=io.StringIO())
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENT
    assert len(mail.outbox) == 1


def test_progress_shows_sent_failed_total(client, editor, issue, newsletter):
    failed = make_subscriber(newsletter)
    client.force_login(editor)
    client.post(url("send", issue))
    Delivery.objects.filter(subscriber=failed).update(status=Delivery.Status.FAILED)

    page = client.get(url("progress", issue)).content.decode()
    assert '<th scope="row">Sent</th><td>1</td>' in page
    assert '<th scope="row">Failed</th><td>1</td>' in page
    assert '<th scope="row">Total</th><td>2</td>' in page
    listing = client.get(reverse("admin:newsletter_issue_changelist"))
    assert "1 / 1 / 2" in listing.content.decode()


def test_a_sending_issue_page_refreshes_itself(client, editor, issue):
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENDING)
    client.force_login(editor)
    page = client.get(url("progress", issue))
    assert b'http-equiv="refresh"' in page.content


def test_a_sent_issue_can_no_longer_be_edited(client, editor, issue):
    Issue.objects.filter(pk=issue.pk).update(status=Issue.Status.SENT)
    client.force_login(editor)
    change = reverse("admin:newsletter_issue_change", args=[issue.pk])
    client.post(change, {"newsletter": issue.newsletter_id, "subject": "Changed"})
    issue.refresh_from_db()
    assert issue.subject == "Trams"


def test_the_intro_is_sanitised(client, editor, newsletter):
    client.force_login(editor)
    response = client.post(
        reverse("admin:newsletter_issue_add"),
        {
            "newsletter": newsletter.pk,
            "subject": "Hello",
            "preheader": "",
            "intro": '<p onclick="x()">Hi <script>alert(1)</script><b>there</b></p>',
            "send_at": "",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content
    issue = Issue.objects.get(subject="Hello")
    assert issue.intro == "<p>Hi <b>there</b></p>"
    assert issue.created_by == editor


def test_subscribers_export_to_csv(client, editor, newsletter):
    make_subscriber(newsletter, email="a@example.org", consent_ip="192.0.2.1")
    make_subscriber(newsletter, email="b@example.org")
    client.force_login(editor)
    response = client.post(
        reverse("admin:newsletter_subscriber_changelist"),
        {
            "action": "export_csv",
            "_selected_action": list(Subscriber.objects.values_list("pk", flat=True)),
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("email,status,newsletters")
    assert "a@example.org,confirmed,morning," in "\n".join(lines)
    assert len(lines) == 3


def test_the_csv_export_makes_reader_typed_formulas_inert(client, editor, newsletter):
    make_subscriber(newsletter, email="=1+1@example.org", consent_source="@SUM(A1:A9)")
    make_subscriber(newsletter, email="-x@example.org", consent_source="-2+3")
    make_subscriber(newsletter, email="+y@example.org", consent_source="+cmd|' /C")
    client.force_login(editor)
    response = client.post(
        reverse("admin:newsletter_subscriber_changelist"),
        {
            "action": "export_csv",
            "_selected_action": list(Subscriber.objects.values_list("pk", flat=True)),
        },
    )
    content = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(content)))
    assert sorted((r["email"], r["consent_source"]) for r in rows) == [
        ("'+y@example.org", "'+cmd|' /C"),
        ("'-x@example.org", "'-2+3"),
        ("'=1+1@example.org", "'@SUM(A1:A9)"),
    ]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_escaped(start):
    from newsletter.subscriber_csv import spreadsheet_safe

    assert spreadsheet_safe(f"{start}HYPERLINK()") == f"'{start}HYPERLINK()"
    assert spreadsheet_safe(f"a{start}") == f"a{start}"


def test_an_exported_formula_address_imports_as_it_was():
    from newsletter.subscriber_csv import import_rows

    newsletter = make_newsletter(slug="weekly")
    report = import_rows(
        ["email", "'=1+1@example.org"], newsletters=[newsletter], consent_note="Re"
    )
    assert report.errors == []
    assert Subscriber.objects.get().email == "=1+1@example.org"


def test_subscribers_import_from_the_admin_reports_bad_rows(client, editor, newsletter):
    client.force_login(editor)
    upload = SimpleUploadedFile(
        "list.csv", b"email\ngood@example.org\nnot-an-address\n", "text/csv"
    )
    response = client.post(
        reverse("admin:newsletter_subscriber_import"),
        {
            "file": upload,
            "newsletters": [newsletter.pk],
            "consent_note": "Paper sign-up sheet, open day 2026",
        },
        follow=True,
    )
    content = response.content.decode()
    assert "1 new" in content
    assert "line 3: &#x27;not-an-address&#x27; is not a valid email address." in content
    assert Subscriber.objects.get().email == "good@example.org"


def test_marking_bounced_in_the_admin_keeps_a_complaint(client, editor, newsletter):
    complained = make_subscriber(newsletter, status=Subscriber.Status.COMPLAINED)
    confirmed = make_subscriber(newsletter)
    client.force_login(editor)

    client.post(
        reverse("admin:newsletter_subscriber_changelist"),
        {
            "action": "mark_bounced",
            "_selected_action": [complained.pk, confirmed.pk],
        },
    )

    complained.refresh_from_db()
    confirmed.refresh_from_db()
    assert complained.status == Subscriber.Status.COMPLAINED
    assert confirmed.status == Subscriber.Status.BOUNCED


def test_a_writer_cannot_see_subscribers(client, writer, newsletter):
    make_subscriber(newsletter)
    client.force_login(writer)
    response = client.get(reverse("admin:newsletter_subscriber_changelist"))
    assert response.status_code == 403


@pytest.mark.browser
def test_the_send_buttons_work_in_a_browser(live_server, page, transactional_db):
    """The extra buttons sit inside the change form but submit their own forms."""
    roles.create_newsletters_and_permissions(apps, None)
    editor = staff("editor", Group.objects.get(name="Editors"))
    editor.set_password("pw-for-the-browser")
    editor.save()
    newsletter = make_newsletter(name="Evening Edition")
    issue = make_issue(newsletter, subject="Browser issue")
    make_article(title="Fresh from the press")

    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "editor")
    page.fill("#id_password", "pw-for-the-browser")
    page.click("input[type=submit]")
    page.goto(
        live_server.url + reverse("admin:newsletter_issue_change", args=[issue.pk])
    )

    page.get_by_role("button", name="Fill with articles published since").click()
    expect(page.get_by_text("1 article added.")).to_be_visible()
    page.get_by_role("button", name="Send a test to editor@newsroom.example").click()
    expect(page.get_by_text("Test sent to editor@newsroom.example.")).to_be_visible()
    assert [m.subject for m in mail.outbox] == ["[Test] Browser issue"]
