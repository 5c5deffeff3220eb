"""Comments on a page every reader shares: the form works without a per-reader
token, the author alone sees their pending comment (on a private page), and an
approval reaches every reader at once."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from comments.models import Comment
from tests.comments_helpers import form_data
from tests.factories import make_article

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fragment_cache_on(settings):
    settings.FRAGMENT_CACHE_SECONDS = 300
    cache.clear()


def test_a_comment_from_a_cached_page_approved_by_an_editor_reaches_readers(
    client, django_user_model, django_capture_on_commit_callbacks
):
    article = make_article()
    url = article.get_absolute_url()
    Client().get(url)  # fills the fragments

    reader = Client(enforce_csrf_checks=True)
    page = reader.get(url)
    assert "public" in page["Cache-Control"]
    assert "csrfmiddlewaretoken" not in page.text
    response = reader.post(
        f"/comments/post/{article.pk}/",
        form_data(article, comment="Posted from a cached page"),
        REMOTE_ADDR="192.0.2.80",
    )
    assert response.status_code == 303

    own = reader.get(url)
    assert own["Cache-Control"] == "private, no-store"
    assert "Posted from a cached page" in own.text
    assert "Your comment is awaiting moderation" in own.text

    stranger = Client().get(url)
    assert "Posted from a cached page" not in stranger.text
    assert "public" in stranger["Cache-Control"]

    editor = django_user_model.objects.create_user("ed", is_staff=True)
    editor.groups.add(Group.objects.get(name="Editors"))
    client.force_login(editor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/comments/comment/",
            {"action": "approve", "_selected_action": [Comment.objects.get().pk]},
        )

    after = Client().get(url)
    assert "Posted from a cached page" in after.text
    assert "1 Comment" in after.text
    assert "awaiting moderation" not in after.text
