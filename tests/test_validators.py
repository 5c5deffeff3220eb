"""The clean-ups and checks shared by the public forms' free-text fields."""

import pytest
from django.core.exceptions import ValidationError

from safetext.validators import (
    normalise_line,
    normalise_text,
    replace_control_characters,
    validate_no_control_characters,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Anahit Sargsyan", "Anahit Sargsyan"),
        ("bell\x07and\x1bescape", "bellandescape"),
        ("\u202eevil.exe\u202c", "evil.exe"),
        ("zero\u200bwidth\u200djoiner\ufeff", "zerowidthjoiner"),
        ("nul\x00byte", "nulbyte"),
        ("  Anahit\t\r\n Sargsyan  ", "Anahit Sargsyan"),
        ("Anahit \u200b Sargsyan", "Anahit Sargsyan"),
        ("Ana\u00e9lle \U0001f600", "Ana\u00e9lle \U0001f600"),
        ("\x07\u200b\u202e", ""),
    ],
)
def test_normalise_line_removes_control_characters_and_collapses_whitespace(
    raw, expected
):
    assert normalise_line(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("First line.\r\n\r\nSecond.", "First line.\n\nSecond."),
        ("old\rmac", "old\nmac"),
        ("a\tb", "a b"),
        ("bell\x07 \x1b[31mred\u202e", "bell [31mred"),
        ("  \u200b padded \x00 ", "padded"),
        # Noncharacters and lone surrogates: XML (every feed) cannot carry them.
        ("a\ufffeb\ud800c\U0001ffff", "abc"),
        # Joiners hold emoji sequences and Persian words together.
        ("\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f3f3\ufe0f\u200d\U0001f308"),
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645",
        ),
    ],
)
def test_normalise_text_keeps_line_breaks_and_removes_other_controls(raw, expected):
    assert normalise_text(raw) == expected


def test_replace_control_characters_uses_the_replacement_and_spares_keep():
    text = "a\x07b\u200bc\nd"
    assert replace_control_characters(text, " ") == "a b c d"
    assert replace_control_characters(text, keep="\n") == "abc\nd"


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/\x1b[31mred",
        "https://example.com/\u202egpj.exe",
        "reader@exa\u202emple.com",
        "reader@example.com\u200b",
        "nul\x00",
    ],
)
def test_it_refuses_a_value_with_control_characters(value):
    with pytest.raises(ValidationError) as refused:
        validate_no_control_characters(value)
    assert refused.value.code == "control_characters"
    assert refused.value.messages == [
        "This contains hidden control or formatting characters. Please type it again."
    ]


@pytest.mark.parametrize(
    "value", ["https://example.com/caf\u00e9?q=a b", "reader@example.com", ""]
)
def test_it_accepts_a_value_without_control_characters(value):
    validate_no_control_characters(value)
