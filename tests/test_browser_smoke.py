import pytest

from tests.factories import make_article

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reader_opens_the_home_page(page, live_server):
    make_article(title="Apricot harvest breaks records")
    page.goto(live_server.url + "/")
    assert page.get_by_role("link", name="Apricot harvest breaks records").is_visible()
