"""
Editors moderate comments: they get the comment permissions (no "add": comments come
from the article page). Writers get none.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

EDITOR_PERMISSIONS = [
    "view_comment",
    "change_comment",
    "delete_comment",
    "add_moderationphrase",
    "change_moderationphrase",
    "delete_moderationphrase",
    "view_moderationphrase",
    "view_followupaddress",
    "view_moderatornotice",
]


def grant_editors(apps, schema_editor):
    # Permissions are normally made after `migrate`; make them now.
    # (Also called from tests with the real app registry: restore what was there.)
    app_config = apps.get_app_config("comments")
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    editors, _ = Group.objects.get_or_create(name="Editors")
    editors.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="comments", codename__in=EDITOR_PERMISSIONS
        )
    )


def revoke_editors(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Editors"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="comments")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("comments", "0001_initial"),
        ("articles", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_editors, revoke_editors)]
