"""Moderating: the service keeps counts and cache right; the admin queue and roles."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from comments import services
from comments.models import Comment
from publicpages.generation import public_pages_generation
from tests.factories import make_article, make_comment

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/comments/comment/"


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user(
        "editor", email="editor@newsroom.example", password="pw", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Editors"))
    return user


@pytest.fixture
def writer(django_user_model):
    user = django_user_model.objects.create_user(
        "writer", email="writer@newsroom.example", password="pw", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Writers"))
    return user


def count_of(article):
    article.refresh_from_db()
    return article.comment_count


@pytest.mark.parametrize(
    ("start", "end", "delta"),
    [
        ("pending", "approved", 1),
        ("spam", "approved", 1),
        ("approved", "spam", -1),
        ("approved", "trash", -1),
        ("approved", "pending", -1),
        ("pending", "trash", 0),
        ("trash", "pending", 0),
    ],
)
def test_moderating_keeps_the_comment_count_right(start, end, delta):
    article = make_article()
    make_comment(article)
    comment = make_comment(article, status=start)
    before = count_of(article)

    changed = services.moderate(comments=[comment], status=end)

    assert changed == 1
    assert count_of(article) == before + delta
    comment.refresh_from_db()
    assert comment.status == end


def test_moderating_to_the_same_status_changes_nothing():
    article = make_article()
    comment = make_comment(article)
    assert services.moderate(comments=[comment], status="approved") == 0
    assert count_of(article) == 1


def test_moderating_many_articles_at_once_counts_each():
    one, two = make_article(), make_article()
    comments = [make_comment(one, status="pending") for _ in range(3)]
    comments.append(make_comment(two, status="pending"))
    services.moderate(comments=comments, status="approved")
    assert (count_of(one), count_of(two)) == (3, 1)


def test_approving_invalidates_the_public_pages(django_capture_on_commit_callbacks):
    comment = make_comment(make_article(), status="pending")
    before = public_pages_generation()
    with django_capture_on_commit_callbacks(execute=True):
        services.moderate(comments=[comment], status="approved")
    assert public_pages_generation() != before


def test_deleting_recounts_including_cascaded_replies():
    article = make_article()
    root = make_comment(article)
    make_comment(article, parent=root)
    make_comment(article)
    assert count_of(article) == 3
    services.delete_comments(comments=[root])
    assert count_of(article) == 1


def test_an_editor_sees_the_queue_with_email_ip_and_the_pending_count(client, editor):
    article = make_article(title="Bridge reopens")
    make_comment(
        article,
        status="pending",
        author_email="held@example.org",
        ip_address="192.0.2.44",
    )
    make_comment(article, status="pending")
    make_comment(article)
    client.force_login(editor)

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    page = response.text
    assert "Comments (2 pending)" in page
    assert "held@example.org" in page
    assert "192.0.2.44" in page
    assert "Bridge reopens" in page
    assert article.get_absolute_url() in page

    filtered = client.get(CHANGELIST, {"status__exact": "approved"})
    assert "held@example.org" not in filtered.text


def test_the_admin_index_shows_how_many_comments_wait(client, editor):
    make_comment(make_article(), status="pending")
    client.force_login(editor)
    response = client.get("/admin/")
    assert "Comments (1 pending)" in response.text


def test_the_admin_index_shows_no_count_to_a_writer(client, writer):
    make_comment(make_article(), status="pending")
    client.force_login(writer)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "pending)" not in response.text


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("approve", "approved"),
        ("mark_spam", "spam"),
        ("move_to_trash", "trash"),
        ("restore", "pending"),
    ],
)
def test_an_editor_moderates_in_bulk(client, editor, action, status):
    article = make_article()
    start = "trash" if action == "restore" else "pending"
    comments = [make_comment(article, status=start) for _ in range(3)]
    client.force_login(editor)

    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [c.pk for c in comments]},
        follow=True,
    )

    assert response.status_code == 200
    assert set(Comment.objects.values_list("status", flat=True)) == {status}
    assert count_of(article) == (3 if status == "approved" else 0)


def test_editing_the_status_in_the_change_form_goes_through_the_rules(client, editor):
    article = make_article()
    comment = make_comment(article, status="pending", text="Old words")
    client.force_login(editor)
    url = reverse("admin:comments_comment_change", args=[comment.pk])
    response = client.post(
        url,
        {
            "status": "approved",
            "author_name": comment.author_name,
            "author_email": comment.author_email,
            "author_url": "",
            "text": "New <b>words</b>",
        },
    )
    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.status == "approved"
    assert comment.html == "<p>New &lt;b&gt;words&lt;/b&gt;</p>"
    assert count_of(article) == 1


def test_an_edit_to_an_approved_comment_reaches_readers_once_committed(
    client, editor, django_capture_on_commit_callbacks
):
    comment = make_comment(make_article(), status="approved", text="Old words")
    client.force_login(editor)
    before = public_pages_generation()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("admin:comments_comment_change", args=[comment.pk]),
            {
                "status": "approved",
                "author_name": comment.author_name,
                "author_email": comment.author_email,
                "author_url": "",
                "text": "Corrected words",
            },
        )
    assert response.status_code == 302
    # Not before the commit: a page rendered from the old row in the meantime
    # would be stored under the new generation.
    assert public_pages_generation() == before
    for callback in callbacks:
        callback()
    assert public_pages_generation() != before


def test_deleting_in_the_admin_recounts(client, editor):
    article = make_article()
    comments = [make_comment(article) for _ in range(2)]
    client.force_login(editor)
    client.post(
        CHANGELIST,
        {
            "action": "delete_selected",
            "_selected_action": [c.pk for c in comments],
            "post": "yes",
        },
    )
    assert not Comment.objects.exists()
    assert count_of(article) == 0


def test_a_writer_cannot_see_or_moderate_comments(client, writer):
    comment = make_comment(make_article(), status="pending")
    client.force_login(writer)
    assert client.get(CHANGELIST).status_code == 403
    client.post(CHANGELIST, {"action": "approve", "_selected_action": [comment.pk]})
    comment.refresh_from_db()
    assert comment.status == "pending"


def test_nobody_adds_comments_through_the_admin(client, editor):
    client.force_login(editor)
    assert client.get("/admin/comments/comment/add/").status_code == 403


def test_editors_and_writers_hold_the_right_permissions():
    editors = set(
        Group.objects.get(name="Editors")
        .permissions.filter(content_type__app_label="comments")
        .values_list("codename", flat=True)
    )
    writers = set(
        Group.objects.get(name="Writers")
        .permissions.filter(content_type__app_label="comments")
        .values_list("codename", flat=True)
    )
    assert {"change_comment", "delete_comment", "view_comment"} <= editors
    assert "add_comment" not in editors
    assert writers == set()


def test_an_anonymous_visitor_is_sent_to_the_admin_login(client):
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_approved_count_shows_on_the_article_and_on_listings(client):
    article = make_article(title="Count me")
    comments = [make_comment(article, status="pending") for _ in range(3)]
    services.moderate(comments=comments, status="approved")
    assert "3 Comments" in client.get(article.get_absolute_url()).text
    assert "3 Comments" in client.get("/").text
    services.moderate(comments=comments[:1], status="spam")
    assert "2 Comments" in client.get("/").text
