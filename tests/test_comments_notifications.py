"""Emails: the moderators' batched notice and the follow-up notifications."""

import re
from datetime import timedelta
from email.policy import SMTP

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail, signing
from django.core.cache import cache
from django.tasks import task_backends
from django.test import override_settings
from django.utils import timezone

from comments import services
from comments.models import Comment, FollowUpAddress, ModeratorNotice
from comments.tasks import notify_moderators
from tests.comments_helpers import make_trusted, post
from tests.factories import make_article, make_comment

pytestmark = pytest.mark.django_db

DUMMY_TASKS = {
    "default": {
        "BACKEND": "django.tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "newsletter"],
    }
}


@pytest.fixture(autouse=True)
def _clear_cache(settings):
    settings.COMMENTS_MODERATOR_EMAILS = ["desk@newsroom.example"]
    cache.clear()


def links_in(message):
    return re.findall(r"https?://\S+", message.body)


# Moderators ---------------------------------------------------------------------


def test_a_held_comment_emails_the_moderators(client):
    post(client, make_article(title="Night trains return"), comment="Good news")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["desk@newsroom.example"]
    assert "Night trains return" in message.body
    assert "Good news" in message.body
    assert "/admin/comments/comment/" in message.body


def test_approved_and_spam_comments_do_not_email_the_moderators(client, settings):
    settings.COMMENTS_BLOCKLIST = ["casino"]
    make_trusted(client, email="known@example.org", name="Known")
    post(client, make_article(), email="known@example.org", name="Known")
    post(client, make_article(), comment="casino")
    assert mail.outbox == []


def test_many_held_comments_make_one_email_at_the_end_of_the_spell(client):
    article = make_article()
    with override_settings(TASKS=DUMMY_TASKS):
        backend = task_backends["default"]
        for n in range(4):
            post(client, article, comment=f"Held number {n}")
        enqueued = [r.task for r in backend.results]

        assert [t.name for t in enqueued] == ["notify_moderators"] * 2
        first, deferred = enqueued
        assert first.run_after is None
        assert deferred.run_after >= timezone.now() + timedelta(minutes=14)

        assert notify_moderators.call() == 4
        assert len(mail.outbox) == 1
        assert all(f"Held number {n}" in mail.outbox[0].body for n in range(4))
        # Nothing new since: the deferred run sends nothing.
        assert notify_moderators.call() == 0
        assert len(mail.outbox) == 1


def test_the_next_notice_lists_only_comments_since_the_last(client):
    article = make_article()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        post(client, article, comment="Before")
        traveller.shift(timedelta(minutes=16))
        post(client, article, comment="After")
    assert len(mail.outbox) == 2
    assert "After" in mail.outbox[1].body
    assert "Before" not in mail.outbox[1].body


def test_without_configured_addresses_the_editors_get_the_notice(
    client, settings, django_user_model
):
    settings.COMMENTS_MODERATOR_EMAILS = []
    editor = django_user_model.objects.create_user(
        "ed", email="ed@newsroom.example", is_staff=True
    )
    editor.groups.add(Group.objects.get(name="Editors"))
    writer = django_user_model.objects.create_user("wr", email="wr@newsroom.example")
    writer.groups.add(Group.objects.get(name="Writers"))
    post(client, make_article())
    assert mail.outbox[0].to == ["ed@newsroom.example"]


def test_the_production_backend_can_defer_the_notice():
    from django_tasks_db.backend import DatabaseBackend

    assert DatabaseBackend.supports_defer


# Follow-ups ---------------------------------------------------------------------


def confirm_link(client, email="anahit@example.org"):
    post(client, make_article(), email=email, notify="yes", comment="Tell me more")
    confirmations = [m for m in mail.outbox if "Confirm your email" in m.subject]
    assert len(confirmations) == 1
    return next(link for link in links_in(confirmations[0]) if "confirm" in link)


def test_asking_for_follow_ups_sends_a_confirmation_link(client):
    link = confirm_link(client)
    assert "/comments/follow-ups/confirm/" in link
    address = FollowUpAddress.objects.get()
    assert address.email == "anahit@example.org"
    assert address.confirmed_at is None


def test_opening_the_link_confirms_nothing_until_the_button_is_pressed(client):
    path = confirm_link(client).removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    assert page.status_code == 200
    assert "<form" in page.text
    assert FollowUpAddress.objects.get().confirmed_at is None

    done = client.post(path)
    assert done.status_code == 200
    assert "Your email address is confirmed" in done.text
    assert FollowUpAddress.objects.get().confirmed_at is not None


def test_an_expired_or_forged_confirmation_link_confirms_nothing(client, settings):
    path = confirm_link(client).removeprefix("http://127.0.0.1:8000")
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.COMMENTS_CONFIRM_MAX_AGE + 60)
    ):
        assert client.post(path).status_code == 400
    assert client.post(path[:-3] + "xx/").status_code == 400
    assert FollowUpAddress.objects.get().confirmed_at is None


def test_one_confirmation_a_day_reaches_a_mailbox_whatever_its_spelling(client):
    for email in ["anahit@example.org", "anahit+1@example.org", "Anahit+2@example.org"]:
        post(client, make_article(), email=email, notify="yes")
    confirmations = [m for m in mail.outbox if "Confirm your email" in m.subject]
    assert [m.to for m in confirmations] == [["anahit@example.org"]]


def test_no_confirmation_is_sent_for_a_spam_comment(client):
    post(client, make_article(), notify="yes", homepage="bot")
    assert not [m for m in mail.outbox if "Confirm your email" in m.subject]


def reply_setup(*, confirmed: bool, notify: bool = True):
    article = make_article(title="Harvest festival")
    parent = make_comment(
        article, author_email="parent@example.org", notify_replies=notify
    )
    if confirmed:
        FollowUpAddress.objects.create(
            email="parent@example.org", confirmed_at=timezone.now()
        )
    reply = make_comment(
        article,
        parent=parent,
        status=Comment.Status.PENDING,
        author_name="Replier",
        text="I was there too.",
    )
    mail.outbox.clear()
    return reply


def notices():
    return [m for m in mail.outbox if "New reply" in m.subject]


def test_an_approved_reply_notifies_a_confirmed_parent_author():
    reply = reply_setup(confirmed=True)
    services.moderate(comments=[reply], status=Comment.Status.APPROVED)

    [message] = notices()
    assert message.to == ["parent@example.org"]
    assert "I was there too." in message.body
    assert "Harvest festival" in message.subject
    stop = next(link for link in links_in(message) if "/stop/" in link)
    assert message.extra_headers["List-Unsubscribe"] == f"<{stop}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == (
        "List-Unsubscribe=One-Click"
    )
    assert reply.author_email not in message.body
    # As Django's SMTP mailer writes it: the link whole on one line, never
    # encoded words that mail providers ignore.
    wire = message.message(policy=SMTP).as_bytes()
    assert f"\r\nList-Unsubscribe: <{stop}>\r\n".encode() in wire


def test_an_unconfirmed_address_gets_no_reply_notification():
    reply = reply_setup(confirmed=False)
    services.moderate(comments=[reply], status=Comment.Status.APPROVED)
    assert notices() == []


def test_a_parent_author_who_did_not_ask_gets_nothing():
    reply = reply_setup(confirmed=True, notify=False)
    services.moderate(comments=[reply], status=Comment.Status.APPROVED)
    assert notices() == []


@pytest.mark.parametrize("status", ["spam", "trash", "pending"])
def test_a_reply_that_is_not_approved_notifies_nobody(status):
    reply = reply_setup(confirmed=True)
    if status != "pending":
        services.moderate(comments=[reply], status=status)
    assert notices() == []


def test_a_reply_approved_on_posting_notifies_at_once(client):
    reply = reply_setup(confirmed=True)
    make_trusted(client, email="regular@example.org", name="Regular")
    post(
        client,
        reply.article,
        email="regular@example.org",
        name="Regular",
        parent=str(reply.parent_id),
        comment="Approved straight away",
    )
    assert len(notices()) == 1


def test_the_stop_link_stops_follow_ups_in_one_click(client):
    reply = reply_setup(confirmed=True)
    services.moderate(comments=[reply], status=Comment.Status.APPROVED)
    [message] = notices()
    stop = next(link for link in links_in(message) if "/stop/" in link)

    response = client.get(stop.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 200
    assert "stopped" in response.text
    assert not Comment.objects.filter(notify_replies=True).exists()

    mail.outbox.clear()
    another = make_comment(
        reply.article, parent=reply.parent, status=Comment.Status.PENDING
    )
    services.moderate(comments=[another], status=Comment.Status.APPROVED)
    assert notices() == []


def test_the_stop_link_accepts_a_one_click_post_without_a_csrf_token(client):
    from django.test import Client

    reply = reply_setup(confirmed=True)
    services.moderate(comments=[reply], status=Comment.Status.APPROVED)
    stop = next(link for link in links_in(notices()[0]) if "/stop/" in link)
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        stop.removeprefix("http://127.0.0.1:8000"),
        {"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 200
    assert not Comment.objects.filter(notify_replies=True).exists()


def test_the_stop_link_carries_an_id_not_the_address():
    reply = reply_setup(confirmed=True)
    services.moderate(comments=[reply], status=Comment.Status.APPROVED)
    stop = next(link for link in links_in(notices()[0]) if "/stop/" in link)
    token = stop.rstrip("/").rsplit("/", 1)[1]
    address = FollowUpAddress.objects.get(email="parent@example.org")
    assert signing.loads(token, salt=services.STOP_SALT) == address.pk


def test_the_confirmation_link_carries_a_comment_id_not_the_address(client):
    token = confirm_link(client).rstrip("/").rsplit("/", 1)[1]
    comment = Comment.objects.get()
    assert signing.loads(token, salt=services.CONFIRM_SALT) == comment.pk


@pytest.mark.parametrize(
    "salt", ["comments.follow-up.stop", "comments.follow-up.confirm"]
)
def test_an_old_link_that_carried_the_address_shows_the_invalid_page(client, salt):
    reply_setup(confirmed=True)
    token = signing.dumps("parent@example.org", salt=salt, compress=False)
    kind = "stop" if salt.endswith("stop") else "confirm"
    for method in (client.get, client.post):
        response = method(f"/comments/follow-ups/{kind}/{token}/")
        assert response.status_code == 400
        assert "not valid" in response.text
    assert Comment.objects.filter(notify_replies=True).exists()


def test_a_forged_stop_link_changes_nothing(client):
    reply_setup(confirmed=True)
    response = client.get("/comments/follow-ups/stop/not-a-token/")
    assert response.status_code == 400
    assert Comment.objects.filter(notify_replies=True).exists()


def test_a_comment_older_than_the_last_notice_but_never_listed_is_reported():
    # Its transaction committed after a notice that started later had run.
    make_comment(
        make_article(),
        status=Comment.Status.PENDING,
        created_at=timezone.now() - timedelta(minutes=5),
        text="Slow transaction",
    )
    ModeratorNotice.objects.create()
    assert services.send_moderator_notice() == 1
    assert "Slow transaction" in mail.outbox[-1].body
    assert services.send_moderator_notice() == 0
