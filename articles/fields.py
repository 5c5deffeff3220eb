"""
An ImageField whose files are always checked, stripped of metadata and re-encoded.

The work happens in `CleanImageFieldFile.save()`, the one method every path into
storage goes through: a form saving a model (`Model.save()` commits a new file
through it), `instance.image.save(name, content)` in code, imports and commands.
No path can store an upload as it came, GPS tags and all.

The field also keeps storage in step with its rows: once a save that replaces or
removes an image commits, or a row is deleted (one by one or in a cascade), the
files it no longer points to are deleted, so a removed photo stops being
published. Models holding one need no file handling of their own.
"""

from django import forms
from django.db import models, transaction
from django.db.models import signals
from django.db.models.fields.files import ImageFieldFile

from articles import images


class CleanImageFormField(forms.FileField):
    """An image upload checked by articles.images, so every bad file gets a message
    that says what is wrong (Django's ImageField says only "not a valid image",
    even for a decompression bomb, and lets through formats we do not store)."""

    def to_python(self, data):
        file = super().to_python(data)
        if file is not None:
            images.validate_upload(file)
        return file


class CleanImageFieldFile(ImageFieldFile):
    def save(self, name, content, save=True):
        """Store `content` re-encoded without metadata, under a name made from the
        instance's slug and the content's hash (never the uploaded name), with the
        field's renditions and size fields filled in. Raises ValidationError for
        a file that is not an acceptable image, before anything is stored."""
        prepared = images.prepare_upload(content)
        renditions = (
            images.encode_renditions(prepared.image)
            if self.field.renditions_field
            else {}
        )
        filename = images.stored_filename(getattr(self.instance, "slug", ""), prepared)
        super().save(filename, prepared.content, save=False)
        try:
            stored = images.store_renditions(
                renditions, storage=self.storage, original_name=self.name
            )
        except Exception:
            self.storage.delete(self.name)
            raise
        self.field.set_details(
            self.instance,
            width=prepared.width,
            height=prepared.height,
            renditions=stored,
        )
        if save:
            self.instance.save()

    save.alters_data = True


class CleanImageField(models.ImageField):
    """An ImageField that re-encodes every new file (see the module docstring).

    `width_field` and `height_field` receive the stored image's size, and
    `renditions_field` (a JSONField) the WebP renditions, {width: storage name}.
    Unlike Django's own `width_field`, the size is written once, when the file is
    stored, and never read back from storage when a row is loaded. Declare these
    fields after the image field: a model's fields are saved in declaration order,
    and the image is stored (and they are filled) when its turn comes.
    """

    attr_class = CleanImageFieldFile

    def __init__(
        self,
        *args,
        size_fields=None,
        renditions_field=None,
        **kwargs,
    ):
        self.size_fields = size_fields
        self.renditions_field = renditions_field
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.size_fields:
            kwargs["size_fields"] = self.size_fields
        if self.renditions_field:
            kwargs["renditions_field"] = self.renditions_field
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, **kwargs):
        super().contribute_to_class(cls, name, **kwargs)
        if not cls._meta.abstract:
            signals.pre_save.connect(self._remember_stored_files, sender=cls)
            signals.post_save.connect(self._delete_replaced_files, sender=cls)
            signals.post_delete.connect(self._delete_removed_files, sender=cls)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": CleanImageFormField, **kwargs})

    def pre_save(self, model_instance, add):
        file = super().pre_save(model_instance, add)
        if not file:
            self.set_details(model_instance, width=None, height=None, renditions={})
        return file

    def set_details(self, instance, *, width, height, renditions):
        """Record the stored image's size and renditions on the instance."""
        if self.size_fields:
            width_field, height_field = self.size_fields
            setattr(instance, width_field, width)
            setattr(instance, height_field, height)
        if self.renditions_field:
            setattr(instance, self.renditions_field, renditions)

    # Stored files: what the row points to, the original first, then renditions.

    def _files_of(self, name, renditions) -> list[str]:
        return [name, *(renditions or {}).values()] if name else []

    def _current_files(self, instance) -> list[str]:
        renditions = (
            getattr(instance, self.renditions_field) if self.renditions_field else {}
        )
        return self._files_of(getattr(instance, self.attname).name, renditions)

    @property
    def _remembered(self):
        return f"_stored_{self.attname}_files"

    def _remember_stored_files(self, sender, instance, raw, update_fields, **kwargs):
        instance.__dict__.pop(self._remembered, None)
        if raw or instance.pk is None:
            return
        if update_fields is not None and self.name not in update_fields:
            return
        columns = [self.attname, *filter(None, [self.renditions_field])]
        row = sender._base_manager.filter(pk=instance.pk).values(*columns).first()
        if row:
            instance.__dict__[self._remembered] = self._files_of(
                row[self.attname], row.get(self.renditions_field)
            )

    def _delete_replaced_files(self, sender, instance, **kwargs):
        stored = instance.__dict__.pop(self._remembered, [])
        current = set(self._current_files(instance))
        stale = [name for name in stored if name not in current]
        if stale:
            self._delete_after_commit(sender, instance, stale, original=stored[0])

    def _delete_removed_files(self, sender, instance, **kwargs):
        files = self._current_files(instance)
        if files:
            self._delete_after_commit(sender, instance, files, original=files[0])

    def _delete_after_commit(self, sender, instance, names, *, original):
        # A copy (articles.workflow.duplicate_as_draft) shares its original's
        # files: they go with the last row that uses them.
        others = sender._base_manager.exclude(pk=instance.pk)
        if others.filter(**{self.attname: original}).exists():
            return
        storage = self.storage
        # After commit: a rolled-back save keeps the files its row points to.
        transaction.on_commit(
            lambda: images.delete_files(names, storage=storage),
            using=instance._state.db,
        )
