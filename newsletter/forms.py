from django import forms

from safetext.validators import (
    normalise_line,
    validate_email_domain_is_a_name,
    validate_no_control_characters,
)

from .models import Newsletter, normalize_email


class SignupForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        validators=[validate_no_control_characters, validate_email_domain_is_a_name],
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter a complete email address, like name@example.com.",
        },
    )
    newsletters = forms.ModelMultipleChoiceField(
        queryset=Newsletter.objects.listed(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one newsletter."},
    )
    # Left empty by people (it is hidden from them); bots fill in every field.
    website = forms.CharField(required=False, label="Leave this field empty")
    # The page the form was sent from, kept as part of the consent record.
    source = forms.CharField(required=False, max_length=300)

    def clean_email(self):
        return normalize_email(self.cleaned_data["email"])

    def clean_source(self):
        return normalise_line(self.cleaned_data["source"])

    def is_spam(self) -> bool:
        return bool(self.data.get("website"))


class PreferencesForm(forms.Form):
    newsletters = forms.ModelMultipleChoiceField(
        queryset=Newsletter.objects.listed(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Send me",
    )
