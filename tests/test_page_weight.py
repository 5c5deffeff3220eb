"""Page weight: an article page with 50 comments, HTML plus the CSS and JavaScript
it links from this site (images excluded), stays under 100 KB."""

import random
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.utils import timezone

from tests.factories import (
    make_article,
    make_author,
    make_category,
    make_comment,
)

pytestmark = pytest.mark.django_db

# As bench/run.py counts it (ARTICLE_WEIGHT_BYTES).
BUDGET = 100 * 1024
PROSE = (
    "the council said on Tuesday after weeks of debate that the ferry timetable "
    "would change in spring while residents argued the figures did not add up and "
    "supporters pointed to long queues at the harbour where people waited for "
    "answers about costs delays and the next steps of a plan many described as "
    "slow but necessary according to documents seen by this newspaper"
)
WORDS = PROSE.split()


def _sentence(rng):
    return " ".join(rng.choices(WORDS, k=rng.randint(12, 24))).capitalize() + "."


def _paragraph(rng):
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 5)))


@pytest.fixture
def article_with_50_comments():
    """A full story page: two authors, tags, a dateline, six paragraphs, a
    neighbour on each side, four related articles, the newsletter box (with
    the newsletters the migrations create) and 50
    comments of one to three paragraphs, some of them replies, some with a
    website, one from the newsroom."""
    rng = random.Random(50)
    category = make_category(name="Politics", slug="politics")
    tags = ["ferry", "council budget", "harbour"]
    now = timezone.now()
    for n in range(6):
        make_article(
            title=f"Harbour council {_sentence(rng)[:60]}",
            standfirst=_sentence(rng),
            excerpt=_paragraph(rng)[:300],
            category=category,
            tags=tags[: n % 3 + 1],
            published_at=now - timedelta(hours=2 + n),
        )
    article = make_article(
        title="Harbour council approves the ferry timetable after a year of debate",
        standfirst=_sentence(rng),
        dateline="RIVERSIDE",
        body="\n".join(f"<p>{_paragraph(rng)}</p>" for _ in range(6)),
        category=category,
        tags=tags,
        authors=[make_author(name="Ana Costa"), make_author(name="Ben Okafor")],
        published_at=now - timedelta(hours=4, minutes=30),
    )
    comments = []
    for n in range(50):
        text = "\n\n".join(_paragraph(rng) for _ in range(rng.randint(1, 3)))
        fields = {"author_name": f"Reader {rng.randint(100, 9999)}", "text": text}
        if n % 7 == 3:
            fields["author_url"] = f"https://reader{n}.example.net/"
        if n == 20:
            fields.update(author_name="The Newsroom", by_newsroom=True)
        # One in five answers an earlier comment.
        parent = rng.choice(comments) if comments and n % 5 == 4 else None
        if parent is not None and parent.depth >= settings.COMMENTS_THREAD_DEPTH:
            parent = None
        comments.append(make_comment(article, parent=parent, **fields))
    return article, comments


def _linked_css_and_js(html):
    """Sizes of the stylesheets and scripts the page links from STATIC_URL."""
    pattern = r'<(?:link[^>]+rel="?stylesheet"?[^>]*href|script[^>]+src)="([^"]+)"'
    sizes = {}
    for url in set(re.findall(pattern, html)):
        path = url.split("?")[0].removeprefix(settings.STATIC_URL)
        found = finders.find(path)
        assert found, f"{url} is not a static file of this site"
        with open(found, "rb") as file:
            sizes[url] = len(file.read())
    return sizes


def test_an_article_with_50_comments_weighs_under_100_kb(
    client, article_with_50_comments
):
    article, comments = article_with_50_comments
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    # Nothing left out to make the weight: every comment, whole, on the page.
    assert all(comment.html in html for comment in comments)
    assert html.count('<ol class="children">') >= 1
    assert "You May Also Like" in html and "Leave a Reply" in html
    assets = _linked_css_and_js(html)
    assert any(url.endswith(".css") for url in assets)
    weight = len(response.content) + sum(assets.values())
    print(weight, len(response.content))
    assert weight < BUDGET, (
        f"{weight:,} bytes: HTML {len(response.content):,}, "
        + ", ".join(f"{url} {size:,}" for url, size in assets.items())
    )
