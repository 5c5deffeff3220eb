"""
Pass images stored by older versions through the image field again.

Before every stored file went through articles.fields.CleanImageField, author
photos kept their EXIF and GPS metadata, images saved in code kept it too, and
every image kept its uploaded name (`IMG_2041 GPS home.jpg`) in its address. This
command re-encodes each such image, stores it under the slug-and-hash name with
new renditions, and removes the old files once the new ones are saved. Images
whose names show they were already processed are left alone (re-encoding a JPEG
again would only lose quality), so a second run changes nothing.
"""

import posixpath
import re

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from articles.models import Article, Author

# What articles.images.stored_filename makes: a slug, a 16-digit hash, our format.
PROCESSED_NAME = re.compile(r"[a-z0-9-]+-[0-9a-f]{16}\.(jpg|png|webp)")


class Command(BaseCommand):
    help = "Strip and rename images stored before every upload was processed."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count the images that would be processed, without changing any.",
        )

    def handle(self, *args, dry_run, verbosity, **options):
        done = failed = 0
        for model, field in [(Article, "image"), (Author, "photo")]:
            for obj in model.objects.exclude(**{field: ""}).order_by("pk"):
                file = getattr(obj, field)
                if PROCESSED_NAME.fullmatch(posixpath.basename(file.name)):
                    continue
                if dry_run:
                    done += 1
                    continue
                try:
                    self._reprocess(obj, field)
                except (OSError, ValidationError) as error:
                    failed += 1
                    message = getattr(error, "messages", [str(error)])[0]
                    self.stderr.write(f"{obj._meta.verbose_name} {obj.pk}: {message}")
                    continue
                done += 1
                if verbosity >= 2:
                    self.stdout.write(f"  {obj._meta.verbose_name} {obj.pk}")
        if verbosity >= 1:
            verb = "would be processed" if dry_run else "processed"
            summary = f"{done} image{'' if done == 1 else 's'} {verb}"
            if failed:
                summary += f", {failed} could not be read (see above)"
            self.stdout.write(self.style.SUCCESS(summary + "."))

    def _reprocess(self, obj, field):
        file = getattr(obj, field)
        with file.open("rb") as stored:
            data = stored.read()
        with transaction.atomic():
            file.save(posixpath.basename(file.name), ContentFile(data), save=False)
            # The field deletes the replaced files once this commits.
            obj.save()
