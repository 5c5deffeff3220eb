"""The sign-up box in a real browser: works without JavaScript, passes axe."""

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from newsletter.models import Issue, Subscriber
from tests.conftest import run_axe, save_screenshot
from tests.factories import make_article, make_issue, make_newsletter

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_js_page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def violations(page):
    return [v["id"] for v in run_axe(page).response["violations"]]


def test_signing_up_from_an_article_page_without_javascript(live_server, no_js_page):
    cache.clear()
    make_newsletter(name="Morning Briefing", is_default=True)
    make_newsletter(name="Night Owl")
    article = make_article(title="Lighthouse keeper retires")
    page = no_js_page

    page.goto(live_server.url + article.get_absolute_url())
    box = page.locator(".newsletter-box")
    assert box.get_by_role("heading", name="Sign Up for Our Newsletters").is_visible()
    assert box.get_by_label("Morning Briefing").is_checked()
    assert not box.get_by_label("Night Owl").is_checked()
    box.get_by_label("Email address").fill("Keeper@Example.org")
    box.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "keeper@example.org"
    assert subscriber.consent_source.endswith(article.get_absolute_url())
    assert len(mail.outbox) == 1
    save_screenshot(page, "newsletter-check-inbox")


def test_newsletter_pages_pass_axe(live_server, page):
    cache.clear()
    make_newsletter(name="Morning Briefing", description="Every morning.")
    page.goto(live_server.url + "/newsletter/")
    assert violations(page) == []
    # The error state: a malformed address, kept in the field.
    page.locator("#nl-email").fill("not-an-address")
    page.locator("main").get_by_role("button", name="Sign up").click()
    assert page.locator("#nl-email").input_value() == "not-an-address"
    expect(page.get_by_text("Enter a complete email address")).to_be_visible()
    assert violations(page) == []
    save_screenshot(page, "newsletter-page-error")


def test_the_archive_and_an_issue_pass_axe(live_server, page):
    cache.clear()
    newsletter = make_newsletter(name="Morning Briefing", slug="morning")
    issue = make_issue(
        newsletter,
        subject="Trams are back",
        intro="<p>Good morning.</p>",
        articles=[make_article(title="Tram line opens")],
    )
    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.SENT, started_at=timezone.now()
    )

    page.goto(live_server.url + newsletter.get_archive_url())
    assert violations(page) == []
    page.get_by_role("link", name="Trams are back").click()
    expect(page.get_by_role("heading", name="Trams are back", level=1)).to_be_visible()
    assert violations(page) == []
    save_screenshot(page, "newsletter-issue-web-version")
