from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404

from articles.models import Article
from comments.models import Comment


class ArticleCommentsFeed(Feed):
    """Approved comments on one article, newest first. Names only: no emails."""

    def get_object(self, request, slug):
        return get_object_or_404(Article.objects.published(), slug=slug)

    def title(self, article):
        return f"Comments on “{article.title}” | {settings.SITE_NAME}"

    def link(self, article):
        return article.get_absolute_url() + "#comments"

    def description(self, article):
        return f"Readers' comments on “{article.title}”."

    def items(self, article):
        return (
            Comment.objects.approved()
            .filter(article=article)
            .select_related("article")
            .only("id", "author_name", "html", "created_at", "article__slug")
            .order_by("-created_at", "-id")[:50]
        )

    def item_title(self, comment):
        return f"By {comment.author_name}"

    def item_description(self, comment):
        return comment.html

    def item_link(self, comment):
        return comment.get_absolute_url()

    def item_author_name(self, comment):
        return comment.author_name

    def item_pubdate(self, comment):
        return comment.created_at
