"""The comment section under an article: threads, pages, replies, budget, privacy."""

import hashlib
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from comments import services
from comments.models import Comment
from comments.services import recount_comments
from tests.comments_helpers import make_trusted, post, signed_cookie
from tests.factories import make_article, make_comment

pytestmark = pytest.mark.django_db


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<a href=\"javascript:alert(1)\">click</a> javascript:alert('x')",
    "<svg onload=alert(1)>",
    "<b>unclosed <i>tags <div",
    '"><script>document.cookie</script>',
    "<iframe src=https://evil.example></iframe>",
    "<a href='https://ok.example' onclick='steal()'>x</a>",
]


def render_section(article, path=None, cookies=None):
    request = RequestFactory().get(path or article.get_absolute_url())
    request.COOKIES.update(cookies or {})
    template = Template("{% load comment_tags %}{% comment_section article %}")
    return template.render(Context({"article": article, "request": request}))


def comment_ids(html):
    return [int(pk) for pk in re.findall(r'id="comment-(\d+)"', html)]


def bulk_comments(article, count, **fields):
    Comment.objects.bulk_create(
        Comment(
            article=article,
            author_name=f"Reader {i}",
            author_email=f"reader{i}@example.org",
            text=f"Comment {i}",
            html=f"<p>Comment {i}</p>",
            status=Comment.Status.APPROVED,
            **fields,
        )
        for i in range(count)
    )
    recount_comments(article_ids=[article.pk])
    article.refresh_from_db()


def test_an_article_without_comments_costs_no_query_and_offers_the_form(
    django_assert_num_queries,
):
    article = make_article()
    with django_assert_num_queries(0):
        html = render_section(article)
    assert 'id="comments"' in html
    assert "Leave a Reply" in html
    assert "Your email address will not be published." in html
    assert "Required fields are marked *" in html
    for label in ["Name *", "Email *", "Website", "Comment *"]:
        assert f">{label}</label>" in html
    assert (
        "Save my name, email, and website in this browser for the next time I "
        "comment." in html
    )
    assert "Notify me of follow-up comments by email" in html
    # Both boxes start unticked: no cookie unless the reader asks for one.
    assert 'name="remember" type="checkbox" value="yes">' in html
    assert 'name="notify" type="checkbox" value="yes">' in html


def test_500_approved_comments_render_within_two_queries(
    django_assert_max_num_queries, settings
):
    settings.COMMENTS_PER_PAGE = 1000
    article = make_article()
    bulk_comments(article, 250)
    roots = list(Comment.objects.filter(article=article))
    Comment.objects.bulk_create(
        Comment(
            article=article,
            parent=root,
            thread=root,
            depth=2,
            author_name="Replier",
            author_email="replier@example.org",
            text="A reply",
            html="<p>A reply</p>",
            status=Comment.Status.APPROVED,
        )
        for root in roots
    )
    recount_comments(article_ids=[article.pk])
    article.refresh_from_db()
    assert article.comment_count == 500

    with django_assert_max_num_queries(2):
        html = render_section(article)
    assert len(comment_ids(html)) == 500
    assert "500 Comments" in html


def test_the_article_page_with_500_comments_stays_in_its_query_budget(
    client, django_assert_max_num_queries
):
    article = make_article()
    bulk_comments(article, 500)
    # The first reader of a generation also looks up what every page shares (the
    # sign-up box's newsletters, the next scheduled publication); the budget is
    # what each reader after that costs.
    client.get(article.get_absolute_url())
    with django_assert_max_num_queries(10):
        response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    assert 'id="comments"' in response.text


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_the_section_query_uses_the_article_index_without_statistics(
    django_assert_max_num_queries,
):
    # The test database, like a production file nobody has run ANALYZE on, has
    # no sqlite_stat1: SQLite plans on its built-in guesses.
    article = make_article()
    bulk_comments(article, 60)
    with django_assert_max_num_queries(2) as captured:
        render_section(article)
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
            plans.append(" ".join(row[3] for row in cursor.fetchall()))
    assert len(plans) == 2
    for plan in plans:
        assert "comment_section_idx (article_id=? AND status=?" in plan, plan
        assert "comment_status_idx" not in plan, plan


def test_replies_nest_under_their_parent_in_order(settings):
    article = make_article()
    first = make_comment(article, text="First")
    second = make_comment(article, text="Second")
    reply = make_comment(article, parent=first, text="Reply to first")
    deeper = make_comment(article, parent=reply, text="Deeper")

    html = render_section(article)
    assert comment_ids(html) == [first.pk, reply.pk, deeper.pk, second.pk]
    first_item = html.split(f'id="comment-{second.pk}"')[0]
    assert first_item.count('<ol class="children">') == 2
    assert "4 Comments" in html


def test_only_approved_comments_are_shown():
    article = make_article()
    shown = make_comment(article)
    for status in [Comment.Status.PENDING, Comment.Status.SPAM, Comment.Status.TRASH]:
        make_comment(article, status=status, text=f"Unseen {status}")
    html = render_section(article)
    assert comment_ids(html) == [shown.pk]
    assert "Unseen" not in html


def test_replies_to_a_hidden_comment_are_not_shown():
    article = make_article()
    root = make_comment(article)
    reply = make_comment(article, parent=root)
    root.status = Comment.Status.TRASH
    root.save()
    recount_comments(article_ids=[article.pk])
    article.refresh_from_db()
    assert reply.pk not in comment_ids(render_section(article))


def test_a_reply_whose_parent_was_hidden_stays_in_its_thread():
    article = make_article()
    root = make_comment(article)
    middle = make_comment(article, parent=root)
    orphan = make_comment(article, parent=middle)
    services.moderate(comments=[middle], status=Comment.Status.SPAM)
    article.refresh_from_db()
    assert comment_ids(render_section(article)) == [root.pk, orphan.pk]


def test_no_reply_link_at_the_deepest_level(settings):
    settings.COMMENTS_THREAD_DEPTH = 2
    article = make_article()
    root = make_comment(article)
    child = make_comment(article, parent=root)
    html = render_section(article)
    assert f"replytocom={root.pk}#respond" in html
    assert f"replytocom={child.pk}#respond" not in html


def test_a_reply_link_opens_the_form_for_that_comment_without_javascript():
    article = make_article()
    root = make_comment(article, author_name="Gevorg")
    html = render_section(article, f"{article.get_absolute_url()}?replytocom={root.pk}")
    assert "Reply to Gevorg" in html
    assert f'name="parent" value="{root.pk}"' in html
    assert "Cancel reply" in html
    assert "<script" not in html


def test_comments_paginate_by_threads_with_cpage_links(settings):
    settings.COMMENTS_PER_PAGE = 2
    article = make_article()
    roots = [make_comment(article, text=f"Root {i}") for i in range(5)]
    reply = make_comment(article, parent=roots[2])

    first = render_section(article)
    assert comment_ids(first) == [roots[0].pk, roots[1].pk]
    assert "?cpage=2#comments" in first and "?cpage=3#comments" in first

    second = render_section(article, f"{article.get_absolute_url()}?cpage=2")
    assert comment_ids(second) == [roots[2].pk, reply.pk, roots[3].pk]
    assert 'aria-current="page">Page 2' in second

    last = render_section(article, f"{article.get_absolute_url()}?cpage=99")
    assert comment_ids(last) == [roots[4].pk]


def test_a_bad_page_number_shows_the_first_page(settings):
    settings.COMMENTS_PER_PAGE = 1
    article = make_article()
    first = make_comment(article)
    make_comment(article)
    html = render_section(article, f"{article.get_absolute_url()}?cpage=abc")
    assert comment_ids(html) == [first.pk]


def test_the_commenters_website_link_is_nofollow_ugc():
    article = make_article()
    make_comment(article, author_name="Lilit", author_url="https://lilit.example/")
    html = render_section(article)
    assert (
        '<a href="https://lilit.example/" rel="nofollow ugc noopener">Lilit</a>' in html
    )


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_comment_bodies_render_inert(client, payload):
    article = make_article()
    make_trusted(client, name=payload[:90])
    response = post(client, article, comment=payload, name=payload[:90])
    assert response.status_code == 303
    comment = Comment.objects.latest("id")
    assert comment.status == Comment.Status.APPROVED

    page = client.get(article.get_absolute_url()).text
    section = page[page.index('id="comments"') :]
    assert "<script" not in section
    assert "<svg" not in section
    assert "<iframe" not in section
    assert "<img" not in section
    assert not re.search(r"<[^>]+\son\w+\s*=", section)
    assert not re.search(r"<a\s[^>]*href\s*=\s*[\"']?\s*javascript:", section, re.I)


def test_no_email_or_its_hashes_anywhere_readers_look(client):
    email = "private.person@example.org"
    article = make_article()
    make_comment(article, author_email=email, text="Public words")
    post(client, article, email=email, comment="Another one")
    needles = [
        email,
        hashlib.md5(email.encode()).hexdigest(),
        hashlib.sha256(email.encode()).hexdigest(),
    ]
    client.cookies.clear()
    pages = [
        client.get(article.get_absolute_url()).text,
        client.get(f"/comments/feed/{article.slug}/").content.decode(),
        client.get("/").text,
    ]
    for page in pages:
        for needle in needles:
            assert needle not in page


def test_the_pending_cookie_shows_only_that_readers_own_pending_comment():
    from comments.section import PENDING_SALT

    article = make_article()
    mine = make_comment(article, status=Comment.Status.PENDING, text="Mine")
    make_comment(article, status=Comment.Status.PENDING, text="Someone else's")
    cookie = {
        "comments_pending": signed_cookie(
            "comments_pending", str(mine.pk), salt=PENDING_SALT
        )
    }

    html = render_section(article, cookies=cookie)
    assert comment_ids(html) == [mine.pk]
    assert "Your comment is awaiting moderation" in html
    assert "Someone else" not in html

    forged = {"comments_pending": f"{mine.pk}:forged"}
    assert comment_ids(render_section(article, cookies=forged)) == []


def test_comments_closed_shows_existing_comments_and_no_form():
    article = make_article(comments_enabled=False)
    kept = make_comment(article)
    html = render_section(article)
    assert comment_ids(html) == [kept.pk]
    assert "Comments are closed." in html
    assert "<form" not in html
    assert "replytocom" not in html


def test_the_count_label_reads_from_the_stored_count(django_assert_num_queries):
    article = make_article()
    make_comment(article)
    template = Template("{% load comment_tags %}{% comment_count_label article %}")
    with django_assert_num_queries(0):
        assert template.render(Context({"article": article})) == "1 Comment"


ALLOWED_TAGS = {
    "section", "h2", "h3", "ol", "li", "article", "footer", "b", "span", "a",
    "time", "p", "em", "div", "br", "form", "input", "label", "textarea", "button",
    "nav", "ul",
}  # fmt: skip


class _TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@settings_hypothesis(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("<>\"'=/&;:() \n\tjavascriptonerrohf.wx1")),
        min_size=1,
        max_size=120,
    ).filter(str.strip),
    # Saved directly, past the form; any name the model accepts (one line of
    # visible text: no control, format or unassigned characters, no line breaks).
    name=st.text(
        alphabet=st.characters(exclude_categories=["Cc", "Cf", "Cs", "Cn", "Zl", "Zp"]),
        min_size=1,
        max_size=40,
    ).filter(str.strip),
)
def test_whatever_a_commenter_types_renders_as_inert_markup(text, name):
    article = make_article()
    make_comment(article, text=text, author_name=name)
    parser = _TagCollector()
    parser.feed(render_section(article))
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS
        assert not [key for key in attrs if key.startswith("on")]
        href = (attrs.get("href") or "").strip().lower()
        assert not href.startswith(("javascript:", "data:", "vbscript:"))
