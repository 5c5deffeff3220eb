from io import StringIO

import pytest
from django.core.management import call_command

from articles.models import Article
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def _store_raw_body(article, body):
    # As if saved under an older, looser allow-list: bypass save() on purpose.
    Article.objects.filter(pk=article.pk).update(body=body)


def _run(*args):
    out = StringIO()
    call_command("resanitize", *args, stdout=out)
    return out.getvalue()


def test_it_cleans_stored_bodies_and_reports_how_many_changed():
    dirty = make_article()
    _store_raw_body(dirty, '<p style="color:red">Old <iframe src="x"></iframe></p>')
    clean = make_article(body="<p>Already clean.</p>")

    output = _run()

    dirty.refresh_from_db()
    assert dirty.body == "<p>Old </p>"
    assert Article.objects.get(pk=clean.pk).body == "<p>Already clean.</p>"
    assert "Checked 2 articles" in output
    assert "1 changed" in output


def test_it_removes_images_and_figures_stored_in_bodies():
    article = make_article()
    _store_raw_body(
        article,
        '<p>Text.</p><figure><img src="/media/a.jpg" alt="A">'
        "<figcaption>Caption.</figcaption></figure>",
    )

    _run()

    article.refresh_from_db()
    assert article.body.split() == ["<p>Text.</p>", "Caption."]


def test_dry_run_counts_but_writes_nothing():
    article = make_article()
    _store_raw_body(article, "<p onclick='x()'>Hi</p>")

    output = _run("--dry-run")

    article.refresh_from_db()
    assert article.body == "<p onclick='x()'>Hi</p>"
    assert "1 would change" in output


def test_it_works_across_several_batches():
    articles = [make_article() for _ in range(5)]
    for article in articles:
        _store_raw_body(article, "<p>x<script>y()</script></p>")

    _run("--batch-size", "2")

    assert set(Article.objects.values_list("body", flat=True)) == {"<p>x</p>"}


def test_quiet_run_prints_nothing():
    make_article()
    out = StringIO()

    call_command("resanitize", verbosity=0, stdout=out)

    assert out.getvalue() == ""
