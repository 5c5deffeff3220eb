"""The newsroom's admin site: Django's own, with a "view on site" shortcut that
respects each model admin's view permission."""

from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import path


class NewsroomAdminSite(admin.AdminSite):
    def get_urls(self):
        # Listed before Django's own route of the same name and address, so it
        # answers instead of it.
        return [
            path(
                "r/<path:content_type_id>/<path:object_id>/",
                self.admin_view(self.view_on_site),
                name="view_on_site",
            ),
            *super().get_urls(),
        ]

    def view_on_site(self, request, content_type_id, object_id):
        """Django's redirect to an object's public address, for objects this
        user may open in the admin only: the address of an unpublished article
        is a secret (Django's shortcut hands it to any staff member)."""
        try:
            model = ContentType.objects.get(pk=content_type_id).model_class()
            model_admin = self.get_model_admin(model)
        except (ContentType.DoesNotExist, NotRegistered, ValueError, ValidationError):
            raise Http404("No such object.") from None
        obj = model_admin.get_object(request, object_id)
        if obj is None or not model_admin.has_view_permission(request, obj):
            raise Http404("No such object.")
        return shortcut(request, content_type_id, object_id)
