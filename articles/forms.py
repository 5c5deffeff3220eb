"""Forms for the editors' admin."""

from django import forms
from django.contrib.admin.widgets import AdminFileWidget

from articles.fields import CleanImageFormField
from articles.models import Article


class ArticleAdminForm(forms.ModelForm):
    image = CleanImageFormField(
        required=False,
        widget=AdminFileWidget,
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
