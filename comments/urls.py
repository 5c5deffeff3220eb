from django.urls import path
from django.views.decorators.http import require_safe

from comments import feeds, views

app_name = "comments"

urlpatterns = [
    path("post/<int:article_id>/", views.post_comment, name="post"),
    path("feed/", require_safe(feeds.LatestCommentsFeed()), name="latest_feed"),
    path("feed/<slug:slug>/", require_safe(feeds.ArticleCommentsFeed()), name="feed"),
    path(
        "follow-ups/confirm/<str:token>/",
        views.confirm_address,
        name="confirm_address",
    ),
    path("follow-ups/stop/<str:token>/", views.stop_follow_ups, name="stop_follow_ups"),
]
