"""
Hostile form values on the public forms, by hand and by Hypothesis: over-long
values, NUL bytes, control and bidi characters, odd Unicode. Every submission is
either refused with an error the reader can see, or stored clean; never a 500.
"""

import itertools
import unicodedata

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from comments.forms import form_timestamp
from comments.models import Comment
from tests.factories import make_article

_addresses = itertools.count(1)

HOSTILE_VALUES = [
    "nul\x00byte",
    "\x00",
    "bell\x07and\x1bescape",
    "right-to-left \u202eevil.exe\u202c",
    "zero\u200bwidth\u200djoiner\ufeff",
    "line\u2028separator\u2029paragraph",
    "e\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301 combining",
    "\U0001f600\U0001f3f3\ufe0f\u200d\U0001f308 emoji",
    "\ud7ff\ue000\uffff noncharacters",
    "ｆｕｌｌｗｉｄｔｈ",
    "x" * 10_000,
    " " * 50,
    "\t\r\n\r\n",
    "Robert'); DROP TABLE comments_comment;--",
    "${jndi:ldap://127.0.0.1/a}",
    "{{ settings.SECRET_KEY }}{% debug %}",
    "%00%0d%0aSet-Cookie: x=1",
    "https://example.com/\x1b[31mred\u202e",
]


def _post(client, article, **fields):
    data = {
        "name": "Reader",
        "email": f"reader{next(_addresses)}@example.net",
        "url": "",
        "comment": "A fair point about the ferry.",
        "homepage": "",
        "ts": form_timestamp(article.pk),
        **fields,
    }
    n = next(_addresses)
    return client.post(
        reverse("comments:post", args=[article.pk]),
        data,
        REMOTE_ADDR=f"10.40.{n // 250 % 250}.{n % 250 + 1}",
    )


def _control_characters(value: str) -> list[str]:
    """Characters that have no business in a stored name, address or URL."""
    return [
        f"U+{ord(ch):04X}"
        for ch in value
        if unicodedata.category(ch) in {"Cc", "Cs"} or ch in "\u202a\u202b\u202d\u202e"
    ]


def _assert_refused_clearly_or_stored_clean(response, before: int):
    assert response.status_code in {303, 400}, response.content[:500]
    body = response.content.decode()
    if response.status_code == 400:
        assert 'class="field-error"' in body or 'class="form-errors"' in body
        assert Comment.objects.count() == before
        return
    comment = Comment.objects.latest("id")
    for field in ("author_name", "author_email", "author_url"):
        value = getattr(comment, field)
        assert _control_characters(value) == [], (field, value)
    assert _control_characters(comment.text.replace("\n", "")) == [], comment.text
    for field in ("author_name", "text", "html"):
        assert "\x00" not in getattr(comment, field)


def _cases():
    for field in ("name", "email", "url", "comment"):
        for number, value in enumerate(HOSTILE_VALUES):
            yield pytest.param(field, value, id=f"{field}-{number}")


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), list(_cases()))
def test_a_hostile_value_in_the_comment_form_is_refused_or_stored_clean(
    client, settings, field, value
):
    settings.COMMENTS_MIN_SECONDS = 0
    article = make_article()
    before = Comment.objects.count()
    response = _post(client, article, **{field: value})
    _assert_refused_clearly_or_stored_clean(response, before)


@pytest.mark.django_db
def test_stored_hostile_comments_render_on_the_article_page(client, settings):
    from comments import services

    settings.COMMENTS_MIN_SECONDS = 0
    article = make_article()
    for value in HOSTILE_VALUES:
        _post(client, article, comment=value, name=value[:100])
    comments = list(Comment.objects.filter(article=article))
    assert comments
    services.moderate(comments=comments, status=Comment.Status.APPROVED)
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    assert "\x00" not in response.content.decode()


_any_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=0, max_size=120
)


@pytest.mark.django_db
@hypothesis_settings(
    # The same examples every run (CI must not turn red by chance) and no
    # example database written into the working tree.
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=_any_text,
    email=st.one_of(st.emails(), _any_text),
    url=st.one_of(
        st.just(""),
        _any_text,
        st.from_regex(r"https?://[a-z]{1,10}\.[a-z]{2,3}/\S{0,30}", fullmatch=True),
    ),
    comment=st.one_of(_any_text, st.text(min_size=4990, max_size=5010)),
)
def test_fuzzed_comment_forms_never_fail_and_never_store_junk(
    name, email, url, comment
):
    article = make_article()
    before = Comment.objects.count()
    with override_settings(COMMENTS_MIN_SECONDS=0):
        response = _post(
            Client(), article, name=name, email=email, url=url, comment=comment
        )
    _assert_refused_clearly_or_stored_clean(response, before)


# --- The newsletter sign-up -----------------------------------------------------------


@pytest.mark.django_db
@hypothesis_settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    email=st.one_of(st.emails(), _any_text),
    newsletters=st.lists(st.integers(min_value=-5, max_value=10**12), max_size=3),
    source=_any_text,
)
def test_fuzzed_sign_ups_never_fail_and_store_only_clean_addresses(
    email, newsletters, source
):
    from newsletter.models import Newsletter, Subscriber

    listed = Newsletter.objects.listed().first() or Newsletter.objects.create(
        name="Morning Briefing", slug="morning-briefing"
    )
    n = next(_addresses)
    response = Client().post(
        reverse("newsletter:subscribe"),
        {"email": email, "newsletters": [listed.pk, *newsletters], "source": source},
        REMOTE_ADDR=f"10.50.{n // 250 % 250}.{n % 250 + 1}",
    )
    assert response.status_code in {302, 400}, response.content[:500]
    if response.status_code == 400:
        assert 'class="field-error"' in response.content.decode()
    for subscriber in Subscriber.objects.all():
        assert subscriber.email == subscriber.email.strip().lower()
        assert _control_characters(subscriber.email) == []
        assert "\x00" not in subscriber.consent_source
