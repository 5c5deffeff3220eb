from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class NewsroomConfig(AppConfig):
    """The site as a whole: its site-wide commands (backup, restore)."""

    name = "newsroom"
    default = True


class NewsroomAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the newsroom's admin site as `admin.site`."""

    default = False
    default_site = "newsroom.admin.NewsroomAdminSite"
