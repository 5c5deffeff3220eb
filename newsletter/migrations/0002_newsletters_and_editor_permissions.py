"""
The two newsletters a new site offers, and the newsletter permissions for Editors
(who compose, send, and look after subscribers).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

NEWSLETTERS = [
    {
        "name": "Daily Digest",
        "slug": "daily-digest",
        "description": "Every morning, the stories we published the day before.",
        "kind": "daily_digest",
        "is_default": True,
        "position": 0,
    },
    {
        "name": "Breaking News",
        "slug": "breaking-news",
        "description": "A short alert when a major story breaks. Rarely more than "
        "once a week.",
        "kind": "editorial",
        "is_default": False,
        "position": 1,
    },
]


def create_newsletters_and_permissions(apps, schema_editor):
    Newsletter = apps.get_model("newsletter", "Newsletter")
    for fields in NEWSLETTERS:
        Newsletter.objects.get_or_create(slug=fields["slug"], defaults=fields)

    # Permissions are normally made after `migrate` finishes; make ours now.
    app_config = apps.get_app_config("newsletter")
    previous = getattr(app_config, "models_module", None)
    app_config.models_module = True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = previous

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    editors, _ = Group.objects.get_or_create(name="Editors")
    editors.permissions.add(
        *Permission.objects.filter(content_type__app_label="newsletter")
    )


def remove_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Editors"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="newsletter")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("articles", "0002_roles"),
    ]

    operations = [
        migrations.RunPython(create_newsletters_and_permissions, remove_permissions),
    ]
