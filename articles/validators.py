"""
Clean-ups and checks for the free text readers type into the public forms.

Unicode's control characters (category Cc: NUL, BEL, ESC, ...) and format
characters (Cf: bidi overrides, zero-width spaces, byte order marks) are
invisible. Nobody means to type them, and stored they can garble an editor's
terminal or email, or change how the text around them reads. Prose and names
lose them; a value such as an address, which removing characters would turn into
a different one, is refused instead.
"""

import string
import unicodedata

from django.core.exceptions import ValidationError

CONTROL_CATEGORIES = frozenset({"Cc", "Cf"})

# Zero-width joiners hold emoji sequences and Persian and Indic words together:
# prose keeps them, names (where they only help an impostor) do not.
JOINERS = "\u200c\u200d"


def is_control_character(ch: str) -> bool:
    return unicodedata.category(ch) in CONTROL_CATEGORIES


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
