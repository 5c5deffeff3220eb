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
from django.utils.functional import cached_property

from comments.forms import CommentForm
from comments.models import Comment
from comments.services import comments_open, top_level_ids
from publicpages.crossorigin import is_signed_in

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


class Threads:
    """One page of an article's approved threads, with this reader's own comments
    awaiting moderation placed in them; loaded on first use (a page whose threads
    fragment is cached never runs its queries)."""

    def __init__(self, article, *, requested_page: int, own_ids: list[int]):
        self.article = article
        # At most as many pages as the approved comments (replies included) could
        # fill, known without a query: the threads fragment is keyed on this, so
        # made-up page numbers share the last page's entry.
        most_pages = math.ceil(article.comment_count / settings.COMMENTS_PER_PAGE)
        self.requested_page = min(requested_page, max(1, most_pages))
        self.own_ids = own_ids
        self.is_open = comments_open(article)

    @cached_property
    def _loaded(self):
        per_page = settings.COMMENTS_PER_PAGE
        article, own_ids = self.article, self.own_ids
        top_ids: list[int] = []
        comments: list[Comment] = []
        pages = number = 1
        if article.comment_count or own_ids:
            top_ids = top_level_ids(article) if article.comment_count else []
            pages = max(1, math.ceil(len(top_ids) / per_page))
            number = min(self.requested_page, pages)
            page_ids = top_ids[(number - 1) * per_page : number * per_page]
            visible = Q(
                status=Comment.Status.APPROVED,
            ) & (Q(pk__in=page_ids) | Q(thread_id__in=page_ids))
            own = Q(
                pk__in=own_ids,
                status__in=[Comment.Status.PENDING, Comment.Status.SPAM],
            )
            if page_ids or own_ids:
                # Sorted here, not in SQL: given an ORDER BY created_at, SQLite
                # without statistics (nothing runs ANALYZE) walks
                # comment_status_idx through every approved comment on the site to
                # skip a sort of a few hundred.
                comments = sorted(
                    Comment.objects.filter(article=article)
                    .filter(visible | own)
                    .only(*DISPLAY_FIELDS)
                    .order_by(),
                    key=lambda comment: (comment.created_at, comment.pk),
                )
        return top_ids, comments, number, pages

    @property
    def page_number(self) -> int:
        return self._loaded[2]

    @cached_property
    def _tree(self) -> tuple[dict[int, Node], list[Node]]:
        """Every comment's node by id, and the page's threads in order."""
        top_ids, comments, number, pages = self._loaded
        max_depth = settings.COMMENTS_THREAD_DEPTH
        nodes = {c.pk: Node(c) for c in comments}
        position = {pk: i for i, pk in enumerate(top_ids)}
        roots = []
        for node in nodes.values():
            comment = node.comment
            comment.awaiting_moderation = comment.status != Comment.Status.APPROVED
            comment.can_reply = (
                self.is_open
                and not comment.awaiting_moderation
                and comment.depth < max_depth
            )
            if comment.parent_id is None:
                approved_here = comment.pk in position
                # The author's own pending top-level comment goes after the last
                # thread.
                if approved_here or (comment.awaiting_moderation and number == pages):
                    roots.append(node)
            elif comment.parent_id in nodes:
                nodes[comment.parent_id].replies.append(node)
            elif comment.thread_id in nodes:
                # Its parent was trashed or marked spam: keep the reply in its
                # thread.
                nodes[comment.thread_id].replies.append(node)
        roots.sort(
            key=lambda n: (position.get(n.comment.pk, len(position)), n.comment.pk)
        )
        return nodes, roots

    @property
    def nodes(self) -> dict[int, Node]:
        return self._tree[0]

    @property
    def roots(self) -> list[Node]:
        return self._tree[1]

    @property
    def page_links(self) -> list[tuple[int, str]]:
        pages = self._loaded[3]
        if pages == 1:
            return []
        base_url = self.article.get_absolute_url()
        return [(n, _page_url(base_url, n)) for n in range(1, pages + 1)]

    @property
    def reply_query(self) -> str:
        # Reply links keep the page: "?cpage=2&replytocom=7".
        number = self.page_number
        return urlencode({"cpage": number}) + "&" if number > 1 else ""


def section_context(request, article, *, form: CommentForm | None = None) -> dict:
    threads = Threads(
        article, requested_page=_page_number(request), own_ids=pending_ids(request)
    )
    reply_id = _reply_to(request)
    reply_to = None
    if threads.is_open:
        if reply_id is not None:
            node = threads.nodes.get(reply_id)
            if node is not None and not node.comment.awaiting_moderation:
                reply_to = node.comment
        if form is None:
            form = CommentForm(
                initial=_initial(request, reply_to), article_id=article.pk
            )
    return {
        "article": article,
        "request": request,
        "threads": threads,
        # The threads are the same for every reader who has none of their own
        # awaiting moderation: a cached fragment.
        "threads_shared": not threads.own_ids,
        "count": article.comment_count,
        "is_open": threads.is_open,
        "form": form,
        # A signed-in user's form carries Django's CSRF token (publicpages.crossorigin).
        "signed_in": request is not None and is_signed_in(request),
        "reply_to": reply_to,
        "cancel_reply_url": (
            _page_url(article.get_absolute_url(), threads.page_number) + "#respond"
            if reply_to
            else ""
        ),
    }


def _page_url(base_url: str, number: int) -> str:
    return f"{base_url}?cpage={number}" if number > 1 else base_url


def _initial(request, reply_to: Comment | None) -> dict:
    initial = {}
    remembered = remembered_author(request)
    if remembered:
        initial.update(remembered, remember=True)
    elif request is not None and is_signed_in(request):
        user = request.user
        initial.update(
            name=user.get_full_name() or user.get_username(), email=user.email
        )
    if reply_to is not None:
        initial["parent"] = reply_to.pk
    return initial
