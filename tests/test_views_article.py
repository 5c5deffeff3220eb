"""The article page: what it shows, who may see it, redirects, conditional GET,
and its query budget."""

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.http import http_date

from articles.models import Article, User
from tests.factories import make_article, make_author, make_category, make_staff

pytestmark = pytest.mark.django_db


def _json_ld(html):
    match = re.search(
        r'<script type="application/ld\+json"[^>]*>(.*?)</script>', html, re.S
    )
    return json.loads(match.group(1))


def test_it_shows_headline_standfirst_byline_dates_and_dateline(client):
    author = make_author(name="Ani Petrosyan", slug="ani-petrosyan")
    article = make_article(
        title="Apricot growers count the frost damage",
        standfirst="Orchards in the Ararat valley lost a third of their blossom.",
        dateline="YEREVAN",
        body="<p>Growers met on Monday.</p><p>More later.</p>",
        authors=[author],
    )
    html = client.get(article.get_absolute_url()).content.decode()
    assert "<h1" in html and html.count("<h1") == 1
    assert "Apricot growers count the frost damage</h1>" in html
    assert "Orchards in the Ararat valley" in html
    assert 'href="/author/ani-petrosyan/" rel="author">Ani Petrosyan</a>' in html
    # Whole seconds: HTML allows at most three digits of a fraction of a second.
    published = f"{article.published_at:%Y-%m-%dT%H:%M:%S%z}"
    assert f'<time datetime="{published}">' in html
    # The dateline opens the first paragraph, not a paragraph of its own.
    assert (
        '<p><span class="dateline">YEREVAN —</span> Growers met on Monday.</p>' in html
    )


def test_it_escapes_the_dateline(client):
    article = make_article(dateline="<b>GYUMRI</b>")
    html = client.get(article.get_absolute_url()).content.decode()
    assert "&lt;b&gt;GYUMRI&lt;/b&gt; —" in html


def test_it_shows_the_featured_image_with_caption_and_credit(client):
    article = make_article(
        image="articles/2026/11/lake.jpg",
        image_alt="Fishing boats on a grey lake",
        image_caption="Boats at Sevan harbour.",
        image_credit="Photo: Newsroom",
        image_width=1600,
        image_height=1000,
        image_renditions={
            "480": "articles/2026/11/r/lake-480.webp",
            "960": "articles/2026/11/r/lake-960.webp",
        },
    )
    html = client.get(article.get_absolute_url()).content.decode()
    figure = html[html.index('<figure class="story-figure">') :]
    figure = figure[: figure.index("</figure>")]
    assert (
        'srcset="/media/articles/2026/11/r/lake-480.webp 480w, '
        '/media/articles/2026/11/r/lake-960.webp 960w"' in figure
    )
    assert 'type="image/webp"' in figure
    assert 'alt="Fishing boats on a grey lake"' in figure
    assert 'width="1600" height="1000"' in figure
    # The lead image is above the fold: fetched at once, not lazily.
    assert 'loading="lazy"' not in figure
    assert "<figcaption>Boats at Sevan harbour." in figure
    assert '<span class="credit">Photo: Newsroom</span>' in figure


def test_it_links_category_tags_and_share_intents(client):
    category = make_category(name="Economy", slug="economy")
    article = make_article(category=category, tags=["Trade", "Farming"])
    html = client.get(article.get_absolute_url()).content.decode()
    assert 'href="/category/economy/"' in html
    assert 'href="/tag/trade/" rel="tag">Trade</a>' in html
    assert 'href="/tag/farming/" rel="tag">Farming</a>' in html
    url = "http%3A%2F%2F127.0.0.1%3A8000%2Farticles%2F" + article.slug
    for intent in (
        "mailto:?subject=",
        "https://twitter.com/intent/tweet?url=" + url,
        "https://www.facebook.com/sharer/sharer.php?u=" + url,
        "https://wa.me/?text=",
    ):
        assert intent in html
    assert "<script src" not in html


def test_it_links_the_previous_and_next_published_articles(client):
    now = timezone.now()
    older = make_article(title="Older story", published_at=now - timedelta(days=3))
    make_article(title="Draft between", status=Article.Status.DRAFT)
    article = make_article(published_at=now - timedelta(days=2))
    newer = make_article(title="Newer story", published_at=now - timedelta(days=1))
    make_article(title="Scheduled story", published_at=now + timedelta(days=1))
    html = client.get(article.get_absolute_url()).content.decode()
    assert f'rel="prev" href="{older.get_absolute_url()}"' in html
    assert f'rel="next" href="{newer.get_absolute_url()}"' in html
    assert "Draft between" not in html
    assert "Scheduled story" not in html


def test_it_shows_you_may_also_like(client):
    article = make_article(tags=["water"])
    other = make_article(title="Also about water", tags=["water"])
    html = client.get(article.get_absolute_url()).content.decode()
    related = html[html.index('id="related-heading"') :]
    assert "You May Also Like" in related
    assert f'href="{other.get_absolute_url()}">Also about water</a>' in related


def test_it_links_the_comment_count_to_the_comments(client):
    article = make_article()
    Article.objects.filter(pk=article.pk).update(comment_count=3)
    html = client.get(article.get_absolute_url()).content.decode()
    assert 'href="#comments">3 Comments</a>' in html
    assert html.count('id="comments"') == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"status": Article.Status.DRAFT},
        {"published_at": timezone.now() + timedelta(days=1)},
    ],
    ids=["draft", "scheduled"],
)
def test_readers_get_404_for_drafts_and_future_articles(client, fields):
    article = make_article(**fields)
    response = client.get(article.get_absolute_url())
    assert response.status_code == 404


def test_staff_without_view_permission_get_404_for_a_draft(client):
    user = User.objects.create_user(username="clerk", password="pw", is_staff=True)
    client.force_login(user)
    article = make_article(status=Article.Status.DRAFT)
    assert client.get(article.get_absolute_url()).status_code == 404


# Previews: who may see an article before readers do. The same people the admin
# lets open it (Article.can_be_previewed_by): its writer and the editors.

UNPUBLISHED = pytest.mark.parametrize(
    "fields",
    [
        {"status": Article.Status.DRAFT, "published_at": None},
        {"published_at": timezone.now() + timedelta(days=1)},
    ],
    ids=["draft", "scheduled"],
)


@UNPUBLISHED
def test_a_writer_previews_their_own_unpublished_article(client, fields):
    writer = make_staff("writer", "Writers")
    article = make_article(created_by=writer, **fields)
    client.force_login(writer)
    assert client.get(article.get_absolute_url()).status_code == 200


@UNPUBLISHED
def test_a_writer_previews_an_unpublished_article_under_their_byline(client, fields):
    writer = make_staff("writer", "Writers")
    article = make_article(authors=[make_author(user=writer)], **fields)
    client.force_login(writer)
    assert client.get(article.get_absolute_url()).status_code == 200


@UNPUBLISHED
def test_another_writer_gets_404_for_an_unpublished_article(client, fields):
    owner = make_staff("owner", "Writers")
    article = make_article(
        title="Secret merger story", created_by=owner, authors=[make_author()], **fields
    )
    client.force_login(make_staff("other", "Writers"))
    response = client.get(article.get_absolute_url())
    assert response.status_code == 404
    assert "Secret merger story" not in response.text


@UNPUBLISHED
def test_an_editor_previews_any_unpublished_article(client, fields):
    article = make_article(created_by=make_staff("writer", "Writers"), **fields)
    client.force_login(make_staff("editor", "Editors"))
    assert client.get(article.get_absolute_url()).status_code == 200


def test_another_writer_reads_a_published_article_like_everyone(client):
    article = make_article(created_by=make_staff("owner", "Writers"))
    client.force_login(make_staff("other", "Writers"))
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    assert "Preview" not in response.text


def test_an_editors_draft_preview_is_never_cached(client):
    client.force_login(make_staff("editor", "Editors"))
    article = make_article(title="Unfinished budget story", status=Article.Status.DRAFT)
    response = client.get(article.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "Preview — not published." in html
    assert "Unfinished budget story" in html
    assert 'content="noindex, nofollow"' in html
    assert "private" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]
    assert not response.has_header("ETag")


def test_the_preview_of_a_scheduled_article_says_when(client):
    client.force_login(make_staff("editor", "Editors"))
    when = timezone.now() + timedelta(days=2)
    article = make_article(published_at=when)
    html = client.get(article.get_absolute_url()).content.decode()
    assert "Scheduled for" in html


def test_published_articles_show_no_preview_banner_to_staff(client):
    client.force_login(make_staff("editor", "Editors"))
    article = make_article()
    assert "Preview" not in client.get(article.get_absolute_url()).content.decode()


def test_an_old_slug_of_an_unpublished_article_does_not_reveal_the_new_one(client):
    owner = make_staff("owner", "Writers")
    article = make_article(slug="budget-leak", created_by=owner)
    article.status = Article.Status.DRAFT
    article.slug = "budget-leak-minister-resigns"
    article.save()

    assert client.get("/articles/budget-leak/").status_code == 404
    client.force_login(make_staff("other", "Writers"))
    assert client.get("/articles/budget-leak/").status_code == 404
    client.force_login(owner)
    response = client.get("/articles/budget-leak/")
    assert response.status_code == 301
    assert response["Location"] == "/articles/budget-leak-minister-resigns/"


def test_an_old_slug_redirects_permanently_to_the_new_address(client):
    article = make_article(slug="lake-sevan-water-falls")
    article.slug = "lake-sevan-water-level-falls"
    article.save()
    response = client.get("/articles/lake-sevan-water-falls/")
    assert response.status_code == 301
    assert response["Location"] == "/articles/lake-sevan-water-level-falls/"


def test_an_unknown_slug_is_404(client):
    assert client.get("/articles/no-such-story/").status_code == 404


def test_it_sends_an_etag_but_no_last_modified(client):
    article = make_article()
    response = client.get(article.get_absolute_url())
    assert response.has_header("ETag")
    # No date moves with everything the page shows (related articles, comments).
    assert not response.has_header("Last-Modified")


def test_it_answers_304_to_a_matching_if_none_match(client):
    article = make_article()
    etag = client.get(article.get_absolute_url())["ETag"]
    response = client.get(article.get_absolute_url(), headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_if_modified_since_alone_never_gets_a_stale_304(client):
    article = make_article()
    client.get(article.get_absolute_url())
    Article.objects.filter(pk=article.pk).update(comment_count=1)
    response = client.get(
        article.get_absolute_url(),
        headers={"if-modified-since": http_date(article.updated_at.timestamp())},
    )
    assert response.status_code == 200
    assert "1 Comment" in response.text


def test_an_approved_comment_changes_the_etag(client):
    article = make_article()
    etag = client.get(article.get_absolute_url())["ETag"]
    Article.objects.filter(pk=article.pk).update(comment_count=1)
    response = client.get(article.get_absolute_url(), headers={"if-none-match": etag})
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_an_edit_changes_the_etag(client):
    article = make_article()
    etag = client.get(article.get_absolute_url())["ETag"]
    article.title = "Corrected headline"
    article.save()
    response = client.get(article.get_absolute_url(), headers={"if-none-match": etag})
    assert response.status_code == 200
    assert "Corrected headline" in response.content.decode()


def test_json_ld_describes_a_news_article(client):
    author = make_author(name="Aram Hakobyan", slug="aram")
    article = make_article(
        title="Metro extension opens",
        dateline="YEREVAN",
        authors=[author],
        image="articles/2026/11/metro.jpg",
        image_alt="A new metro platform",
        image_width=1200,
        image_height=800,
        image_renditions={"1200": "articles/2026/11/r/metro-1200.webp"},
    )
    data = _json_ld(client.get(article.get_absolute_url()).content.decode())
    url = "http://127.0.0.1:8000" + article.get_absolute_url()
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == "Metro extension opens"
    assert data["mainEntityOfPage"] == {"@type": "WebPage", "@id": url}
    assert data["datePublished"] == article.published_at.isoformat()
    # Never updated: its publication time.
    assert data["dateModified"] == article.published_at.isoformat()
    assert data["dateline"] == "YEREVAN"
    assert data["author"] == [
        {
            "@type": "Person",
            "name": "Aram Hakobyan",
            "url": "http://127.0.0.1:8000/author/aram/",
        }
    ]
    assert data["image"]["url"] == (
        "http://127.0.0.1:8000/media/articles/2026/11/r/metro-1200.webp"
    )
    assert data["publisher"]["@type"] == "Organization"
    assert data["publisher"]["logo"]["url"].endswith("/static/articles/logo.png")


def test_a_script_tag_in_the_headline_cannot_break_out_of_json_ld(client):
    title = '</script><script>alert("x")</script><!--'
    article = make_article(title=title, standfirst="a & b")
    html = client.get(article.get_absolute_url()).content.decode()
    assert '<script>alert("x")' not in html
    assert _json_ld(html)["headline"] == title


def test_the_article_page_stays_within_its_query_budget(
    client, django_assert_max_num_queries
):
    category = make_category()
    tags = [f"topic-{n}" for n in range(50)]
    authors = [make_author() for _ in range(3)]
    article = make_article(category=category, tags=tags, authors=authors)
    for n in range(6):
        make_article(category=category, tags=tags[n : n + 5], authors=authors[:1])
    client.get(article.get_absolute_url())  # warm the content-type cache
    with django_assert_max_num_queries(10):
        response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    assert response.content.decode().count('rel="tag"') == 50


def test_one_tag_or_fifty_cost_the_same_queries(client):
    few = make_article(tags=["one"])
    many = make_article(tags=[f"tag-{n}" for n in range(50)])
    client.get(few.get_absolute_url())
    with CaptureQueriesContext(connection) as with_one:
        client.get(few.get_absolute_url())
    with CaptureQueriesContext(connection) as with_fifty:
        client.get(many.get_absolute_url())
    assert len(with_one) == len(with_fifty)


def test_500_comments_and_50_tags_stay_within_the_budget(
    client, django_assert_max_num_queries
):
    from comments.models import Comment

    article = make_article(tags=[f"tag-{n}" for n in range(50)])
    Comment.objects.bulk_create(
        Comment(
            article=article,
            author_name=f"Reader {n}",
            author_email=f"reader{n}@example.org",
            text=f"Comment {n}",
            html=f"<p>Comment {n}</p>",
            status=Comment.Status.APPROVED,
        )
        for n in range(450)
    )
    threads = list(Comment.objects.filter(article=article)[:50])
    Comment.objects.bulk_create(
        Comment(
            article=article,
            parent=parent,
            thread=parent,
            depth=2,
            author_name="Replier",
            author_email="replier@example.org",
            text="A reply",
            html="<p>A reply</p>",
            status=Comment.Status.APPROVED,
        )
        for parent in threads
    )
    Article.objects.filter(pk=article.pk).update(comment_count=500)
    client.get(article.get_absolute_url())
    with django_assert_max_num_queries(10):
        response = client.get(article.get_absolute_url())
    html = response.content.decode()
    assert 'href="#comments">500 Comments</a>' in html
    assert "A reply" in html
