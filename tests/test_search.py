"""Search: the page, the ranking, and queries readers really type."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from articles.models import Article
from articles.search import normalise_query, search_articles
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def _ago(days):
    return timezone.now() - timedelta(days=days)


def test_it_finds_words_in_title_standfirst_and_body():
    make_article(title="Harvest festival", body="<p>Apricots everywhere.</p>")
    make_article(title="Budget", standfirst="Harvest subsidies debated.")
    make_article(title="Weather", body="<p>A harvest of rain.</p>")
    make_article(title="Unrelated", body="<p>Nothing here.</p>")
    titles = {article.title for article in search_articles("harvest")}
    assert titles == {"Harvest festival", "Budget", "Weather"}


def test_title_matches_rank_first():
    make_article(
        title="Rain again", body="<p>Flooding in the north.</p>", published_at=_ago(1)
    )
    make_article(title="Flooding closes roads", published_at=_ago(9))
    results = list(search_articles("flooding"))
    assert results[0].title == "Flooding closes roads"


def test_every_word_must_match():
    make_article(title="Lake Sevan water level")
    make_article(title="Lake Van ferry")
    titles = [article.title for article in search_articles("lake water")]
    assert titles == ["Lake Sevan water level"]


def test_it_never_finds_drafts_or_scheduled_articles():
    make_article(title="Secret harvest", status=Article.Status.DRAFT)
    make_article(title="Future harvest", published_at=_ago(-1))
    assert list(search_articles("harvest")) == []


def test_an_empty_query_finds_nothing():
    make_article(title="Anything")
    assert list(search_articles("")) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  lake\n\tsevan  ", "lake sevan"),
        ("nul\x00byte", "nul byte"),
        ("cafe\u0301", "caf\u00e9"),
        ("zero\u200bwidth", "zero width"),
        ("x" * 1000, "x" * 200),
        (None, ""),
    ],
)
def test_queries_are_normalised(raw, expected):
    assert normalise_query(raw) == expected


def test_the_page_keeps_the_query_in_the_box(client):
    make_article(title="Lake Sevan water level")
    html = client.get("/search/", {"q": "  Sevan  "}).content.decode()
    assert 'value="Sevan"' in html
    assert "1 result for <mark>Sevan</mark>" in html
    assert "Lake Sevan water level" in html
    assert 'content="noindex, follow"' in html


def test_the_page_with_no_query_explains_what_to_do(client):
    response = client.get("/search/")
    assert response.status_code == 200
    assert "Type a word or two above" in response.content.decode()


def test_no_results_suggest_a_way_on(client):
    html = client.get("/search/", {"q": "zzyzx"}).content.decode()
    assert "No articles match “zzyzx”" in html
    assert 'href="/archive/"' in html


def test_the_query_is_escaped(client):
    html = client.get("/search/", {"q": '"><script>alert(1)</script>'}).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    "query",
    [
        "x" * 1000,
        "Երևան լիճ",
        "🙂🙃 emoji",
        "nul\x00byte",
        "\u202eright-to-left",
        "' OR 1=1 --",
        "a & b | !c <-> d:*",
        "%_\\",
        "   ",
    ],
    ids=[
        "1000-chars",
        "armenian",
        "emoji",
        "nul",
        "rtl",
        "sql",
        "tsquery",
        "like",
        "blank",
    ],
)
def test_odd_queries_answer_200(client, query):
    make_article(title="Երևան լիճ ջուր", body="<p>Plain text.</p>")
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200


def test_unicode_queries_find_unicode_titles(client):
    make_article(title="Երևան լիճ ջուր")
    html = client.get("/search/", {"q": "Երևան"}).content.decode()
    assert "1 result" in html


def test_results_paginate_and_keep_the_query(client):
    for n in range(14):
        make_article(title=f"Harvest report {n}")
    first = client.get("/search/", {"q": "harvest"}).content.decode()
    assert "14 results" in first
    assert 'href="?q=harvest&amp;page=2"' in first
    second = client.get("/search/", {"q": "harvest", "page": 2})
    assert second.status_code == 200
    assert client.get("/search/", {"q": "harvest", "page": 3}).status_code == 404


def test_search_results_cost_the_same_queries_whatever_their_number(
    client, django_assert_max_num_queries
):
    for n in range(12):
        make_article(title=f"Harvest report {n}")
    with django_assert_max_num_queries(5):
        client.get("/search/", {"q": "harvest"})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_postgres_ranks_by_relevance_and_stems_words():
    make_article(title="Budget", body="<p>The minister was harvesting votes.</p>")
    make_article(title="Harvests", standfirst="Harvest harvest harvest.")
    results = [article.title for article in search_articles("harvest")]
    assert results == ["Harvests", "Budget"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_postgres_search_can_use_the_gin_index():
    from django.contrib.postgres.search import SearchQuery

    from articles.search import search_vector

    query = Article.objects.alias(document=search_vector()).filter(
        document=SearchQuery("harvest", search_type="websearch", config="english")
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = query.explain()
    assert "article_search_idx" in plan


@pytest.mark.django_db
@settings(
    # The same examples every run, and no example database in the working tree.
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=1200))
def test_any_text_typed_in_the_box_gives_a_search_page(raw):
    query = normalise_query(raw)
    assert len(query) <= 200
    assert "\x00" not in query and query == query.strip()
    response = Client().get("/search/", {"q": raw})
    assert response.status_code == 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")
def test_postgres_ranks_only_the_newest_matches(monkeypatch):
    import articles.search

    monkeypatch.setattr(articles.search, "RANK_WINDOW", 2)
    make_article(title="Harvest harvest harvest", published_at=_ago(30))
    make_article(title="Harvest one", published_at=_ago(2))
    make_article(title="Harvest two", published_at=_ago(1))
    titles = {article.title for article in search_articles("harvest")}
    assert titles == {"Harvest one", "Harvest two"}
