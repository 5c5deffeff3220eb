"""articles.related: "You May Also Like" ranking."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articles.models import Article
from articles.related import related_articles
from tests.factories import make_article, make_category

pytestmark = pytest.mark.django_db


def _ago(days):
    return timezone.now() - timedelta(days=days)


def _titles(article):
    return [other.title for other in related_articles(article)]


def test_more_shared_tags_rank_higher_than_recency():
    article = make_article(tags=["water", "lake", "climate"])
    make_article(title="one tag, newest", tags=["water"], published_at=_ago(1))
    make_article(
        title="three tags", tags=["water", "lake", "climate"], published_at=_ago(9)
    )
    make_article(title="two tags", tags=["lake", "climate"], published_at=_ago(5))
    assert _titles(article) == ["three tags", "two tags", "one tag, newest"]


def test_equal_shared_tags_rank_by_recency():
    article = make_article(tags=["water"])
    make_article(title="older", tags=["water"], published_at=_ago(5))
    make_article(title="newer", tags=["water"], published_at=_ago(2))
    assert _titles(article) == ["newer", "older"]


def test_it_fills_up_from_the_same_category_newest_first():
    category = make_category()
    article = make_article(category=category, tags=["water"])
    make_article(title="tagged elsewhere", tags=["water"], published_at=_ago(30))
    make_article(title="same section old", category=category, published_at=_ago(20))
    make_article(title="same section new", category=category, published_at=_ago(3))
    make_article(title="same section newest", category=category, published_at=_ago(2))
    make_article(title="unrelated", published_at=_ago(1))
    assert _titles(article) == [
        "tagged elsewhere",
        "same section newest",
        "same section new",
        "same section old",
    ]


def test_pinned_articles_come_first():
    article = make_article(tags=["water"])
    make_article(title="shares the tag", tags=["water"], published_at=_ago(1))
    pinned = make_article(title="pinned, nothing shared", published_at=_ago(90))
    article.related_articles.add(pinned)
    assert _titles(article)[0] == "pinned, nothing shared"


def test_it_returns_at_most_four():
    category = make_category()
    article = make_article(category=category, tags=["a"])
    for _ in range(8):
        make_article(category=category, tags=["a"])
    assert len(related_articles(article)) == 4


def test_it_never_suggests_the_article_itself_drafts_or_scheduled_ones():
    category = make_category()
    article = make_article(category=category, tags=["a"])
    pinned_draft = make_article(
        title="pinned draft", status=Article.Status.DRAFT, tags=["a"]
    )
    article.related_articles.add(pinned_draft, article)
    make_article(title="tomorrow", category=category, tags=["a"], published_at=_ago(-1))
    assert _titles(article) == []


def test_an_article_without_tags_gets_its_category():
    category = make_category()
    article = make_article(category=category)
    make_article(title="neighbour", category=category)
    make_article(title="stranger")
    assert _titles(article) == ["neighbour"]


def test_tags_of_other_models_do_not_count():
    from django.contrib.contenttypes.models import ContentType
    from taggit.models import Tag, TaggedItem

    article = make_article(tags=["water"])
    other = make_article(title="stranger")
    # A tagged item of another model whose object id equals `other`'s pk.
    TaggedItem.objects.create(
        tag=Tag.objects.get(name="water"),
        content_type=ContentType.objects.get_for_model(ContentType),
        object_id=other.pk,
    )
    assert _titles(article) == []


def test_it_is_one_query(django_assert_num_queries):
    category = make_category()
    article = make_article(category=category, tags=["a", "b"])
    article.related_articles.add(make_article())
    for _ in range(5):
        make_article(category=category, tags=["a"])
    article = Article.objects.prefetch_related("tags").get(pk=article.pk)
    with django_assert_num_queries(1):
        assert len(related_articles(article)) == 4


def test_an_old_article_sharing_two_tags_beats_many_newer_sharing_one():
    article = make_article(tags=["water", "lake"])
    for n in range(6):
        make_article(title=f"one tag {n}", tags=["water"], published_at=_ago(n + 1))
    make_article(title="two tags, old", tags=["water", "lake"], published_at=_ago(60))
    assert _titles(article) == ["two tags, old", "one tag 0", "one tag 1", "one tag 2"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_the_candidates_are_read_through_indexes():
    # No sqlite_stat1 in the test database, as in a production file nobody has
    # run ANALYZE on: SQLite plans on its built-in guesses.
    article = make_article(tags=["water", "lake"])
    make_article(tags=["water"])
    article = Article.objects.prefetch_related("tags").get(pk=article.pk)
    with CaptureQueriesContext(connection) as captured:
        related_articles(article)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + captured.captured_queries[0]["sql"])
        plan = [row[3] for row in cursor.fetchall()]
    assert plan[0].startswith("SEARCH articles_article USING INTEGER PRIMARY KEY"), plan
    assert any("taggit_taggeditem_tag_id" in step for step in plan), plan
    # Neither every tagged article nor every article.
    assert not any(step.endswith("(content_type_id=?)") for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan
