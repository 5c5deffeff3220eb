"""Uploaded images load in every profile: with DEBUG off the app serves them, with
headers that let any cache keep them for a year."""

import io
import json
import re
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from tests.factories import make_article, make_author

IMMUTABLE = "public, max-age=31536000, immutable"


def jpeg(size=(1300, 800)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, "JPEG")
    return buffer.getvalue()


def image_urls(html):
    """Every image address an article page gives: img src, srcset, og:image and
    the JSON-LD image."""
    urls = re.findall(r'<img[^>]* src="([^"]+)"', html)
    for srcset in re.findall(r'srcset="([^"]+)"', html):
        urls += [candidate.split()[0] for candidate in srcset.split(", ")]
    urls += re.findall(r'<meta property="og:image" content="([^"]+)"', html)
    json_ld = re.search(
        r'<script type="application/ld\+json"[^>]*>(.*?)</script>', html
    )
    urls.append(json.loads(json_ld[1])["image"]["url"])
    return urls


@pytest.fixture
def article(db):
    author = make_author(photo=ContentFile(jpeg((300, 300)), name="me.jpg"))
    return make_article(
        image=ContentFile(jpeg(), name="harbour.jpg"),
        image_alt="Cranes over the harbour",
        authors=[author],
    )


def assert_served_for_ever(client, url):
    response = client.get(urlsplit(url).path)
    assert response.status_code == 200, url
    assert response["Content-Type"].startswith("image/"), url
    assert response["Cache-Control"] == IMMUTABLE
    assert "Set-Cookie" not in response
    assert Image.open(io.BytesIO(b"".join(response.streaming_content)))


def test_every_image_of_an_article_page_loads_with_debug_off(client, article, settings):
    assert settings.DEBUG is False
    html = client.get(article.get_absolute_url()).content.decode()

    urls = image_urls(html)

    media = [url for url in urls if "/media/" in url]
    assert len(media) >= 5  # the original, three renditions, og:image, JSON-LD
    for url in urls:
        assert_served_for_ever(client, url)


def test_feed_enclosures_and_author_photos_load(client, article):
    author = article.authors.get()
    feed = client.get("/feed/").content.decode()
    enclosures = re.findall(r'<enclosure [^>]*url="([^"]+)"', feed)
    page = client.get(author.get_absolute_url()).content.decode()
    photos = re.findall(r'<img class="author-photo" src="([^"]+)"', page)

    assert enclosures and photos
    for url in enclosures + photos:
        assert_served_for_ever(client, url)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/media/missing.jpg", "/media/../newsroom/settings.py", "/media/"]
)
def test_nothing_outside_stored_images_is_served(client, path):
    assert client.get(path).status_code in (400, 404)


@pytest.mark.django_db
def test_an_image_is_not_modified_since_it_was_stored(client, article):
    url = f"/media/{article.image.name}"
    last_modified = client.get(url)["Last-Modified"]

    response = client.get(url, headers={"if-modified-since": last_modified})

    assert response.status_code == 304


@pytest.mark.django_db
@pytest.mark.parametrize(
    "size",
    [(2400, 1600), pytest.param((1200, 20000), marks=pytest.mark.slow), (300, 200)],
)
def test_json_ld_and_og_image_give_the_size_of_the_file_they_point_to(client, size):
    article = make_article(
        image=ContentFile(jpeg(size), name="harbour.jpg"), image_alt="Harbour"
    )
    html = client.get(article.get_absolute_url()).content.decode()
    json_ld = re.search(
        r'<script type="application/ld\+json"[^>]*>(.*?)</script>', html
    )
    image = json.loads(json_ld[1])["image"]
    og = dict(
        re.findall(r'<meta property="og:image(?::(\w+))?" content="([^"]+)"', html)
    )

    assert og[""] == image["url"]
    served = client.get(urlsplit(image["url"]).path)
    real_size = Image.open(io.BytesIO(b"".join(served.streaming_content))).size
    assert (image["width"], image["height"]) == real_size
    assert (int(og["width"]), int(og["height"])) == real_size
