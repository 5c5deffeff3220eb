"""The review workflow in a real browser, as the writer and the editor use it:
draft, submit, read-only while waiting, sent back with a note, resubmitted,
published; and an editor duplicating a story as a new draft."""

import pytest

from articles.models import Article
from tests.conftest import run_axe
from tests.factories import make_article, make_author, make_category, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests"


def staff(username, group):
    user = make_staff(username, group)
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(browser, live_server, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


def violations(page):
    return [rule["id"] for rule in run_axe(page).response["violations"]]


def click_and_wait(page, selector):
    # Generous: on a loaded machine a submit can take several seconds.
    with page.expect_navigation(timeout=30_000):
        page.click(selector)


def test_a_story_goes_from_draft_through_review_to_publication(browser, live_server):
    category = make_category(name="Culture", slug="culture")
    writer = staff("writer", "Writers")
    make_author(name="Lilit Writer", slug="lilit", user=writer)
    staff("editor", "Editors")
    article = make_article(
        title="Choir sings in the old market",
        slug="choir",
        body="<p>The choir sang.</p>",
        category=category,
        status=Article.Status.DRAFT,
        published_at=None,
        created_by=writer,
    )
    change = f"{live_server.url}/admin/articles/article/{article.pk}/change/"

    # The writer submits their draft; it becomes read-only to them.
    writer_page = log_in(browser, live_server, "writer")
    writer_page.goto(change)
    click_and_wait(writer_page, "input[name=_submit_for_review]")
    assert writer_page.get_by_text("Submitted for review").is_visible()
    writer_page.goto(change)
    assert writer_page.get_by_text("until then it is read-only").is_visible()
    assert violations(writer_page) == []
    assert writer_page.locator("input[name=_save]").count() == 0
    assert writer_page.locator("#id_title").count() == 0

    # The editor finds it on the front page and sends it back with a note.
    editor_page = log_in(browser, live_server, "editor")
    panel = editor_page.locator("#ready-for-review")
    assert panel.get_by_text("Ready for review (1)").is_visible()
    assert violations(editor_page) == []
    click_and_wait(
        editor_page, "#ready-for-review >> text=Choir sings in the old market"
    )
    click_and_wait(editor_page, "text=Send back to writer")
    click_and_wait(editor_page, "input[name=_send_back]")  # no note yet
    assert editor_page.get_by_text("Tell the writer what to change.").is_visible()
    assert violations(editor_page) == []
    editor_page.fill("#id_note", "Name the choir and its conductor.")
    click_and_wait(editor_page, "input[name=_send_back]")
    assert editor_page.get_by_text("went back to its writer").is_visible()

    # The writer sees the note, edits and submits again.
    writer_page.goto(live_server.url + "/admin/")
    assert (
        writer_page.locator("#your-stories")
        .get_by_text("Sent back: Name the choir and its conductor.")
        .is_visible()
    )
    assert violations(writer_page) == []
    writer_page.goto(change)
    assert writer_page.get_by_text("Name the choir and its conductor.").is_visible()
    writer_page.fill("#id_title", "Yerevan Chamber Choir sings in the old market")
    click_and_wait(writer_page, "input[name=_submit_for_review]")
    article.refresh_from_db()
    assert article.status == Article.Status.REVIEW
    assert article.title == "Yerevan Chamber Choir sings in the old market"

    # The editor publishes it from the list.
    editor_page.goto(live_server.url + "/admin/articles/article/?state=review")
    editor_page.check(f"input[name=_selected_action][value='{article.pk}']")
    editor_page.select_option("select[name=action]", "publish")
    click_and_wait(editor_page, "button[name=index]")
    assert editor_page.get_by_text("1 article published.").is_visible()
    article.refresh_from_db()
    assert article.is_published
    assert article.review_note == ""


def test_an_editor_duplicates_a_story_as_a_new_draft(browser, live_server):
    staff("editor", "Editors")
    original = make_article(title="Floods in the valley", slug="floods")

    page = log_in(browser, live_server, "editor")
    page.goto(f"{live_server.url}/admin/articles/article/{original.pk}/change/")
    click_and_wait(page, "text=Duplicate as new draft")

    copy = Article.objects.get(slug="copy-of-floods")
    assert page.url.endswith(f"/admin/articles/article/{copy.pk}/change/")
    assert page.input_value("#id_title") == "Copy of Floods in the valley"
    assert copy.status == Article.Status.DRAFT
