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
        author_name="Ana\x0b", html="<p>Fine\ufffe words\x01</p>"
    )
    response = client.get(f"/comments/feed/{article.slug}/")
    assert response.status_code == 200
    (item,) = ET.fromstring(response.content).findall("./channel/item")
    assert item.findtext("description") == "<p>Fine words</p>"


# The whole site's comments feed


def test_the_site_comments_feed_lists_approved_comments_newest_first(client):
    import xml.etree.ElementTree as ET
    from datetime import timedelta

    from django.utils import timezone

    first = make_article(title="Reservoir levels")
    second = make_article(title="Bridge reopens")
    draft = make_article(status=Article.Status.DRAFT, published_at=None)
    now = timezone.now()
    make_comment(first, author_name="Ani", text="Older", created_at=now - timedelta(2))
    newer = make_comment(
        second,
        author_name="Narek",
        author_email="narek@example.org",
        text="Newer",
        created_at=now - timedelta(1),
    )
    make_comment(first, status="pending", text="Still pending")
    make_comment(second, status="spam", text="Spam words")
    make_comment(draft, text="On a draft")

    response = client.get("/comments/feed/")

    assert response.status_code == 200
    items = ET.fromstring(response.content).findall("./channel/item")
    assert [item.findtext("title") for item in items] == [
        "Narek on “Bridge reopens”",
        "Ani on “Reservoir levels”",
    ]
    assert items[0].findtext("description") == "<p>Newer</p>"
    link = items[0].findtext("link")
    assert link.endswith(f"{second.get_absolute_url()}#comment-{newer.pk}")
    body = response.content.decode()
    assert "Still pending" not in body and "On a draft" not in body
    assert "@" not in body.split("<item>", 1)[1]


def test_the_site_comments_feed_costs_the_same_for_many_articles(
    client, django_assert_max_num_queries
):
    for _ in range(8):
        make_comment(make_article())
    with django_assert_max_num_queries(4):
        client.get("/comments/feed/")


def test_the_article_page_head_links_its_comments_feed(client):
    article = make_article()
    head = client.get(article.get_absolute_url()).text.split("</head>")[0]
    assert (
        f'<link rel="alternate" type="application/rss+xml" '
        f'title="Comments on “{article.title}” (RSS)" '
        f'href="/comments/feed/{article.slug}/">'
    ) in head


def test_main_feed_items_link_their_comments(client, settings):
    import xml.etree.ElementTree as ET

    open_article = make_article()
    make_article(comments_enabled=False)
    items = ET.fromstring(client.get("/feed/").content).findall("./channel/item")
    comments = [item.findtext("comments") for item in items]
    assert sorted(comments, key=str) == sorted(
        [None, f"{settings.SITE_URL}{open_article.get_absolute_url()}#comments"],
        key=str,
    )
