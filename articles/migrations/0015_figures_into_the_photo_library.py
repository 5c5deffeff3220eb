"""
Each figure's image becomes a photo in the library, with the figure's alt text,
caption and credit; the figure keeps its place and points to it. The stored files
stay where they are (the photo takes over their names). Writers may add photos and
use any; editors may also change and delete them.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

WRITER_PERMISSIONS = ["add_photo", "view_photo"]
EDITOR_PERMISSIONS = ["add_photo", "change_photo", "delete_photo", "view_photo"]


def move_figures_into_the_library(apps, schema_editor):
    Figure = apps.get_model("articles", "Figure")
    Photo = apps.get_model("articles", "Photo")
    for figure in Figure.objects.filter(photo=None).select_related("article"):
        photo = Photo.objects.create(
            image=figure.image.name,
            alt=figure.alt,
            caption=figure.caption,
            credit=figure.credit,
            width=figure.width,
            height=figure.height,
            renditions=figure.renditions,
            uploaded_by_id=figure.article.created_by_id,
        )
        # The caption is the photo's now; a blank one on the figure follows it.
        Figure.objects.filter(pk=figure.pk).update(photo=photo, caption="")


def move_figures_out_of_the_library(apps, schema_editor):
    Figure = apps.get_model("articles", "Figure")
    for figure in Figure.objects.select_related("photo"):
        photo = figure.photo
        Figure.objects.filter(pk=figure.pk).update(
            image=photo.image.name,
            alt=photo.alt,
            caption=figure.caption or photo.caption,
            credit=photo.credit,
            width=photo.width,
            height=photo.height,
            renditions=photo.renditions,
        )


def _photo_permissions(apps, codenames):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(
        content_type__app_label="articles", codename__in=codenames
    )


def grant_roles(apps, schema_editor):
    # Permissions are normally made after `migrate`; make them now.
    # (Also called from tests with the real app registry: restore what was there.)
    app_config = apps.get_app_config("articles")
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = models_module

    Group = apps.get_model("auth", "Group")
    writers, _ = Group.objects.get_or_create(name="Writers")
    writers.permissions.add(*_photo_permissions(apps, WRITER_PERMISSIONS))
    editors, _ = Group.objects.get_or_create(name="Editors")
    editors.permissions.add(*_photo_permissions(apps, EDITOR_PERMISSIONS))


def revoke_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=["Writers", "Editors"]):
        group.permissions.remove(*_photo_permissions(apps, EDITOR_PERMISSIONS))


class Migration(migrations.Migration):

    dependencies = [
        ('articles', '0014_photo_library'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.RunPython(
            move_figures_into_the_library, move_figures_out_of_the_library
        ),
        migrations.RunPython(grant_roles, revoke_roles),
    ]
