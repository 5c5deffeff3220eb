"""Cross-site posting to the public forms (publicpages.crossorigin): refused from
another site, accepted from this one without a per-reader token."""

import pytest
from django.test import Client
from django.urls import reverse

from comments.models import Comment
from newsletter.models import Subscriber
from tests.comments_helpers import form_data
from tests.factories import make_article, make_newsletter, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def article():
    return make_article(title="Night trains return")


def _post_comment(client, article, **headers):
    return client.post(
        reverse("comments:post", args=[article.pk]),
        form_data(article, comment="Welcome back, night trains."),
        headers=headers,
        REMOTE_ADDR="192.0.2.10",
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        # A sibling subdomain is another site's page too.
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://attacker.example"},
        {"Origin": "null"},
    ],
)
def test_a_comment_posted_from_another_site_is_refused(article, headers):
    response = _post_comment(Client(enforce_csrf_checks=True), article, **headers)

    assert response.status_code == 403
    assert "This form was sent from another website" in response.text
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin"},
        # Typed in the address bar or bookmarked: the reader's own doing.
        {"Sec-Fetch-Site": "none"},
        # Sec-Fetch-Site outranks Origin.
        {"Sec-Fetch-Site": "same-origin", "Origin": "https://elsewhere.example"},
        # A browser without Fetch Metadata: Origin names this site.
        {"Origin": "http://testserver"},
        # Not a browser at all (curl, a script): neither header.
        {},
    ],
)
def test_a_comment_posted_from_this_site_is_accepted_without_a_token(article, headers):
    response = _post_comment(Client(enforce_csrf_checks=True), article, **headers)

    assert response.status_code == 303
    assert Comment.objects.count() == 1


def test_an_origin_in_csrf_trusted_origins_is_accepted(article, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://www.example.com"]

    response = _post_comment(
        Client(enforce_csrf_checks=True), article, Origin="https://www.example.com"
    )

    assert response.status_code == 303


def test_a_newsletter_sign_up_from_another_site_is_refused():
    newsletter = make_newsletter()

    response = Client(enforce_csrf_checks=True).post(
        reverse("newsletter:subscribe"),
        {"email": "reader@example.org", "newsletters": [newsletter.pk]},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert response.status_code == 403
    assert not Subscriber.objects.exists()


def test_a_newsletter_sign_up_from_this_site_needs_no_token():
    newsletter = make_newsletter()

    response = Client(enforce_csrf_checks=True).post(
        reverse("newsletter:subscribe"),
        {"email": "reader@example.org", "newsletters": [newsletter.pk]},
        headers={"Sec-Fetch-Site": "same-origin"},
    )

    assert response.status_code == 302
    assert Subscriber.objects.filter(email="reader@example.org").exists()


def test_a_signed_in_user_still_needs_the_csrf_token(article):
    editor = Client(enforce_csrf_checks=True)
    editor.force_login(make_staff("editor"))

    refused = _post_comment(editor, article, **{"Sec-Fetch-Site": "same-origin"})
    page = editor.get(article.get_absolute_url())
    token = page.context["csrf_token"]
    accepted = editor.post(
        reverse("comments:post", args=[article.pk]),
        form_data(
            article, comment="From the newsroom.", csrfmiddlewaretoken=str(token)
        ),
        headers={"Sec-Fetch-Site": "same-origin"},
        REMOTE_ADDR="192.0.2.11",
    )

    assert refused.status_code == 403
    assert 'name="csrfmiddlewaretoken"' in page.text
    assert accepted.status_code == 303


def test_the_admin_keeps_its_csrf_token(admin_user):
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(admin_user)

    response = staff.post(
        reverse("admin:articles_category_add"),
        {"name": "Forged", "slug": "forged"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )

    assert response.status_code == 403


def test_public_forms_carry_no_token_and_set_no_cookie(article):
    response = Client().get(article.get_absolute_url())

    assert 'id="commentform"' in response.text
    assert 'class="newsletter-form"' in response.text
    assert "csrfmiddlewaretoken" not in response.text
    assert "nonce" not in response.text
    assert not response.cookies
