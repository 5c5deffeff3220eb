"""RSS feeds of readers' comments: the whole site's, and each article's. Names
only: a commenter's email is never read for a feed."""

from collections import defaultdict

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404

from articles.feeds import RssFeed
from articles.models import Article
from comments.models import Comment
from comments.services import comment_url

FEED_ITEMS = 50


def with_public_urls(comments: list[Comment]) -> list[Comment]:
    """Give each comment `public_url`, its address on its page of the article,
    with one query for all the articles."""
    top_ids = defaultdict(list)
    rows = (
        Comment.objects.approved()
        .filter(article_id__in={comment.article_id for comment in comments})
        .filter(parent=None)
        .order_by("created_at", "id")
        .values_list("article_id", "id")
    )
    for article_id, comment_id in rows:
        top_ids[article_id].append(comment_id)
    for comment in comments:
        comment.public_url = comment_url(comment, top_ids=top_ids[comment.article_id])
    return comments


class LatestCommentsFeed(Feed):
    """Approved comments on every published article, newest first."""

    feed_type = RssFeed

    def comments(self, obj):
        return Comment.objects.approved().filter(
            article__in=Article.objects.published()
        )

    def title(self, obj):
        return f"Comments | {settings.SITE_NAME}"

    def link(self, obj):
        return "/"

    def description(self, obj):
        return f"Readers' latest comments on {settings.SITE_NAME}."

    def items(self, obj):
        comments = (
            self.comments(obj)
            .select_related("article")
            .only(
                "id",
                "thread_id",
                "article_id",
                "author_name",
                "html",
                "created_at",
                "article__slug",
                "article__title",
            )
            .order_by("-created_at", "-id")[:FEED_ITEMS]
        )
        return with_public_urls(list(comments))

    def item_title(self, comment):
        return f"{comment.author_name} on “{comment.article.title}”"

    def item_description(self, comment):
        # Sanitised HTML, rendered once when the comment was saved.
        return comment.html

    def item_link(self, comment):
        return comment.public_url

    def item_author_name(self, comment):
        return comment.author_name

    def item_pubdate(self, comment):
        return comment.created_at


class ArticleCommentsFeed(LatestCommentsFeed):
    """Approved comments on one article, newest first."""

    def get_object(self, request, slug):
        return get_object_or_404(Article.objects.published(), slug=slug)

    def comments(self, article):
        return Comment.objects.approved().filter(article=article)

    def title(self, article):
        return f"Comments on “{article.title}” | {settings.SITE_NAME}"

    def link(self, article):
        return article.get_absolute_url() + "#comments"

    def description(self, article):
        return f"Readers' comments on “{article.title}”."

    def item_title(self, comment):
        return f"By {comment.author_name}"
