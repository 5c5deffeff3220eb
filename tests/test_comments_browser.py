"""A reader comments, an editor approves it in the admin, everyone then sees it."""

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from comments.models import Comment
from tests.conftest import run_axe, save_screenshot
from tests.factories import make_article, make_comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "The new tram stop by the market saves me twenty minutes a day."


def editors_group():
    """The Editors group with its comment permissions, as the data migration makes
    it (a transactional test before this one may have flushed the migration's rows;
    the permissions themselves come back after every flush)."""
    group, _ = Group.objects.get_or_create(name="Editors")
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="comments",
            codename__in=["view_comment", "change_comment", "delete_comment"],
        )
    )
    return group


@pytest.fixture
def quick_form(settings):
    # The bot check wants a few seconds between showing and sending the form; a
    # test browser types faster than any person.
    settings.COMMENTS_MIN_SECONDS = 0


def leave_a_comment(page, article_url):
    page.goto(article_url)
    page.get_by_label("Name *").fill("Mariam Hakobyan")
    page.get_by_label("Email *").fill("mariam@example.org")
    page.get_by_label("Comment *").fill(TEXT)
    page.get_by_role("button", name="Post Comment").click()


def test_a_reader_posts_an_editor_approves_and_everyone_sees_it(
    browser, page, live_server, django_user_model, quick_form
):
    article = make_article(title="Trams return to the old town")
    url = live_server.url + article.get_absolute_url()
    editor = django_user_model.objects.create_user(
        "editor", password="a-long-editor-password", is_staff=True
    )
    editor.groups.add(editors_group())

    leave_a_comment(page, url)
    page.wait_for_url(f"**{article.get_absolute_url()}#comment-*")
    expect(page.get_by_text("Your comment is awaiting moderation")).to_be_visible()
    expect(page.get_by_text(TEXT)).to_be_visible()
    save_screenshot(page, "comments-awaiting-moderation")

    stranger = browser.new_context().new_page()
    stranger.goto(url)
    expect(stranger.get_by_text(TEXT)).to_have_count(0)

    admin = browser.new_context().new_page()
    admin.goto(live_server.url + "/admin/")
    admin.get_by_label("Username").fill("editor")
    admin.get_by_label("Password").fill("a-long-editor-password")
    admin.get_by_role("button", name="Log in").click()
    admin.get_by_role("link", name="Comments (1 pending)").click()
    admin.locator("input[name=_selected_action]").first.check()
    admin.locator("select[name=action]").select_option("approve")
    admin.get_by_role("button", name="Run").click()
    expect(admin.get_by_text("1 comment approved.")).to_be_visible()
    save_screenshot(admin, "comments-admin-approved")

    stranger.goto(url)
    expect(stranger.get_by_text(TEXT)).to_be_visible()
    expect(stranger.get_by_text("Your comment is awaiting moderation")).to_have_count(0)
    assert "mariam@example.org" not in stranger.content()
    assert Comment.objects.get().status == Comment.Status.APPROVED


def test_the_article_page_with_comments_has_no_axe_violations(page, live_server):
    article = make_article(title="Library opens on Sundays")
    root = make_comment(article, author_name="Arsen", author_url="https://a.example")
    make_comment(article, parent=root, author_name="Sona", text="Agreed, see you.")

    page.goto(live_server.url + article.get_absolute_url())
    results = run_axe(page)
    assert results.violations_count == 0, results.generate_report()

    page.get_by_role("link", name="Reply to Arsen").click()
    expect(page.get_by_role("heading", name="Reply to Arsen")).to_be_visible()
    results = run_axe(page)
    assert results.violations_count == 0, results.generate_report()
    save_screenshot(page, "comments-reply-form")


def test_a_bad_submission_page_has_no_axe_violations(page, live_server, quick_form):
    article = make_article()
    page.goto(live_server.url + article.get_absolute_url())
    page.get_by_label("Name *").fill("Tigran")
    page.get_by_label("Email *").fill("tigran@example.org")
    # The browser's own checks would stop an empty comment; one too long gets
    # through them only if the form is bypassed, so post whitespace instead.
    page.get_by_label("Comment *").fill("   ")
    page.locator("#commentform").evaluate("form => form.noValidate = true")
    page.get_by_role("button", name="Post Comment").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    assert page.get_by_label("Name *").input_value() == "Tigran"
    results = run_axe(page)
    assert results.violations_count == 0, results.generate_report()
