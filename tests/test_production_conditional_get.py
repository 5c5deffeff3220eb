"""Conditional GET (ConditionalGetMiddleware) on pages whose bytes do not change
per reader, even with the page cache off."""

import pytest

from tests.factories import make_article

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("address", ["/feed/", "/robots.txt", "/sitemap.xml"])
def test_an_unchanged_page_answers_304(client, address):
    make_article()
    first = client.get(address)
    assert first.status_code == 200

    again = client.get(address, headers={"If-None-Match": first["ETag"]})

    assert again.status_code == 304
    assert again.content == b""


def test_a_changed_page_answers_200(client):
    make_article(title="First story")
    etag = client.get("/feed/")["ETag"]
    make_article(title="Second story")

    response = client.get("/feed/", headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert "Second story" in response.text
