import time

from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator

from safetext.validators import (
    normalise_line,
    normalise_text,
    validate_email_domain_is_a_name,
    validate_no_control_characters,
)

TIMESTAMP_SALT = "comments.form-timestamp"
# The timestamp is the start of the minute the form was rendered in: the article
# page is then the same for every reader within that minute (one ETag, one copy
# in a shared cache), where a timestamp to the second would change it every
# second.
TIMESTAMP_STEP = 60


def signed_timestamp(article_id: int, when: int) -> str:
    # Signer, not signing.dumps(), which adds the time of signing: the page would
    # change every second again.
    return signing.Signer(salt=TIMESTAMP_SALT).sign_object([article_id, when])


def form_timestamp(article_id: int) -> str:
    """A signed note of which article's form was rendered and when, for the bot
    check. It is the same for every reader of the page within the minute, so it
    cannot be single-use on its own: services.post_comment lets each IP use it for
    one comment."""
    now = int(time.time())
    return signed_timestamp(article_id, now - now % TIMESTAMP_STEP)


def read_form_timestamp(token: str) -> tuple[int, int] | None:
    """(article id, time shown) from a form's timestamp; None if forged."""
    try:
        value = signing.Signer(salt=TIMESTAMP_SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2):
        return None  # Another shape: a form rendered before articles were bound.
    article_id, shown = value
    if not (isinstance(article_id, int) and isinstance(shown, int)):
        return None
    return article_id, shown


class CommentForm(forms.Form):
    """The "Leave a Reply" form. Its bot check (a honeypot and a signed timestamp)
    never rejects: `bot_reason()` says why a submission looks automated, and the
    comment is then kept as spam, so a bot learns nothing."""

    name = forms.CharField(label="Name", max_length=100)
    email = forms.EmailField(
        label="Email",
        max_length=254,
        validators=[validate_no_control_characters, validate_email_domain_is_a_name],
    )
    url = forms.URLField(
        label="Website",
        max_length=200,
        required=False,
        assume_scheme="https",
        validators=[validate_no_control_characters],
    )
    comment = forms.CharField(label="Comment", widget=forms.Textarea, strip=True)
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)
    remember = forms.BooleanField(
        label="Save my name, email, and website in this browser for the next time "
        "I comment.",
        required=False,
    )
    notify = forms.BooleanField(
        label="Notify me of follow-up comments by email", required=False
    )
    # Hidden from people; bots that fill every field fill this one too.
    homepage = forms.CharField(required=False)
    ts = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, article_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.article_id = article_id
        limit = settings.COMMENTS_MAX_LENGTH
        self.fields["comment"].max_length = limit
        self.fields["comment"].validators.append(
            MaxLengthValidator(
                limit,
                message=f"Please keep your comment under {limit} characters "
                "(it is %(show_value)d).",
            )
        )
        self.fields["comment"].widget.attrs["maxlength"] = str(limit)
        if not self.is_bound:
            self.initial.setdefault("ts", form_timestamp(article_id))

    def clean_name(self):
        return self._required(normalise_line(self.cleaned_data["name"]), "name")

    def clean_comment(self):
        return self._required(normalise_text(self.cleaned_data["comment"]), "comment")

    def _required(self, value: str, field: str) -> str:
        # Only invisible characters were typed: to the reader the field looks empty.
        if not value:
            raise ValidationError(
                self.fields[field].error_messages["required"], code="required"
            )
        return value

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def bot_reason(self) -> str:
        """Why this submission looks automated; "" when it looks human."""
        if self.data.get("homepage", "").strip():
            return "the hidden field was filled in"
        stamp = read_form_timestamp(self.data.get("ts", ""))
        if stamp is None:
            return "the form timestamp is missing or forged"
        article_id, shown = stamp
        if article_id != self.article_id:
            return "the form was shown on another article"
        elapsed = time.time() - shown
        if elapsed < settings.COMMENTS_MIN_SECONDS:
            return f"sent {elapsed:.1f} seconds after the form was shown"
        if elapsed > settings.COMMENTS_FORM_MAX_AGE:
            return "the form was shown too long ago"
        return ""
