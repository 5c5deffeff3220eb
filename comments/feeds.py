from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404

from articles.feeds import RssFeed
from articles.models import Article
from comments.models import Comment
from comments.services import comment_url, top_level_ids


class ArticleCommentsFeed(Feed):
    """Approved comments on one article, newest first. Names only: no emails."""

    feed_type = RssFeed

    def get_object(self, request, slug):
        return get_object_or_404(Article.objects.published(), slug=slug)

    def title(self, article):
        return f"Comments on “{article.title}” | {settings.SITE_NAME}"

    def link(self, article):
        return article.get_absolute_url() + "#comments"

    def description(self, article):
        return f"Readers' comments on “{article.title}”."

    def items(self, article):
        comments = list(
            Comment.objects.approved()
            .filter(article=article)
            .only("id", "thread_id", "author_name", "html", "created_at")
            .order_by("-created_at", "-id")[:50]
        )
        top_ids = top_level_ids(article)
        for comment in comments:
            comment.article = article
            comment.public_url = comment_url(comment, top_ids=top_ids)
        return comments

    def item_title(self, comment):
        return f"By {comment.author_name}"

    def item_description(self, comment):
        return comment.html

    def item_link(self, comment):
        return comment.public_url

    def item_author_name(self, comment):
        return comment.author_name

    def item_pubdate(self, comment):
        return comment.created_at
