"""manage.py seed_demo: a believable newsroom, loaded the same way every time."""

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from articles.models import Article, Author, Category, User
from tests.factories import ensure_roles

pytestmark = pytest.mark.django_db


def seed(*args):
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot():
    articles = {
        a.slug: (
            a.title,
            a.body,
            a.excerpt,
            a.status,
            a.published_at,
            a.updated_at,
            a.image.name,
            tuple(sorted(a.image_renditions.items())),
            tuple(sorted(a.authors.values_list("slug", flat=True))),
            tuple(sorted(a.tags.names())),
        )
        for a in Article.objects.prefetch_related("authors", "tags")
    }
    return (
        articles,
        list(Category.objects.values_list("slug", "name", "position")),
        list(Author.objects.values_list("slug", "name", "bio", "user_id")),
        list(User.objects.values_list("username", "password")),
    )


# Encodes an image and its renditions for every demo article.
@pytest.mark.slow
def test_it_loads_a_whole_demo_newsroom_and_a_second_run_changes_nothing():
    ensure_roles()

    seed("--with-accounts")

    assert 5 <= Category.objects.count() <= 6
    assert 5 <= Author.objects.count() <= 6
    assert Article.objects.published().count() >= 30
    assert Article.objects.scheduled().count() == 3
    assert Article.objects.drafts().count() == 2
    assert Article.objects.in_review().count() == 1
    assert Article.objects.filter(is_featured=True).count() == 1
    published = list(Article.objects.published())
    assert all(article.dateline and article.authors.exists() for article in published)
    assert all(article.tags.exists() for article in published)
    oldest = min(article.published_at for article in published)
    newest = max(article.published_at for article in published)
    assert (newest - oldest).days >= 90
    for article in published:
        assert article.image_alt and article.image_credit
        assert set(article.image_renditions) == {"480", "800", "1200"}
        assert default_storage.exists(article.image_renditions["480"])
        assert "<p>" in article.body and article.excerpt

    before = snapshot()
    output = seed("--with-accounts")

    assert snapshot() == before
    assert "0 created, 0 updated" in output


def test_demo_accounts_are_made_only_when_asked(settings):
    ensure_roles()
    settings.DEBUG = False

    seed("--no-images")
    assert not User.objects.exists()

    output = seed("--with-accounts", "--no-images")

    editor = User.objects.get(username="editor")
    writer = User.objects.get(username="writer")
    assert editor.has_perm("articles.publish_article")
    assert writer.has_perm("articles.add_article")
    assert not writer.has_perm("articles.publish_article")
    assert writer.author.slug == "tigran-melikian"
    assert "password" in output


def test_a_quiet_run_prints_nothing(settings):
    settings.DEBUG = False
    Category.objects.create(name="Politics", slug="politics")

    out = StringIO()
    call_command("seed_demo", "--no-images", verbosity=0, stdout=out)

    assert out.getvalue() == ""
