"""An editor gives a story two authors in the admin, in the order they choose,
and readers see "By A and B" on a page that passes axe."""

import pytest

from articles.models import Article
from tests.conftest import run_axe
from tests.factories import make_author, make_category, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def pick_author(page, row, search, name):
    # An autocomplete (select2) field: search, then pick.
    page.click(f"#id_bylines-{row}-author + .select2 .select2-selection")
    page.fill(".select2-search__field", search)
    page.click(f".select2-results__option:has-text('{name}')")


def test_an_editor_sets_two_bylines_and_readers_see_both_in_order(browser, live_server):
    make_category(name="Culture", slug="culture")
    make_author(name="Zara Melikyan", slug="zara")
    make_author(name="Ani Petrosyan", slug="ani")
    editor = make_staff("editor", "Editors")
    editor.set_password("pw-for-tests")
    editor.save()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")

    page.goto(live_server.url + "/admin/articles/article/add/")
    page.click("#id_category + .select2 .select2-selection")
    page.fill(".select2-search__field", "Cult")
    page.click(".select2-results__option:has-text('Culture')")
    page.locator("#id_title").press_sequentially("Choir sings in the old market")
    page.locator(".prose-editor .ProseMirror[contenteditable=true]").click()
    page.keyboard.type("The choir sang in the rain.")
    # Zara first, although Ani comes first in the alphabet.
    pick_author(page, 0, "Zar", "Zara Melikyan")
    page.fill("#id_bylines-0-position", "1")
    # select2 swallows the next click on the page after a pick: spend it here.
    page.click("#id_bylines-0-position")
    page.click("#bylines-group .add-row a")
    pick_author(page, 1, "Ani", "Ani Petrosyan")
    page.click("#id_bylines-1-position")
    page.fill("#id_bylines-1-position", "2")
    page.select_option("#id_status", "published")
    with page.expect_navigation(timeout=30_000):
        page.click("input[name=_save]")
    assert page.url.endswith("/admin/articles/article/")
    context.close()

    article = Article.objects.get(slug="choir-sings-in-the-old-market")
    reader = browser.new_page()
    reader.goto(live_server.url + article.get_absolute_url())
    byline = reader.locator(".story-meta .byline")
    assert byline.inner_text() == "By Zara Melikyan and Ani Petrosyan"
    assert run_axe(reader).response["violations"] == []
    reader.close()
