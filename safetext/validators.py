"""
Clean-ups and checks for free text, from readers' forms and editors' alike.

Unicode's control characters (category Cc: NUL, BEL, ESC, ...) and format
characters (Cf: bidi overrides, zero-width spaces, byte order marks) are
invisible. Nobody means to type them, and stored they can garble an editor's
terminal or email, or change how the text around them reads. So can Unicode's
noncharacters (U+FFFE, U+FDD0...) and lone surrogates, which XML, and so every
feed and sitemap, cannot carry at all. Prose and names from readers lose them; a
value such as an address, which removing characters would turn into a different
one, is refused instead.

Stored text has two rules, applied on every save by `CheckedTextMixin`:
one-line values (headlines, names, subjects: every CharField) may hold no control
or format character and no line break, since they end up in email headers and
feed titles; prose (every TextField) may hold line breaks and tabs, but nothing
XML cannot carry.
"""

import re
import string
import unicodedata

from django.core.exceptions import ValidationError
from django.db import models

CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

# Zero-width joiners hold emoji sequences and Persian and Indic words together:
# prose keeps them, names (where they only help an impostor) do not.
JOINERS = "\u200c\u200d"

# Line and paragraph separators: line breaks to email programs and browsers.
LINE_SEPARATORS = "\u2028\u2029"


def is_noncharacter(ch: str) -> bool:
    """Unicode's 66 noncharacters: U+FDD0..U+FDEF and the last two code points
    of every plane (U+FFFE, U+FFFF, U+1FFFE...)."""
    code = ord(ch)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def is_control_character(ch: str) -> bool:
    return unicodedata.category(ch) in CONTROL_CATEGORIES or is_noncharacter(ch)


# Characters an XML document cannot carry (or, for noncharacters, should not): the
# C0 controls but tab and line breaks, DEL and C1, surrogates, noncharacters. One
# regular expression, as feeds pass every text of every item through it.
XML_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(
        chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17)
    )
    + "]"
)


def strip_xml_illegal(text: str) -> str:
    """`text` without the characters XML cannot carry: for feeds and sitemaps,
    which must stay valid whatever old rows hold."""
    return XML_ILLEGAL.sub("", text)


def replace_control_characters(
    text: str, replacement: str = "", *, keep: str = ""
) -> str:
    """`text` with each control or format character that is not in `keep`
    replaced by `replacement`."""
    return "".join(
        replacement if ch not in keep and is_control_character(ch) else ch
        for ch in text
    )


def normalise_line(text: str) -> str:
    """A name or other one-line value as the reader meant it: control and format
    characters removed, and each run of whitespace (tabs and line breaks too)
    made one space."""
    return " ".join(replace_control_characters(text, keep=string.whitespace).split())


def normalise_text(text: str) -> str:
    """Prose, such as a comment: line breaks kept (as "\\n"), a tab made a space,
    and any other control or format character but the JOINERS removed."""
    text = "\n".join(text.splitlines()).replace("\t", " ")
    return replace_control_characters(text, keep="\n" + JOINERS).strip()


def validate_no_control_characters(value: str) -> None:
    if any(is_control_character(ch) for ch in value):
        raise ValidationError(
            "This contains hidden control or formatting characters. "
            "Please type it again.",
            code="control_characters",
        )


def validate_email_domain_is_a_name(value: str) -> None:
    """Refuse user@[192.0.2.1]: Django's EmailField accepts a domain literal, but
    no reader's mailbox needs one, and mail to a bare IP skips every check that
    a domain's DNS records allow."""
    if value.rpartition("@")[2].startswith("["):
        raise ValidationError(
            "Enter an address with a domain name, like name@example.com, "
            "not an IP address in brackets.",
            code="domain_literal",
        )


def validate_single_line(value: str) -> None:
    """One line of visible text: no line break, tab, control or format character
    (joiners excepted, for emoji and Persian or Indic words)."""
    if any(
        ch in LINE_SEPARATORS or (ch not in JOINERS and is_control_character(ch))
        for ch in value
    ):
        raise ValidationError(
            "This must be one line of text, without line breaks, tabs or hidden "
            "control characters. Please type it again.",
            code="not_single_line",
        )


def validate_xml_text(value: str) -> None:
    """Prose: line breaks and tabs allowed, nothing a feed (XML) cannot carry."""
    if XML_ILLEGAL.search(value):
        raise ValidationError(
            "This contains hidden control characters (invisible, often pasted "
            "from another program). Please type it again.",
            code="control_characters",
        )


def text_validator_for(field: models.Field):
    """The rule for a stored text field: one line for CharFields (and their kind:
    slugs, emails, URLs), XML-safe prose for TextFields, none for others."""
    if isinstance(field, models.CharField):
        return validate_single_line
    if isinstance(field, models.TextField):
        return validate_xml_text
    return None


class CheckedTextMixin:
    """Refuses text that breaks email headers or feeds on every way in: form and
    full_clean() (as a field error) and save() (as a ValidationError), so imports
    and code are held to the same rules as the admin. Put it first in a model's
    bases. Fields the model computes itself (editable=False) are not checked."""

    def text_errors(self, *, only=None, exclude=()) -> dict[str, list[str]]:
        errors = {}
        for field in self._meta.concrete_fields:
            validator = text_validator_for(field)
            if validator is None or not field.editable or field.name in exclude:
                continue
            if only is not None and field.name not in only:
                continue
            value = getattr(self, field.attname)
            if not value:
                continue
            try:
                validator(value)
            except ValidationError as error:
                errors[field.name] = error.messages
        return errors

    def clean_fields(self, exclude=None):
        # The values as typed, before a field's own cleaning (a sanitiser) could
        # hide what the editor needs to hear about.
        errors = self.text_errors(exclude=exclude or ())
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                errors.setdefault(name, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    def validate_text(self, *, only=None) -> None:
        """Raise ValidationError if a text field (of `only`, if given) breaks
        its rule. save() calls it; a save() that queries with its values first
        calls it earlier too."""
        errors = self.text_errors(only=only)
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        self.validate_text(only=kwargs.get("update_fields"))
        super().save(*args, **kwargs)
