"""Forms for the editors' admin."""

from django import forms
from django.contrib.admin.widgets import AdminFileWidget

from articles.fields import CleanImageFormField
from articles.models import Article
from articles.validators import validate_single_line


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

    def clean_tags(self):
        # Tags belong to django-taggit, whose model is not held to the text rules
        # (articles.validators): one line of visible text each, checked here.
        tags = self.cleaned_data["tags"]
        for tag in tags:
            validate_single_line(tag)
        return tags


class SendBackForm(forms.Form):
    note = forms.CharField(
        label="Note to the writer",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        max_length=2000,
        help_text="What to change before the article can be published. The writer "
        "sees it on the article.",
        error_messages={"required": "Tell the writer what to change."},
    )
