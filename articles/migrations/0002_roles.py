"""
The newsroom's two roles, as groups with article permissions.

Writers draft and edit (the admin narrows them to their own articles and never lets
them publish); Editors do everything on articles, including publishing. Comments and
newsletter add their own permissions to "Editors" in their own migrations.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

WRITER_PERMISSIONS = [
    ("articles", "add_article"),
    ("articles", "change_article"),
    ("articles", "view_article"),
    ("articles", "view_category"),
    ("articles", "view_author"),
    ("taggit", "view_tag"),
]

EDITOR_PERMISSIONS = [
    (app_label, f"{action}_{model}")
    for app_label, model in [
        ("articles", "article"),
        ("articles", "category"),
        ("articles", "author"),
        ("articles", "slugredirect"),
        ("taggit", "tag"),
    ]
    for action in ("add", "change", "delete", "view")
] + [("articles", "publish_article")]


def _permissions(apps, pairs):
    Permission = apps.get_model("auth", "Permission")
    found = []
    for app_label, codename in pairs:
        found.append(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return found


def create_roles(apps, schema_editor):
    # Permissions are normally made after `migrate` finishes; make them now so the
    # groups can hold them on a fresh database.
    # (Also called from tests with the real app registry: restore what was there.)
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    writers, _ = Group.objects.get_or_create(name="Writers")
    writers.permissions.add(*_permissions(apps, WRITER_PERMISSIONS))
    editors, _ = Group.objects.get_or_create(name="Editors")
    editors.permissions.add(*_permissions(apps, EDITOR_PERMISSIONS))


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        (
            "taggit",
            "0006_rename_taggeditem_content_type_object_id_taggit_tagg_content_8fc721_idx",
        ),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="article",
            options={
                "get_latest_by": "published_at",
                "ordering": ["-published_at", "-id"],
                "permissions": [("publish_article", "Can publish articles")],
                "verbose_name": "article",
                "verbose_name_plural": "articles",
            },
        ),
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]
