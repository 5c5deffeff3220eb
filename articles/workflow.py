"""
The editorial workflow: what happens to an article between a writer's first draft
and an editor's publication, and copying a story as a new draft.

    Draft --submit_for_review--> Ready for review --publish--> Published/Scheduled
      ^                                 |
      +------ send_back (with a note) --+

A writer may change an article only while it is a draft (the admin's object
permissions); editors may publish from any state. Editors hear about submissions
in one batched email (at most one per REVIEW_NOTIFY_EVERY_MINUTES) and on the
admin's front page.

The admin's buttons and actions call these functions, so the rules hold for every
way in and are tested here rather than through pages.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from articles.models import Article, Figure, authors_in_byline_order
from publicpages.addresses import absolute_url
from ratelimit.limits import enqueue_once_per_spell, start_spell

COPY_PREFIX = "Copy of "
NOTICE_KEY = "articles:review-notice"


class WorkflowError(Exception):
    """A step the article's state does not allow, with a message for the user."""


def submit_for_review(article: Article) -> None:
    """The writer hands a draft to the editors; it is theirs until they publish
    it or send it back."""
    if article.status != Article.Status.DRAFT:
        raise WorkflowError(
            f"“{article}” is {article.get_status_display().lower()}: only a draft "
            "can be submitted for review."
        )
    article.status = Article.Status.REVIEW
    article.submitted_at = timezone.now()
    article.review_note = ""
    article.editors_notified = False
    article.save(
        update_fields=[
            "status",
            "submitted_at",
            "review_note",
            "editors_notified",
            "updated_at",
        ]
    )
    transaction.on_commit(schedule_editors_notice)


def send_back(article: Article, *, note: str) -> None:
    """An editor returns an article in review to its writer as a draft, saying
    what to change."""
    note = note.strip()
    if not note:
        raise WorkflowError("Tell the writer what to change: the note is required.")
    if article.status != Article.Status.REVIEW:
        raise WorkflowError(
            f"“{article}” is {article.get_status_display().lower()}: only an "
            "article ready for review can be sent back."
        )
    article.status = Article.Status.DRAFT
    article.review_note = note
    article.submitted_at = None
    article.save(update_fields=["status", "review_note", "submitted_at", "updated_at"])


def publish(article: Article) -> None:
    """Publish a draft or an article in review: now, or at its publication time
    if that is in the future (scheduled)."""
    if article.status == Article.Status.PUBLISHED:
        raise WorkflowError(f"“{article}” is already published.")
    article.status = Article.Status.PUBLISHED
    if article.published_at is None:
        article.published_at = timezone.now()
    article.review_note = ""
    article.save(update_fields=["status", "published_at", "review_note", "updated_at"])


# Editors' notice ----------------------------------------------------------------


def schedule_editors_notice() -> None:
    """Ask for an editors' email, at most one per REVIEW_NOTIFY_EVERY_MINUTES:
    the first submission of a quiet spell is reported at once, later ones are
    gathered into one email at the end of the spell."""
    from articles.tasks import notify_editors

    enqueue_once_per_spell(
        notify_editors,
        key=NOTICE_KEY,
        period=settings.REVIEW_NOTIFY_EVERY_MINUTES * 60,
    )


def editor_addresses() -> list[str]:
    return list(
        get_user_model()
        .objects.filter(groups__name="Editors", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )


def send_editors_notice() -> int:
    """Email the editors about articles submitted since the last notice; returns
    how many the email listed (0: nothing sent)."""
    start_spell(NOTICE_KEY, period=settings.REVIEW_NOTIFY_EVERY_MINUTES * 60)
    submitted = list(
        Article.objects.in_review()
        .filter(editors_notified=False)
        .select_related("created_by")
        .prefetch_related(authors_in_byline_order())
        .order_by("submitted_at")[:100]
    )
    recipients = editor_addresses()
    if not submitted or not recipients:
        return 0
    body = render_to_string(
        "articles/email/review_notice.txt",
        {
            "articles": submitted,
            "total": Article.objects.in_review().count(),
            "queue_url": absolute_url(
                reverse("admin:articles_article_changelist") + "?state=review"
            ),
            "SITE_NAME": settings.SITE_NAME,
        },
    )
    count = len(submitted)
    subject = (
        f"[{settings.SITE_NAME}] {count} "
        f"{'article' if count == 1 else 'articles'} ready for review"
    )
    send_mail(subject, body, None, recipients)
    Article.objects.filter(pk__in=[a.pk for a in submitted]).update(
        editors_notified=True
    )
    return count


def _free_copy_slug(slug: str) -> str:
    """A slug no article has or had, made from `slug`."""
    base = f"copy-of-{slug}"[:190].rstrip("-")
    candidate, n = base, 1
    while (
        Article.objects.filter(slug=candidate).exists()
        or Article(slug=candidate).slug_is_redirected()
    ):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@transaction.atomic
def duplicate_as_draft(article: Article, *, user) -> Article:
    """A new draft with the article's words, filing, image and figures, created
    by `user`.

    The copy shares the original's stored image files (Article keeps shared files
    until the last article using them goes) and shows the same library photos,
    never its publication time, lead flag, comments or redirects."""
    authors = [byline.author for byline in article.bylines.select_related("author")]
    tags = list(article.tags.names())
    excerpt_is_custom = article.excerpt_is_custom

    copy = Article.objects.get(pk=article.pk)
    copy.pk = None
    copy.title = Truncator(COPY_PREFIX + article.title).chars(200)
    copy.slug = _free_copy_slug(article.slug)
    copy.status = Article.Status.DRAFT
    copy.published_at = None
    copy.is_featured = False
    copy.comment_count = 0
    copy.created_by = user
    if not excerpt_is_custom:
        copy.excerpt = ""
    copy.save()
    copy.set_authors(authors)
    copy.tags.set(tags)
    for figure in article.figures.all():
        Figure.objects.create(
            article=copy,
            photo_id=figure.photo_id,
            caption=figure.caption,
            after_paragraph=figure.after_paragraph,
        )
    return copy
