"""
Signed links that stand in for a login: subscribers have no account.

A confirmation link expires (NEWSLETTER_CONFIRM_MAX_AGE); a preferences or
unsubscribe link does not, because one-click unsubscribe must keep working from an
old email. Each kind has its own salt, so one cannot be used as another.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from publicpages.addresses import absolute_url

# Links carry the subscriber's id, never the address: a signed value is only
# base64, readable by anyone who sees the URL in a log. (Links that carried the
# address were signed with "newsletter.confirm"; they now show the invalid page.)
CONFIRM_SALT = "newsletter.confirm-subscriber"
MANAGE_SALT = "newsletter.manage"


class InvalidToken(Exception):
    """The link was altered or belongs to another purpose."""


class ExpiredToken(InvalidToken):
    """The link was genuine but is too old."""


def make_confirm_token(subscriber_id: int) -> str:
    return signing.dumps(subscriber_id, salt=CONFIRM_SALT)


def read_confirm_token(token: str) -> int:
    """The subscriber id in a confirmation link."""
    try:
        subscriber_id = signing.loads(
            token, salt=CONFIRM_SALT, max_age=settings.NEWSLETTER_CONFIRM_MAX_AGE
        )
    except signing.SignatureExpired:
        raise ExpiredToken from None
    except signing.BadSignature:
        raise InvalidToken from None
    if not isinstance(subscriber_id, int):
        raise InvalidToken
    return subscriber_id


_manage_signer = signing.Signer(salt=MANAGE_SALT)


def make_manage_token(subscriber_id: int) -> str:
    return _manage_signer.sign(str(subscriber_id))


def read_manage_token(token: str) -> int:
    try:
        return int(_manage_signer.unsign(token))
    except (signing.BadSignature, ValueError):
        raise InvalidToken from None


def confirm_url(subscriber_id: int) -> str:
    token = make_confirm_token(subscriber_id)
    return absolute_url(reverse("newsletter:confirm", args=[token]))


def preferences_url(subscriber_id: int) -> str:
    token = make_manage_token(subscriber_id)
    return absolute_url(reverse("newsletter:preferences", args=[token]))


def unsubscribe_url(subscriber_id: int) -> str:
    token = make_manage_token(subscriber_id)
    return absolute_url(reverse("newsletter:unsubscribe", args=[token]))
