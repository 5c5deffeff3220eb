"""Root URLs: each app brings its own urls.py."""

from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps import views as sitemap_views
from django.urls import include, path
from django.views.decorators.http import require_safe

from articles.sitemaps import SITEMAP_INDEX, SITEMAPS, NewsSitemap
from articles.views import robots_txt
from newsroom.health import healthz
from newsroom.media import media_file

# The newsroom's own name where Django would say "Django administration".
admin.site.site_header = f"{settings.SITE_NAME} newsroom"
admin.site.site_title = f"{settings.SITE_NAME} newsroom"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("comments/", include("comments.urls")),
    path("newsletter/", include("newsletter.urls")),
    path("robots.txt", robots_txt, name="robots"),
    # sitemap.xml is an index of one sitemap per section (paged past
    # Sitemap.limit URLs), the Google News one among them.
    path(
        "sitemap.xml",
        require_safe(sitemap_views.index),
        {"sitemaps": SITEMAP_INDEX, "sitemap_url_name": "sitemap-section"},
        name="sitemap",
    ),
    path(
        "sitemap-news.xml",
        require_safe(sitemap_views.sitemap),
        {"sitemaps": {"news": NewsSitemap}, "template_name": "sitemaps/news.xml"},
        name="news-sitemap",
    ),
    path(
        "sitemap-<section>.xml",
        require_safe(sitemap_views.sitemap),
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
    # Uploaded images, in every profile (newsroom/media.py says why a view).
    path("media/<path:path>", media_file, name="media"),  # MEDIA_URL
    path("", include("articles.urls")),
]

# Django's default handlers render templates/404.html and templates/500.html; the
# 500 page is rendered without context processors, so it needs no database.
handler404 = "django.views.defaults.page_not_found"
handler500 = "django.views.defaults.server_error"
