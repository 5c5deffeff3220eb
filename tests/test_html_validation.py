"""Every kind of public page passes the Nu HTML Checker (vnu.jar, the W3C's
validator) with no errors. The site it replaces had two a page.

`make validator` installs vnu.jar (npm's vnu-jar, pinned) and a Java runtime;
`make test` runs it. One checker run for all pages, so the JVM starts once.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.template.loader import get_template
from django.test import RequestFactory
from django.views.defaults import server_error

from articles.models import Correction
from comments.models import Comment
from newsletter.models import Issue
from tests.comments_helpers import post
from tests.factories import (
    make_article,
    make_author,
    make_comment,
    make_figure,
    make_issue,
    make_newsletter,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

VNU_JAR = (
    Path(__file__).resolve().parent.parent
    / ".venv/vnu/node_modules/vnu-jar/build/dist/vnu.jar"
)


def _checker():
    java = shutil.which("java")
    if VNU_JAR.exists() and java:
        return [java, "-Xss1024k", "-jar", str(VNU_JAR)]
    message = "the Nu HTML Checker is not installed: run `make validator`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _validate(pages: dict[str, bytes], folder: Path) -> list[str]:
    files = []
    for name, html in pages.items():
        path = folder / f"{name}.html"
        path.write_bytes(html)
        files.append(str(path))
    result = subprocess.run(
        [*_checker(), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stderr or '{"messages": []}')
    return [
        f"{Path(m['url']).stem}:{m.get('lastLine')}: {m['message']}"
        for m in report["messages"]
    ]


@pytest.fixture
def newsroom():
    author = make_author(name="Ani Petrosyan", slug="ani-petrosyan", bio="Farming.")
    article = make_article(
        title="Apricot growers count the cost of a late frost",
        slug="apricot-frost",
        standfirst="Orchards in the Ararat valley lost a third of their blossom.",
        dateline="YEREVAN",
        body=(
            "<p>Growers met on <strong>Monday</strong>.</p>"
            "<h2>What the ministry offers</h2><ul><li>Loans</li><li>Nets</li></ul>"
            "<blockquote><p>We lost the year.</p></blockquote>"
            "<table><tr><th>Year</th><th>Tonnes</th></tr>"
            "<tr><td>2025</td><td>120</td></tr></table>"
            '<p><a href="https://example.org/report">The report</a></p>'
        ),
        authors=[author, make_author(name="Mher Sargsyan", slug="mher")],
        tags=["Farming", "Climate", "Ararat valley"],
        image="articles/2026/11/frost.jpg",
        image_alt="Frost on apricot blossom",
        image_caption="An orchard near Armavir.",
        image_credit="Newsroom",
        image_width=1200,
        image_height=675,
        image_renditions={"480": "r/frost-480.webp", "1200": "r/frost-1200.webp"},
    )
    make_figure(
        article,
        alt="Nets over an orchard",
        caption="Nets saved some trees.",
        credit="Photo: Newsroom",
        after_paragraph=2,
    )
    for _ in range(3):
        make_article(category=article.category, tags=["Farming"], authors=[author])
    first = make_comment(article, text="Terrible news.\n\nSee https://example.org")
    make_comment(article, parent=first, text="Our orchard too.")
    make_comment(article, author_url="https://reader.example", text="Nets help.")
    Correction.objects.create(
        article=article,
        note="An earlier version put the loss at a half.\nIt is a third.",
    )
    Correction.objects.create(article=article, kind="update", note="Loans open today.")
    return article


def test_public_pages_have_no_html_errors(client, newsroom, tmp_path, settings):
    settings.COMMENTS_MIN_SECONDS = 0
    article = newsroom
    newsletter_issue = make_issue(
        make_newsletter(name="Morning Briefing", description="The day ahead."),
        subject="Frost & apricots",
        intro="<p>Good <em>morning</em>.</p>",
        articles=[article],
    )
    Issue.objects.filter(pk=newsletter_issue.pk).update(
        status=Issue.Status.SENT, started_at=article.published_at
    )
    when = article.published_at
    addresses = {
        "home": "/",
        "article": article.get_absolute_url(),
        "article-reply": f"{article.get_absolute_url()}?replytocom="
        f"{Comment.objects.filter(parent=None).first().pk}",
        "category": article.category.get_absolute_url(),
        "tag": "/tag/farming/",
        "author": "/author/ani-petrosyan/",
        "archive": "/archive/",
        "archive-year": f"/archive/{when:%Y}/",
        "archive-month": f"/archive/{when:%Y}/{when:%m}/",
        "search": "/search/?q=apricot",
        "search-nothing": "/search/?q=zzzz",
        "search-empty": "/search/",
        "newsletter": "/newsletter/",
        "newsletter-archive": newsletter_issue.newsletter.get_archive_url(),
        "newsletter-issue": newsletter_issue.get_web_url(),
        "not-found": "/no-such-page/",
        "corrections": "/corrections/",
    }
    pages = {}
    for name, address in addresses.items():
        response = client.get(address)
        assert response.status_code in {200, 404}, (name, response.status_code)
        pages[name] = response.content

    # Pages a reader sees after sending a form: with errors, and after posting.
    pages["comment-errors"] = post(client, article, name="", email="nope").content
    signup = client.post("/newsletter/subscribe/", {"email": "not an address"})
    assert signup.status_code == 400
    pages["signup-errors"] = signup.content
    posted = post(client, article, comment="A pending comment of my own.")
    pages["comment-pending"] = client.get(posted["Location"]).content
    pages["server-error"] = server_error(RequestFactory().get("/")).content
    pages["database-down"] = (
        get_template("503.html")
        .render({"site_name": "Newsroom", "form_not_saved": True, "retry_after": 30})
        .encode()
    )

    assert _validate(pages, tmp_path) == []
