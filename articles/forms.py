"""Forms for the editors' admin."""

from django import forms
from django.contrib.admin.widgets import AdminFileWidget

from articles import images
from articles.models import Article


class ArticleImageField(forms.FileField):
    """An image upload checked by articles.images, so every bad file gets a message
    that says what is wrong (Django's ImageField says only "not a valid image",
    even for a decompression bomb)."""

    widget = AdminFileWidget

    def to_python(self, data):
        file = super().to_python(data)
        if file is not None:
            images.validate_upload(file)
        return file


class ArticleAdminForm(forms.ModelForm):
    image = ArticleImageField(
        required=False,
        help_text="JPEG, PNG, WebP or GIF. Location and camera data are removed "
        "on upload; smaller copies for phones are made automatically.",
    )

    class Meta:
        model = Article
        fields = [
            "title",
            "slug",
            "standfirst",
            "dateline",
            "body",
            "excerpt",
            "image",
            "image_alt",
            "image_caption",
            "image_credit",
            "category",
            "authors",
            "tags",
            "related_articles",
            "status",
            "published_at",
            "comments_enabled",
            "is_featured",
        ]
