"""Forms for the editors' admin."""

from django import forms
from django.contrib.admin.widgets import AdminFileWidget
from django.utils import timezone

from articles.fields import CleanImageFormField
from articles.models import Article
from safetext.validators import validate_single_line

CONFLICT_MESSAGE = (
    "Someone else saved this article at %(time)s, after you opened it. Your "
    "changes are not saved, so that theirs are not lost: copy what you wrote, "
    "open the article again (its History shows what they changed), and make "
    "your changes there."
)


class ArticleAdminForm(forms.ModelForm):
    # The time of the stored row this form was opened with: saving over a newer
    # one (a colleague's) is refused rather than silently undoing their change.
    loaded_version = forms.CharField(widget=forms.HiddenInput, required=False)
    minor_edit = forms.BooleanField(
        label="Minor edit",
        required=False,
        help_text="A typo or a broken link: readers are not shown an update. "
        "Leave unticked when the story changed; its 'Updated' time then moves.",
    )
    image = CleanImageFormField(
        required=False,
        # Named as articles.admin.AccessibleWidgetsMixin names other file inputs.
        widget=AdminFileWidget(attrs={"aria-label": "Image"}),
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
            "tags",
            "related_articles",
            "status",
            "published_at",
            "comments_enabled",
            "is_featured",
        ]

    def clean_tags(self):
        # Tags belong to django-taggit, whose model is not held to the text rules
        # (safetext.validators): one line of visible text each, checked here.
        tags = self.cleaned_data["tags"]
        for tag in tags:
            validate_single_line(tag)
        return tags

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.updated_at.isoformat()

    def clean(self):
        cleaned_data = super().clean()
        loaded_version = cleaned_data.get("loaded_version")
        # The admin's form always carries it; a post without it (a script) is
        # not checked. The check guards against accidents, not against attacks.
        if self.instance.pk and loaded_version:
            stored = (
                Article.objects.filter(pk=self.instance.pk)
                .values_list("updated_at", flat=True)
                .first()
            )
            if stored and stored.isoformat() != loaded_version:
                local = timezone.localtime(stored)
                raise forms.ValidationError(
                    CONFLICT_MESSAGE,
                    code="conflict",
                    params={"time": local.strftime("%H:%M:%S on %d %b %Y")},
                )
        return cleaned_data


class SendBackForm(forms.Form):
    note = forms.CharField(
        label="Note to the writer",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        max_length=2000,
        help_text="What to change before the article can be published. The writer "
        "sees it on the article.",
        error_messages={"required": "Tell the writer what to change."},
    )


class CompareRevisionsForm(forms.Form):
    """Two revisions of one article to compare, older and newer."""

    old = forms.TypedChoiceField(label="Compare", coerce=int)
    new = forms.TypedChoiceField(label="with", coerce=int)

    def __init__(self, *args, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.versions = {version.pk: version for version in versions}
        choices = [(version.pk, describe_version(version)) for version in versions]
        self.fields["old"].choices = choices
        self.fields["new"].choices = choices

    def clean(self):
        cleaned_data = super().clean()
        for name in ("old", "new"):
            if name in cleaned_data:
                cleaned_data[name] = self.versions[cleaned_data[name]]
        return cleaned_data


def describe_version(version) -> str:
    revision = version.revision
    when = timezone.localtime(revision.date_created).strftime("%d %b %Y, %H:%M:%S")
    who = revision.user.get_username() if revision.user else "unknown"
    return f"{when} by {who}"
