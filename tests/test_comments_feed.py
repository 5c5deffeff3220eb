"""The per-article comments feed."""

import pytest
from django.core.cache import cache

from articles.models import Article
from tests.factories import make_article, make_comment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def test_the_feed_lists_approved_comments_without_emails(client):
    article = make_article(title="Reservoir levels")
    make_comment(
        article,
        author_name="Narek",
        author_email="narek@example.org",
        text="Shown in the feed",
    )
    make_comment(article, status="pending", text="Still pending")
    make_comment(article, status="spam", text="Spam words")

    response = client.get(f"/comments/feed/{article.slug}/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    body = response.content.decode()
    assert "Shown in the feed" in body
    assert "Narek" in body
    assert "Still pending" not in body
    assert "Spam words" not in body
    assert "narek@example.org" not in body
    assert "@" not in body.split("<item>", 1)[1]


def test_there_is_no_feed_for_an_unpublished_article(client):
    draft = make_article(status=Article.Status.DRAFT)
    assert client.get(f"/comments/feed/{draft.slug}/").status_code == 404


def test_the_feed_escapes_hostile_comments(client):
    article = make_article()
    make_comment(article, text="<script>alert(1)</script>")
    body = client.get(f"/comments/feed/{article.slug}/").content.decode()
    assert "<script>" not in body


def test_feed_links_point_at_the_comments_page(client, settings):
    settings.COMMENTS_PER_PAGE = 1
    article = make_article()
    make_comment(article)
    second = make_comment(article)
    reply = make_comment(article, parent=second)
    body = client.get(f"/comments/feed/{article.slug}/").content.decode()
    assert f"{article.get_absolute_url()}?cpage=2#comment-{second.pk}" in body
    assert f"{article.get_absolute_url()}?cpage=2#comment-{reply.pk}" in body


def test_the_comment_section_links_to_its_feed(client):
    article = make_article()
    page = client.get(article.get_absolute_url()).text
    assert f'href="/comments/feed/{article.slug}/"' in page


def test_a_noncharacter_in_a_stored_comment_leaves_the_feed_readable(client):
    import xml.etree.ElementTree as ET

    from comments.models import Comment

    article = make_article()
    comment = make_comment(article, text="Fine words")
    # Written around save(), as an old row or a raw import could be.
    Comment.objects.filter(pk=comment.pk).update(
        author_name="Ana\x0b", html="<p>Fine\ufffe words\x00</p>"
    )
    response = client.get(f"/comments/feed/{article.slug}/")
    assert response.status_code == 200
    (item,) = ET.fromstring(response.content).findall("./channel/item")
    assert item.findtext("description") == "<p>Fine words</p>"
