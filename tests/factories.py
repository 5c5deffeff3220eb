"""Small factory helpers for tests. Each returns a saved object."""

import contextlib
import itertools
from datetime import timedelta

from django.utils import timezone

from articles.models import Article, Author, Category

_sequence = itertools.count(1)


def make_category(**fields):
    n = next(_sequence)
    fields.setdefault("name", f"Category {n}")
    fields.setdefault("slug", f"category-{n}")
    return Category.objects.create(**fields)


def make_author(**fields):
    n = next(_sequence)
    fields.setdefault("name", f"Author {n}")
    fields.setdefault("slug", f"author-{n}")
    return Author.objects.create(**fields)


def make_article(*, tags=(), authors=(), **fields):
    """A published article, published an hour ago unless told otherwise."""
    n = next(_sequence)
    fields.setdefault("title", f"Article {n}")
    fields.setdefault("slug", f"article-{n}")
    fields.setdefault("body", f"<p>Body of article {n}.</p>")
    fields.setdefault("status", Article.Status.PUBLISHED)
    fields.setdefault("published_at", timezone.now() - timedelta(hours=1))
    if "category" not in fields:
        fields["category"] = make_category()
    article = Article.objects.create(**fields)
    if tags:
        article.tags.add(*tags)
    if authors:
        article.set_authors(authors)
    return article


def make_comment(article, *, parent=None, **fields):
    """A comment saved directly (no moderation rules), approved unless told
    otherwise. Keeps article.comment_count right for approved ones."""
    from comments.models import Comment
    from comments.services import recount_comments
    from safetext.sanitizer import render_comment_text

    n = next(_sequence)
    fields.setdefault("author_name", f"Reader {n}")
    fields.setdefault("author_email", f"reader{n}@example.org")
    fields.setdefault("text", f"Comment number {n}.")
    fields.setdefault("status", Comment.Status.APPROVED)
    fields.setdefault("html", render_comment_text(fields["text"]))
    if parent is not None:
        fields.update(
            parent=parent,
            thread_id=parent.thread_id or parent.pk,
            depth=parent.depth + 1,
        )
    comment = Comment.objects.create(article=article, **fields)
    recount_comments(article_ids=[article.pk])
    article.refresh_from_db(fields=["comment_count"])
    return comment


def make_newsletter(**fields):
    from newsletter.models import Newsletter

    n = next(_sequence)
    fields.setdefault("name", f"Newsletter {n}")
    fields.setdefault("slug", f"newsletter-{n}")
    return Newsletter.objects.create(**fields)


def make_subscriber(*newsletters, **fields):
    """A confirmed subscriber of the given newsletters unless told otherwise."""
    from newsletter.models import Subscriber

    n = next(_sequence)
    fields.setdefault("email", f"subscriber{n}@example.org")
    fields.setdefault("status", Subscriber.Status.CONFIRMED)
    subscriber = Subscriber.objects.create(**fields)
    subscriber.newsletters.add(*newsletters)
    return subscriber


def make_issue(newsletter, *, articles=(), **fields):
    from newsletter.models import Issue, IssueArticle

    n = next(_sequence)
    fields.setdefault("subject", f"Issue {n}")
    issue = Issue.objects.create(newsletter=newsletter, **fields)
    for position, article in enumerate(articles):
        IssueArticle.objects.create(issue=issue, article=article, position=position)
    return issue


# What the data migrations store: the Writers and Editors groups with their
# permissions, and the newsletters a new site offers.
DATA_MIGRATIONS = [
    ("articles.migrations.0002_roles", "create_roles"),
    ("articles.migrations.0009_editors_view_login_logs", "grant_editors"),
    ("articles.migrations.0015_figures_into_the_photo_library", "grant_roles"),
    ("comments.migrations.0002_editor_permissions", "grant_editors"),
    ("newsletter.migrations.0002_newsletters_and_editor_permissions",
     "create_newsletters_and_permissions"),
]  # fmt: skip


def restore_migration_data():
    """Store again what the data migrations store, as `migrate` left it (a
    transactional test's flush removes it). Idempotent."""
    import importlib

    from django.apps import apps

    for module, function in DATA_MIGRATIONS:
        getattr(importlib.import_module(module), function)(apps, None)


def ensure_roles():
    """The Writers and Editors groups as the data migrations make them. They are
    there unless a flush emptied the tables without the post_migrate signal
    (tests/conftest.py stores them again on it): making every app's permissions
    again for each staff account would cost far more than this check."""
    from django.contrib.auth.models import Group

    if Group.objects.filter(name__in=["Writers", "Editors"]).count() < 2:
        restore_migration_data()


def make_staff(username, *group_names, **fields):
    """A staff account in the named groups ("Writers", "Editors")."""
    from django.contrib.auth.models import Group

    from articles.models import User

    ensure_roles()
    user = User.objects.create_user(
        username, email=f"{username}@newsroom.example", is_staff=True, **fields
    )
    user.groups.add(*Group.objects.filter(name__in=group_names))
    return user


ARTICLE_INLINES = ("bylines", "figures", "corrections")


def no_inline_forms(*prefixes):
    """The management forms of admin inlines with no new rows (by default every
    inline of the article's change form), as a browser posts them. Rows already
    stored are left as they are."""
    data = {}
    for prefix in prefixes or ARTICLE_INLINES:
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


def byline_form_data(*authors):
    """The byline inline's part of an article admin POST: `authors` in order.
    With none, the article's stored byline is left as it is."""
    data = {**no_inline_forms("bylines"), "bylines-TOTAL_FORMS": str(len(authors))}
    for n, author in enumerate(authors):
        data[f"bylines-{n}-author"] = str(author.pk)
        data[f"bylines-{n}-position"] = str(n)
    return data


def jpeg_bytes(size=(1600, 900), exif=None):
    """A plain JPEG, with `exif` (a PIL.Image.Exif) if given."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    extra = {"exif": exif} if exif is not None else {}
    Image.new("RGB", size, "teal").save(buffer, "JPEG", **extra)
    return buffer.getvalue()


def make_photo(*, size=(600, 340), **fields):
    """A photo in the library, stored the way an upload is. Small unless `size`
    says otherwise: just wide enough for one rendition, as the renditions of a
    large photo take a tenth of a second each."""
    from django.core.files.base import ContentFile

    from articles.models import Photo

    fields.setdefault("alt", "A crowd in Republic Square")
    fields.setdefault("image", ContentFile(jpeg_bytes(size), name="crowd.jpg"))
    return Photo.objects.create(**fields)


def make_figure(article, photo=None, **fields):
    """A figure in `article`'s body: `photo`, or a new library photo made from
    the photo fields given (alt, credit, image, size)."""
    from articles.models import Figure

    photo_fields = {
        name: fields.pop(name)
        for name in ("alt", "credit", "image", "size")
        if name in fields
    }
    if photo is None:
        photo = make_photo(**photo_fields)
    return Figure.objects.create(article=article, photo=photo, **fields)


def make_revision(article, *, user=None, **changes):
    """Save `article` as stored, with `changes` (field values), in a new revision
    of django-reversion by `user`, as an admin save keeps one: the article's row
    and the parts articles.revisions follows (tag links, bylines, figures), as
    they are now, without rendering a form. Returns the article's version in it
    (tests/test_admin_revisions.py holds it to what an admin save stores)."""
    import reversion
    from reversion.models import Version

    article = Article.objects.get(pk=article.pk)
    for name, value in changes.items():
        setattr(article, name, value)
    with reversion.create_revision():
        article.save()
        if user is not None:
            reversion.set_user(user)
    return Version.objects.get_for_object(article).first()


@contextlib.contextmanager
def migrated_back_to(app_label, migration_name):
    """The database migrated back to `migration_name` of `app_label`, as the
    models were then (yielded: an app registry of that state); migrated forward
    to the latest again on leaving, so the test sees what the migrations after it
    did to the rows it made. Needs a transactional test."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [(app_label, migration_name)]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        yield executor.loader.project_state(before).apps
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
