"""The newsroom in a real browser: a writer drafts with the body editor, an editor
publishes, and the story reaches readers."""

import pytest

from articles.models import Article
from tests.factories import make_category, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username):
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


def test_a_writer_drafts_in_the_editor_and_an_editor_publishes(browser, live_server):
    make_category(name="Culture", slug="culture")
    writer = make_staff("writer", "Writers")
    writer.set_password("pw-for-tests")
    writer.save()
    editor = make_staff("editor", "Editors")
    editor.set_password("pw-for-tests")
    editor.save()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, live_server, "writer")
    page.goto(live_server.url + "/admin/articles/article/add/")
    # Category is an autocomplete (select2) field: search, then pick.
    # (Picked first: select2 swallows the next click on the page, Save's.)
    page.click("#id_category + .select2 .select2-selection")
    page.fill(".select2-search__field", "Cult")
    page.click(".select2-results__option:has-text('Culture')")
    assert page.input_value("#id_category") != ""
    page.locator("#id_title").press_sequentially("Choir sings in the old market")
    assert page.input_value("#id_slug") == "choir-sings-in-the-old-market"
    body = page.locator(".prose-editor .ProseMirror[contenteditable=true]")
    body.click()
    page.keyboard.type("The choir sang ")
    page.keyboard.press("Control+b")
    page.keyboard.type("for an hour")
    page.keyboard.press("Control+b")
    page.keyboard.type(" in the rain.")
    assert page.locator("#id_status").count() == 0  # writers cannot set it
    # Generous: on a loaded CI machine the submit can take several seconds.
    with page.expect_navigation(timeout=30_000):
        page.click("input[name=_save]")
    assert page.url.endswith("/admin/articles/article/")

    article = Article.objects.get(slug="choir-sings-in-the-old-market")
    assert article.status == Article.Status.DRAFT
    assert article.body == (
        "<p>The choir sang <strong>for an hour</strong> in the rain.</p>"
    )
    assert not Article.objects.published().exists()
    context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, live_server, "editor")
    page.goto(live_server.url + "/admin/articles/article/")
    page.check(f"input[name=_selected_action][value='{article.pk}']")
    page.select_option("select[name=action]", "publish")
    with page.expect_navigation(timeout=30_000):
        page.click("button[name=index]")
    assert page.get_by_text("1 article published.").is_visible()
    context.close()

    article.refresh_from_db()
    assert article.is_published
    reader = browser.new_page()
    reader.goto(live_server.url + article.get_absolute_url())
    assert "Choir sings in the old market" in reader.title()
    reader.close()
