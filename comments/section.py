"""
The comment section under an article: one page of approved threads, the reader's own
pending comments, and the "Leave a Reply" form.

Budget: at most two queries (the page's top-level ids, then the page's comments with
their replies); none when the article has no comments. Threads are built in Python.
"""

import json
import math
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q

from comments.forms import CommentForm
from comments.models import Comment
from comments.services import comments_open, top_level_ids

PENDING_SALT = "comments.pending"
AUTHOR_SALT = "comments.author"
PENDING_MAX_AGE = 30 * 24 * 3600
DISPLAY_FIELDS = [
    "id",
    "parent_id",
    "thread_id",
    "depth",
    "author_name",
    "author_url",
    "html",
    "status",
    "by_newsroom",
    "created_at",
]


@dataclass
class Node:
    comment: Comment
    replies: list["Node"] = field(default_factory=list)


def pending_ids(request) -> list[int]:
    """Ids of the comments this browser posted that are still awaiting moderation."""
    if request is None:
        return []
    value = request.get_signed_cookie(
        settings.COMMENTS_PENDING_COOKIE,
        default="",
        salt=PENDING_SALT,
        max_age=PENDING_MAX_AGE,
    )
    return [int(part) for part in value.split(":") if part.isdigit()]


def pending_cookie_value(request, comment_id: int) -> str:
    return ":".join(str(i) for i in [*pending_ids(request), comment_id][-20:])


def remembered_author(request) -> dict:
    if request is None:
        return {}
    value = request.get_signed_cookie(
        settings.COMMENTS_AUTHOR_COOKIE, default="", salt=AUTHOR_SALT
    )
    try:
        data = json.loads(value) if value else {}
    except ValueError:
        return {}
    if not isinstance(data, dict) or not data:
        return {}
    return {key: str(data.get(key, ""))[:254] for key in ("name", "email", "url")}


def author_cookie_value(*, name: str, email: str, url: str) -> str:
    return json.dumps({"name": name, "email": email, "url": url})


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("cpage", 1))) if request else 1
    except ValueError:
        return 1


def _reply_to(request) -> int | None:
    try:
        return int(request.GET["replytocom"]) if request else None
    except (KeyError, ValueError):
        return None


def section_context(request, article, *, form: CommentForm | None = None) -> dict:
    per_page = settings.COMMENTS_PER_PAGE
    own_ids = pending_ids(request)
    number = _page_number(request)
    top_ids: list[int] = []
    comments: list[Comment] = []
    if article.comment_count or own_ids:
        top_ids = top_level_ids(article) if article.comment_count else []
        pages = max(1, math.ceil(len(top_ids) / per_page))
        number = min(number, pages)
        page_ids = top_ids[(number - 1) * per_page : number * per_page]
        visible = Q(
            status=Comment.Status.APPROVED,
        ) & (Q(pk__in=page_ids) | Q(thread_id__in=page_ids))
        own = Q(
            pk__in=own_ids, status__in=[Comment.Status.PENDING, Comment.Status.SPAM]
        )
        if page_ids or own_ids:
            # Sorted here, not in SQL: given an ORDER BY created_at, SQLite without
            # statistics (nothing runs ANALYZE) walks comment_status_idx through
            # every approved comment on the site to skip a sort of a few hundred.
            comments = sorted(
                Comment.objects.filter(article=article)
                .filter(visible | own)
                .only(*DISPLAY_FIELDS)
                .order_by(),
                key=lambda comment: (comment.created_at, comment.pk),
            )
    pages = max(1, math.ceil(len(top_ids) / per_page))
    number = min(number, pages)

    is_open = comments_open(article)
    max_depth = settings.COMMENTS_THREAD_DEPTH
    nodes = {c.pk: Node(c) for c in comments}
    position = {pk: i for i, pk in enumerate(top_ids)}
    roots = []
    for node in nodes.values():
        comment = node.comment
        comment.awaiting_moderation = comment.status != Comment.Status.APPROVED
        comment.can_reply = (
            is_open and not comment.awaiting_moderation and comment.depth < max_depth
        )
        if comment.parent_id is None:
            approved_here = comment.pk in position
            # The author's own pending top-level comment goes after the last thread.
            if approved_here or (comment.awaiting_moderation and number == pages):
                roots.append(node)
        elif comment.parent_id in nodes:
            nodes[comment.parent_id].replies.append(node)
        elif comment.thread_id in nodes:
            # Its parent was trashed or marked spam: keep the reply in its thread.
            nodes[comment.thread_id].replies.append(node)
    roots.sort(key=lambda n: (position.get(n.comment.pk, len(position)), n.comment.pk))

    reply_to = None
    if is_open:
        reply_id = _reply_to(request)
        if reply_id in nodes and not nodes[reply_id].comment.awaiting_moderation:
            reply_to = nodes[reply_id].comment
        if form is None:
            form = CommentForm(initial=_initial(request, reply_to))

    base_url = article.get_absolute_url()
    return {
        "article": article,
        "request": request,
        "roots": roots,
        "count": article.comment_count,
        "is_open": is_open,
        "form": form,
        "reply_to": reply_to,
        "page_number": number,
        "page_links": [
            (n, _page_url(base_url, n, request)) for n in range(1, pages + 1)
        ]
        if pages > 1
        else [],
        "cancel_reply_url": _page_url(base_url, number, request) + "#respond",
        # Reply links keep the page: "?cpage=2&replytocom=7".
        "reply_query": urlencode({"cpage": number}) + "&" if number > 1 else "",
    }


def _page_url(base_url: str, number: int, request) -> str:
    return f"{base_url}?cpage={number}" if number > 1 else base_url


def _initial(request, reply_to: Comment | None) -> dict:
    initial = {}
    user = getattr(request, "user", None)
    remembered = remembered_author(request)
    if remembered:
        initial.update(remembered, remember=True)
    elif user is not None and user.is_authenticated:
        initial.update(
            name=user.get_full_name() or user.get_username(), email=user.email
        )
    if reply_to is not None:
        initial["parent"] = reply_to.pk
    return initial
