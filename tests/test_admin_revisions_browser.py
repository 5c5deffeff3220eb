"""Revisions in a real browser, as an editor uses them: edit, compare two
revisions, restore one; and two editors saving one story."""

import pytest

from articles.models import Article
from tests.conftest import run_axe
from tests.factories import make_article, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username):
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def make_editor(username):
    editor = make_staff(username, "Editors")
    editor.set_password("pw-for-tests")
    editor.save()
    return editor


def save(page):
    with page.expect_navigation(timeout=30_000):
        page.click("input[name=_continue]")


def test_an_editor_compares_two_revisions_and_restores_one(page, live_server):
    make_editor("editor")
    article = make_article(title="Bridge reopens", slug="bridge-reopens")
    change_url = f"{live_server.url}/admin/articles/article/{article.pk}/change/"
    log_in(page, live_server, "editor")
    page.goto(change_url)
    save(page)
    page.fill("#id_title", "Bridge reopens after a year")
    save(page)

    page.click("text=History")
    page.click("text=Compare two revisions")
    page.wait_for_selector(".revision-diff")
    assert page.locator("ins", has_text="after a year").count() == 1
    assert run_axe(page).violations_count == 0
    with page.expect_navigation(timeout=30_000):
        page.click("text=Restore the revision of")

    article.refresh_from_db()
    assert article.title == "Bridge reopens"
    page.goto(change_url.replace("change/", "history/"))
    assert page.locator("#change-history tbody tr").count() == 3


def test_the_second_of_two_editors_saving_one_story_is_told_and_keeps_their_text(
    browser, live_server
):
    make_editor("first")
    make_editor("second")
    article = make_article(title="Council votes", slug="council-votes")
    change_url = f"{live_server.url}/admin/articles/article/{article.pk}/change/"
    pages = []
    for username in ("first", "second"):
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(10_000)
        log_in(page, live_server, username)
        page.goto(change_url)
        pages.append(page)
    first, second = pages

    first.fill("#id_title", "Council votes yes")
    save(first)
    second.fill("#id_title", "Council votes no")
    with second.expect_navigation(timeout=30_000):
        second.click("input[name=_continue]")

    assert second.get_by_text("Someone else saved this article").is_visible()
    assert second.input_value("#id_title") == "Council votes no"
    assert Article.objects.get(pk=article.pk).title == "Council votes yes"
    for page in pages:
        page.context.close()
