"""
Email messages that carry list headers (RFC 2369, RFC 8058 one-click unsubscribe).

Python's email package folds a header longer than 78 characters, and a URL has no
space to fold at, so it rewrites the whole value as RFC 2047 encoded words
(python/cpython#85725). Mail providers then ignore the header: Gmail shows no
unsubscribe button. These messages write List-Unsubscribe and List-Unsubscribe-Post
on one line, as RFC 5322 allows up to 998 characters; everything else (subjects in
any language, addresses, bodies) is built by Django's email API as usual.
"""

import email.policy
from email.headerregistry import HeaderRegistry, UnstructuredHeader

from django.core.mail import EmailMessage, EmailMultiAlternatives

# RFC 5322's limit for a line, the header's name included.
MAX_LINE_LENGTH = 998


class OneLineHeader(UnstructuredHeader):
    """A header written as one line when it is ASCII and fits, else folded as usual."""

    def fold(self, *, policy):
        line = f"{self.name}: {self}"
        if line.isascii() and len(line) <= MAX_LINE_LENGTH:
            return line + policy.linesep
        return super().fold(policy=policy)


def _registry_with_one_line_list_headers() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in ("list-unsubscribe", "list-unsubscribe-post"):
        registry.map_to_type(name, OneLineHeader)
    return registry


LIST_HEADERS_REGISTRY = _registry_with_one_line_list_headers()


class ListHeadersMixin:
    def message(self, *, policy=email.policy.default):
        # Django's SMTP backend asks for email.policy.SMTP: whatever policy is
        # asked for keeps its rules, with the list headers written whole.
        return super().message(
            policy=policy.clone(header_factory=LIST_HEADERS_REGISTRY)
        )


class ListEmailMessage(ListHeadersMixin, EmailMessage):
    """An EmailMessage whose list headers reach the mail client intact."""


class ListEmailMultiAlternatives(ListHeadersMixin, EmailMultiAlternatives):
    """An EmailMultiAlternatives whose list headers reach the mail client intact."""
