"""System checks: every image field in the project strips and re-encodes uploads."""

from django.apps import apps
from django.core import checks
from django.db import models

from articles.fields import CleanImageField


@checks.register(checks.Tags.models)
def check_image_fields(app_configs=None, **kwargs):
    """A plain ImageField would store uploads as they came, GPS tags and all."""
    configs = app_configs or apps.get_app_configs()
    return [
        checks.Error(
            f"{model._meta.label}.{field.name} is a plain ImageField: it would "
            "store uploads with their metadata (EXIF, GPS) and uploaded names.",
            hint="Use articles.fields.CleanImageField.",
            obj=field,
            id="articles.E001",
        )
        for config in configs
        for model in config.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.ImageField)
        and not isinstance(field, CleanImageField)
    ]
