"""
The comment workflows: posting under the moderation rules, moderating, and the
emails that follow (moderators' batched notice, follow-up confirmation and replies).

Views, admin actions, commands and tasks all call these functions, so every way a
comment changes status keeps Article.comment_count and the page cache right.
"""

import math
import re
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from articles.workflow import editor_addresses
from comments.models import Comment, FollowUpAddress, ModerationPhrase, ModeratorNotice
from mailing.messages import ListEmailMessage
from publicpages.addresses import absolute_url
from publicpages.generation import invalidate_public_pages
from ratelimit.limits import (
    email_limit_key,
    enqueue_once_per_spell,
    is_rate_limited,
    start_spell,
)
from safetext.sanitizer import render_comment_text

_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)

# Confirmation links carry a comment id. (Links made before carried the address,
# under another salt; those now fail their signature and show the invalid page.)
CONFIRM_SALT = "comments.confirm-address"
# Stop links carry the FollowUpAddress id, never the address. (Those that carried
# the address, under "comments.follow-up.stop", now show the invalid page.)
STOP_SALT = "comments.follow-up.stop-address"
NOTICE_KEY = "comments:moderator-notice"
# Why a comment from a known name and address waits: see _decide().
UNCONFIRMED_REASON = (
    "Approved before under this name and address, but not yet confirmed from "
    "this browser."
)


class CommentRefused(Exception):
    """A comment the site will not store, with the message and HTTP status the
    commenter should get."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def comments_open(article: Article) -> bool:
    if not article.comments_enabled:
        return False
    days = settings.COMMENTS_CLOSE_AFTER_DAYS
    if days and article.published_at:
        return timezone.now() < article.published_at + timedelta(days=days)
    return True


def count_links(text: str) -> int:
    return len(_LINK.findall(text))


def _phrases() -> tuple[list[str], list[str]]:
    """(hold, spam) phrases from the settings and the admin, lower-cased."""
    hold = [p.lower() for p in settings.COMMENTS_MODERATION_KEYWORDS if p.strip()]
    spam = [p.lower() for p in settings.COMMENTS_BLOCKLIST if p.strip()]
    for phrase, action in ModerationPhrase.objects.values_list("phrase", "action"):
        (spam if action == ModerationPhrase.Action.SPAM else hold).append(phrase)
    return hold, spam


def _first_match(phrases: list[str], haystack: str) -> str:
    return next((phrase for phrase in phrases if phrase in haystack), "")


def _decide(
    *, name, email, url, text, ip, user, bot_reason, email_confirmed
) -> tuple[Comment.Status, str]:
    """The moderation rules, in order: staff, spam, hold, earlier approval.

    Anyone can type any address, so an earlier approval counts only for the same
    name (WordPress's rule) and only when the browser proves it can read that
    address's mail (`email_confirmed`: it holds the signed cookie that opening the
    confirmation link set)."""
    if user is not None and user.is_authenticated and user.is_staff:
        return Comment.Status.APPROVED, "Written by the newsroom."
    if bot_reason:
        return Comment.Status.SPAM, f"Failed the bot check: {bot_reason}."
    hold, spam = _phrases()
    haystack = "\n".join([name, email, url, text, ip or ""]).lower()
    if matched := _first_match(spam, haystack):
        return Comment.Status.SPAM, f"Matches the blocklist: {matched!r}."
    links = count_links(text)
    if links >= settings.COMMENTS_MAX_LINKS:
        return Comment.Status.PENDING, f"Has {links} links."
    if matched := _first_match(hold, haystack):
        return Comment.Status.PENDING, f"Contains the moderation keyword {matched!r}."
    known = Comment.objects.approved().filter(author_email=email, author_name=name)
    if not known.exists():
        return Comment.Status.PENDING, "First comment under this name and address."
    if email_confirmed:
        return (
            Comment.Status.APPROVED,
            "Approved before under this name; the address is confirmed.",
        )
    return Comment.Status.PENDING, UNCONFIRMED_REASON


def post_comment(
    *,
    article: Article,
    name: str,
    email: str,
    text: str,
    url: str = "",
    parent: Comment | None = None,
    user=None,
    ip: str | None = None,
    notify: bool = False,
    bot_reason: str = "",
    email_confirmed: bool = False,
    form_token: str = "",
) -> Comment:
    """Store a comment under the moderation rules, or raise CommentRefused.

    `bot_reason` is the form's verdict on its honeypot and timestamp ("" when the
    form looks human); such comments are kept, as spam, so editors can see them.
    `email_confirmed` says the poster proved they read mail at `email`.
    `form_token` is the form's signed timestamp: from one IP it counts for one
    stored comment, so a bot cannot replay one form for hundreds of posts.

    No answer may depend on who wrote the other comments: the flood limit (about
    the poster's IP alone) comes first, and the duplicate check looks at the text,
    never at the addresses.
    """
    email = email.strip().lower()
    is_staff = user is not None and user.is_authenticated and user.is_staff
    if not comments_open(article):
        raise CommentRefused("Comments are closed.", status=403)
    if len(text) > settings.COMMENTS_MAX_LENGTH:
        raise CommentRefused(
            f"Your comment is {len(text)} characters long; the limit is "
            f"{settings.COMMENTS_MAX_LENGTH}."
        )
    if parent is not None and (
        parent.article_id != article.pk or parent.status != Comment.Status.APPROVED
    ):
        raise CommentRefused("The comment you replied to is no longer available.")
    if (
        ip
        and not is_staff
        and is_rate_limited(
            f"comments:flood:{ip}", limit=1, period=settings.COMMENTS_FLOOD_SECONDS
        )
    ):
        raise CommentRefused(
            "You are posting comments too quickly. Please wait a few seconds and "
            "send it again.",
            status=429,
        )
    duplicate = (
        Comment.objects.filter(article=article, text=text)
        .exclude(status__in=[Comment.Status.TRASH, Comment.Status.SPAM])
        .exists()
    )
    if duplicate:
        raise CommentRefused(
            "This comment has already been posted on this article.", status=400
        )

    # Counted only now, once nothing will refuse the comment: a reader who is
    # asked to wait or to fix the text sends the same form again.
    if (
        form_token
        and ip
        and not is_staff
        and is_rate_limited(
            f"comments:form-used:{ip}:{form_token}",
            limit=1,
            period=settings.COMMENTS_FORM_MAX_AGE,
        )
    ):
        bot_reason = bot_reason or "the same form was already used for a comment"

    status, reason = _decide(
        name=name, email=email, url=url, text=text, ip=ip, user=user,
        bot_reason=bot_reason, email_confirmed=email_confirmed,
    )  # fmt: skip

    # Replies deeper than the thread allows join their parent's level.
    while parent is not None and parent.depth >= settings.COMMENTS_THREAD_DEPTH:
        parent = parent.parent

    with transaction.atomic():
        comment = Comment.objects.create(
            article=article,
            parent=parent,
            thread_id=(parent.thread_id or parent.pk) if parent else None,
            depth=parent.depth + 1 if parent else 1,
            author_name=name,
            author_email=email,
            author_url=url,
            text=text,
            html=render_comment_text(text),
            status=status,
            moderation_reason=reason,
            by_newsroom=is_staff,
            user=user if user is not None and user.is_authenticated else None,
            ip_address=ip or None,
            notify_replies=notify,
        )
        if status == Comment.Status.APPROVED:
            Article.objects.filter(pk=article.pk).update(
                comment_count=F("comment_count") + 1
            )
            transaction.on_commit(invalidate_public_pages, robust=True)
            _queue_reply_notifications([comment])
        elif status == Comment.Status.PENDING:
            schedule_moderator_notice()
        if reason == UNCONFIRMED_REASON or (notify and status != Comment.Status.SPAM):
            _queue_confirmation(comment)
    return comment


def moderate(*, comments, status: Comment.Status) -> int:
    """Move comments to `status` (approve, spam, trash, or back to pending), keep the
    articles' counts right and notify followers of newly approved replies. Returns
    how many comments changed."""
    ids = [c.pk for c in comments]
    with transaction.atomic():
        changing = list(
            Comment.objects.select_for_update()
            .filter(pk__in=ids)
            .exclude(status=status)
            .only("pk", "article_id", "status", "parent_id")
        )
        if not changing:
            return 0
        Comment.objects.filter(pk__in=[c.pk for c in changing]).update(status=status)
        deltas = Counter()
        for comment in changing:
            if status == Comment.Status.APPROVED:
                deltas[comment.article_id] += 1
            elif comment.status == Comment.Status.APPROVED:
                deltas[comment.article_id] -= 1
        for article_id, delta in deltas.items():
            if delta:
                Article.objects.filter(pk=article_id).update(
                    comment_count=F("comment_count") + delta
                )
        if status == Comment.Status.APPROVED:
            _queue_reply_notifications(changing)
        transaction.on_commit(invalidate_public_pages, robust=True)
    return len(changing)


def delete_comments(*, comments) -> int:
    """Delete comments (and, by cascade, their replies) and recount the articles."""
    ids = [c.pk for c in comments]
    with transaction.atomic():
        article_ids = set(
            Comment.objects.filter(pk__in=ids).values_list("article_id", flat=True)
        )
        deleted, _ = Comment.objects.filter(pk__in=ids).delete()
        recount_comments(article_ids=article_ids)
        transaction.on_commit(invalidate_public_pages, robust=True)
    return deleted


def recount_comments(*, article_ids) -> None:
    """Set comment_count from the comments themselves, in one UPDATE."""
    approved = (
        Comment.objects.approved()
        .filter(article=OuterRef("pk"))
        .order_by()
        .values("article")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Article.objects.filter(pk__in=article_ids).update(
        comment_count=Coalesce(Subquery(approved), Value(0))
    )


def top_level_ids(article) -> list[int]:
    """The article's approved top-level comments in page order (ids only)."""
    return list(
        Comment.objects.approved()
        .filter(article=article, parent=None)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )


def page_of(comment: Comment, *, top_ids: list[int]) -> int:
    """The page of comments on which `comment` appears (a pending top-level
    comment, shown only to its author, comes after the last thread)."""
    per_page = settings.COMMENTS_PER_PAGE
    root = comment.thread_id or comment.pk
    if root in top_ids:
        return top_ids.index(root) // per_page + 1
    return max(1, math.ceil(len(top_ids) / per_page))


def comment_url(comment: Comment, *, top_ids: list[int] | None = None) -> str:
    """The address of the comment on its page of the article."""
    if top_ids is None:
        top_ids = top_level_ids(comment.article)
    url = comment.article.get_absolute_url()
    page = page_of(comment, top_ids=top_ids)
    if page > 1:
        url += f"?cpage={page}"
    return f"{url}#comment-{comment.pk}"


# Moderators' notice -------------------------------------------------------------


def schedule_moderator_notice() -> None:
    """Ask for a moderators' email, at most one per COMMENTS_NOTIFY_EVERY_MINUTES:
    the first pending comment of a quiet spell is reported at once, later ones are
    gathered into one email at the end of the spell."""
    from comments.tasks import notify_moderators

    enqueue_once_per_spell(
        notify_moderators,
        key=NOTICE_KEY,
        period=settings.COMMENTS_NOTIFY_EVERY_MINUTES * 60,
    )


def moderator_addresses() -> list[str]:
    """COMMENTS_MODERATOR_EMAILS, or else the editors: they moderate comments."""
    if settings.COMMENTS_MODERATOR_EMAILS:
        return list(settings.COMMENTS_MODERATOR_EMAILS)
    return editor_addresses()


def send_moderator_notice() -> int:
    """Email moderators about comments held since the last notice; returns how many
    comments the email listed (0: nothing sent)."""
    start_spell(NOTICE_KEY, period=settings.COMMENTS_NOTIFY_EVERY_MINUTES * 60)
    pending = list(
        Comment.objects.pending()
        .filter(moderators_notified=False)
        .select_related("article")
        .order_by("created_at")[:100]
    )
    recipients = moderator_addresses()
    if not pending or not recipients:
        return 0
    total = Comment.objects.pending().count()
    body = render_to_string(
        "comments/email/moderator_notice.txt",
        {
            "comments": pending,
            "total": total,
            "queue_url": absolute_url(
                reverse("admin:comments_comment_changelist") + "?status__exact=pending"
            ),
            "SITE_NAME": settings.SITE_NAME,
        },
    )
    subject = (
        f"[{settings.SITE_NAME}] {len(pending)} new comment(s) awaiting moderation"
    )
    send_mail(subject, body, None, recipients)
    Comment.objects.filter(pk__in=[c.pk for c in pending]).update(
        moderators_notified=True
    )
    ModeratorNotice.objects.create(comment_count=len(pending))
    return len(pending)


# Follow-up emails --------------------------------------------------------------


def stop_token(address: FollowUpAddress) -> str:
    return signing.dumps(address.pk, salt=STOP_SALT)


def read_stop_token(token: str) -> FollowUpAddress | None:
    """The address a stop link was made for; None for a forged or old link, or an
    address that is gone. A stop link never expires (one click must keep working
    from an old email)."""
    try:
        address_id = signing.loads(token, salt=STOP_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(address_id, int):
        return None
    return FollowUpAddress.objects.filter(pk=address_id).first()


def confirmation_token(comment: Comment) -> str:
    return signing.dumps(comment.pk, salt=CONFIRM_SALT)


def read_confirmation_token(token: str) -> Comment | None:
    """The comment a confirmation link was sent for; None if it is gone. Raises
    signing.BadSignature (or SignatureExpired) for a forged or old link."""
    comment_id = signing.loads(
        token, salt=CONFIRM_SALT, max_age=settings.COMMENTS_CONFIRM_MAX_AGE
    )
    if not isinstance(comment_id, int):
        raise signing.BadSignature("Not a comment id.")
    return Comment.objects.filter(pk=comment_id).first()


def _queue_confirmation(comment: Comment) -> None:
    """Mail the comment's author a link that confirms the address: it turns on
    follow-ups if asked for, and lets this name and address be published at once
    from the browser that opens it. At most one a day per mailbox (every
    spelling of it: ratelimit.limits.email_limit_key)."""
    from comments.tasks import send_confirmation

    address = FollowUpAddress.objects.filter(email=comment.author_email).first()
    if comment.moderation_reason != UNCONFIRMED_REASON and (
        address and address.confirmed_at
    ):
        return  # Follow-ups were confirmed already, and nothing waits for it.
    if is_rate_limited(
        f"comments:confirmations:{email_limit_key(comment.author_email)}",
        limit=1,
        period=24 * 3600,
    ):
        return
    send_confirmation.enqueue(comment.pk)


def send_confirmation(*, comment_id: int) -> bool:
    comment = Comment.objects.filter(pk=comment_id).first()
    if comment is None:
        return False
    address, _ = FollowUpAddress.objects.get_or_create(email=comment.author_email)
    body = render_to_string(
        "comments/email/confirm_address.txt",
        {
            "comment": comment,
            "confirm_url": absolute_url(
                reverse("comments:confirm_address", args=[confirmation_token(comment)])
            ),
            "days": settings.COMMENTS_CONFIRM_MAX_AGE // 86400,
            "SITE_NAME": settings.SITE_NAME,
        },
    )
    send_mail(
        f"[{settings.SITE_NAME}] Confirm your email address",
        body,
        None,
        [comment.author_email],
    )
    address.confirmation_sent_at = timezone.now()
    address.save(update_fields=["confirmation_sent_at"])
    return True


def confirm_address(*, comment: Comment) -> None:
    """The author of `comment` proved they read its address's mail: follow-ups may
    go to it, and the comment, if it waited only for this, is published."""
    address, _ = FollowUpAddress.objects.get_or_create(email=comment.author_email)
    if not address.confirmed_at:
        address.confirmed_at = timezone.now()
        address.save(update_fields=["confirmed_at"])
    if (
        comment.status == Comment.Status.PENDING
        and comment.moderation_reason == UNCONFIRMED_REASON
    ):
        moderate(comments=[comment], status=Comment.Status.APPROVED)


def stop_follow_ups(*, email: str) -> int:
    """No more follow-up emails to this address; returns the comments changed."""
    FollowUpAddress.objects.filter(email=email).update(confirmed_at=None)
    return Comment.objects.filter(author_email=email, notify_replies=True).update(
        notify_replies=False
    )


def _queue_reply_notifications(comments) -> None:
    from comments.tasks import send_reply_notifications

    reply_ids = [c.pk for c in comments if c.parent_id]
    if reply_ids:
        send_reply_notifications.enqueue(reply_ids)


def send_reply_notifications(*, comment_ids: list[int]) -> int:
    """Email the authors of the parents of these replies, when the reply is approved
    and the parent's author asked for it and confirmed the address."""
    replies = (
        Comment.objects.approved()
        .filter(pk__in=comment_ids, parent__notify_replies=True)
        .select_related("parent", "article")
    )
    sent = 0
    for reply in replies:
        email = reply.parent.author_email
        if email == reply.author_email:
            continue
        address = FollowUpAddress.objects.filter(
            email=email, confirmed_at__isnull=False
        ).first()
        if address is None:
            continue
        stop_url = absolute_url(
            reverse("comments:stop_follow_ups", args=[stop_token(address)])
        )
        body = render_to_string(
            "comments/email/reply_notification.txt",
            {
                "reply": reply,
                "comment_url": absolute_url(comment_url(reply)),
                "stop_url": stop_url,
                "SITE_NAME": settings.SITE_NAME,
            },
        )
        message = ListEmailMessage(
            f"[{settings.SITE_NAME}] New reply to your comment on "
            f"“{reply.article.title}”",
            body,
            to=[email],
            headers={
                "List-Unsubscribe": f"<{stop_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        message.send()
        sent += 1
    return sent


# Privacy ----------------------------------------------------------------------


def erase_old_ips(*, days: int, dry_run: bool = False) -> int:
    """Forget the IP address of comments older than `days`; returns how many."""
    old = Comment.objects.filter(
        ip_address__isnull=False, created_at__lt=timezone.now() - timedelta(days=days)
    )
    if dry_run:
        return old.count()
    return old.update(ip_address=None)
