"""A reader whose comment could not be saved (database down) is told so, and the
browser's Back button brings back the form with their text in it."""

from unittest import mock

import pytest
from django.db import OperationalError

from tests.factories import make_article

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMMENT = "The new timetable leaves the 7:40 ferry out. Was that on purpose?"


def test_back_from_the_503_page_returns_to_the_typed_comment(page, live_server):
    article = make_article(title="Ferry timetable changes on Monday")
    page.goto(live_server.url + article.get_absolute_url())
    page.fill("#id_name", "Aram")
    page.fill("#id_email", "aram@example.org")
    page.fill("#id_comment", COMMENT)

    # The live server runs in this process: every query now fails as if the
    # database server had gone away.
    with mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError("server closed the connection unexpectedly"),
    ):
        with page.expect_navigation():
            page.locator("#commentform [type=submit]").click()
        assert "Your message was not saved, please try again." in page.content()

    page.go_back()

    assert page.input_value("#id_comment") == COMMENT
    assert page.input_value("#id_name") == "Aram"
