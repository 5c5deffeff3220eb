"""Helpers shared by the tests/test_comments_*.py modules."""

import itertools
import time

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse

from comments.forms import signed_timestamp

_addresses = itertools.count(1)


def form_data(article=None, **fields):
    """What a person's browser sends: the article's form as shown a minute ago."""
    data = {
        "name": "Anahit Sargsyan",
        "email": "anahit@example.org",
        "url": "",
        "comment": "The ferry timetable changed last week, worth a follow-up.",
        "parent": "",
        "homepage": "",
        "ts": signed_form_timestamp(article, shown=int(time.time()) - 60),
    }
    data.update(fields)
    return data


def signed_form_timestamp(article, *, shown: int) -> str:
    """The comment form's timestamp for `article`, as if shown at `shown`."""
    return signed_timestamp(article.pk if article else 0, shown)


def post(client, article, ip=None, **fields):
    """Post the comment form; each call comes from a new IP unless `ip` is given,
    so the flood limit only bites where a test means it to."""
    n = next(_addresses)
    ip = ip or f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    return client.post(
        reverse("comments:post", args=[article.pk]),
        form_data(article, **fields),
        REMOTE_ADDR=ip,
    )


def signed_cookie(name: str, value: str, *, salt: str) -> str:
    """A cookie value signed the way Django's set_signed_cookie signs it."""
    response = HttpResponse()
    response.set_signed_cookie(name, value, salt=salt)
    return response.cookies[name].value


def confirm_address_in(client, email="anahit@example.org"):
    """Give `client` the cookie that opening a confirmation link for `email` sets."""
    from comments.views import CONFIRMED_SALT

    client.cookies[settings.COMMENTS_CONFIRMED_COOKIE] = signed_cookie(
        settings.COMMENTS_CONFIRMED_COOKIE, email, salt=CONFIRMED_SALT
    )


def make_trusted(client, email="anahit@example.org", name="Anahit Sargsyan"):
    """A commenter the rules publish at once: an approved comment under this name
    and address, and a browser (`client`) that confirmed the address."""
    from tests.factories import make_article, make_comment

    make_comment(make_article(), author_email=email, author_name=name)
    confirm_address_in(client, email)
