"""The home page: lead story, latest, a row per category, "More" pages."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articles.models import Article
from tests.factories import make_article, make_author, make_category

pytestmark = pytest.mark.django_db


def _ago(hours):
    return timezone.now() - timedelta(hours=hours)


def test_the_featured_article_leads_the_page(client):
    make_article(title="Newest story", published_at=_ago(1))
    make_article(title="Editors pick", is_featured=True, published_at=_ago(5))
    html = client.get("/").content.decode()
    lead = html[
        html.index('aria-label="Lead story"') : html.index('id="latest-heading"')
    ]
    assert "Editors pick" in lead
    assert "Newest story" not in lead


def test_without_a_featured_article_the_newest_leads(client):
    make_article(title="Older story", published_at=_ago(5))
    make_article(title="Newest story", published_at=_ago(1))
    html = client.get("/").content.decode()
    lead = html[
        html.index('aria-label="Lead story"') : html.index('id="latest-heading"')
    ]
    assert "Newest story" in lead


def test_it_shows_a_row_per_category_in_menu_order(client):
    sport = make_category(name="Sport", slug="sport", position=2)
    culture = make_category(name="Culture", slug="culture", position=1)
    make_article(title="Lead", published_at=_ago(1))
    make_article(title="Derby ends level", category=sport, published_at=_ago(2))
    make_article(title="Opera season opens", category=culture, published_at=_ago(3))
    html = client.get("/").content.decode()
    assert html.index('id="row-culture"') < html.index('id="row-sport"')
    sport_row = html[html.index('id="row-sport"') :]
    assert "Derby ends level" in sport_row


def test_it_never_shows_drafts_or_scheduled_articles(client):
    make_article(title="Visible story")
    make_article(title="Secret draft", status=Article.Status.DRAFT)
    make_article(
        title="Tomorrow story", published_at=timezone.now() + timedelta(days=1)
    )
    html = client.get("/").content.decode()
    assert "Visible story" in html
    assert "Secret draft" not in html
    assert "Tomorrow story" not in html


def test_more_pages_continue_the_latest_list(client):
    for n in range(12):
        make_article(title=f"Story number {n:02d}", published_at=_ago(n + 1))
    first = client.get("/").content.decode()
    assert 'rel="next" href="?page=2"' in first
    second = client.get("/?page=2").content.decode()
    # Lead (00) and eight latest (01-08) on page one; page two goes on from 09.
    assert "Story number 09" in second
    assert "Story number 08" not in second
    assert 'aria-label="Lead story"' not in second


def test_a_page_past_the_end_is_404(client):
    make_article()
    assert client.get("/?page=9").status_code == 404
    assert client.get("/?page=abc").status_code == 404


def test_an_empty_site_says_so(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No stories yet" in response.content.decode()


def test_cards_show_comment_counts_linking_to_the_comments(client):
    article = make_article()
    Article.objects.filter(pk=article.pk).update(comment_count=1)
    html = client.get("/").content.decode()
    assert f'href="{article.get_absolute_url()}#comments">1 Comment</a>' in html


def test_the_home_page_stays_within_its_query_budget(
    client, django_assert_max_num_queries
):
    authors = [make_author() for _ in range(3)]
    for _ in range(8):
        category = make_category()
        for n in range(6):
            make_article(category=category, authors=authors, tags=[f"t{n}"])
    client.get("/")
    with django_assert_max_num_queries(12):
        response = client.get("/")
    assert response.content.decode().count('class="category-row"') == 8


def test_thumbnails_ask_for_small_renditions_and_load_lazily(client):
    image = {
        "image": "articles/x.jpg",
        "image_alt": "x",
        "image_width": 1200,
        "image_height": 800,
        "image_renditions": {"480": "r/x-480.webp", "1200": "r/x-1200.webp"},
    }
    make_article(title="Lead", published_at=_ago(1), **image)
    make_article(title="Second", published_at=_ago(2), **image)
    html = client.get("/").content.decode()
    lead = html[
        html.index('aria-label="Lead story"') : html.index('id="latest-heading"')
    ]
    latest = html[
        html.index('id="latest-heading"') : html.index(
            "</section>", html.index('id="latest-heading"')
        )
    ]
    assert 'fetchpriority="high"' in lead and 'loading="lazy"' not in lead
    assert 'sizes="6rem"' in latest and 'loading="lazy"' in latest
    assert 'alt=""' in latest  # the headline beside it says what it is


def test_each_row_shows_the_newest_four_of_its_section_without_the_lead(client):
    culture = make_category(name="Culture", slug="culture")
    make_article(title="Lead", category=culture, published_at=_ago(1))
    for n in range(6):
        make_article(title=f"Culture {n}", category=culture, published_at=_ago(n + 2))
    html = client.get("/").content.decode()
    row = html[html.index('id="row-culture"') :]
    titles = [f"Culture {n}" for n in range(6)]
    assert [title for title in titles if title in row] == titles[:4]
    assert row.index("Culture 0") < row.index("Culture 3")
    assert ">Lead<" not in row


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_the_lead_and_the_rows_are_found_through_indexes(client):
    # No sqlite_stat1 in the test database, as in a production file nobody has
    # run ANALYZE on: SQLite plans on its built-in guesses.
    for n in range(3):
        category = make_category()
        make_article(category=category, is_featured=n == 0)
        make_article(category=category)
    with CaptureQueriesContext(connection) as captured:
        client.get("/")
    plans = {}
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plans[query["sql"]] = " / ".join(row[3] for row in cursor.fetchall())
    (lead,) = [plan for sql, plan in plans.items() if '"is_featured" =' in sql]
    # In index order, the look-up stops at the first featured article.
    assert "article_published_idx" in lead and "TEMP B-TREE" not in lead, lead
    (rows,) = [plan for sql, plan in plans.items() if "ROW_NUMBER()" in sql]
    # The rows read by primary key, ranked from a range of the date index.
    assert rows.startswith("SEARCH articles_article USING INTEGER PRIMARY KEY")
    assert "article_published_idx (status=? AND published_at>?" in rows, rows
    assert "SCAN articles_article" not in rows, rows
