"""The newsroom in a real browser: a writer drafts with the body editor, an editor
publishes, and the story reaches readers. The newsroom's pages pass axe whole, for
writers and editors, and the body editor is reached and typed in by keyboard."""

import pytest
from playwright.sync_api import expect

from articles.models import Article
from tests.conftest import run_axe
from tests.factories import (
    make_article,
    make_author,
    make_category,
    make_photo,
    make_staff,
)

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


def axe_violations(page):
    """The rules axe finds broken on the page, with where."""
    return [
        (rule["id"], [node["target"] for node in rule["nodes"]])
        for rule in run_axe(page).response["violations"]
    ]


def open_article_form(page, url):
    page.goto(url)
    # The body editor starts after the page has loaded; wait until it is named.
    expect(page.get_by_role("textbox", name="Body:", exact=True)).to_be_visible()


@pytest.mark.parametrize("username", ["writer", "editor"])
def test_the_newsroom_pages_pass_axe_whole(browser, live_server, username):
    make_category(name="Culture", slug="culture")
    writer = make_staff("writer", "Writers")
    editor = make_staff("editor", "Editors")
    for user in (writer, editor):
        user.set_password("pw-for-tests")
        user.save()
    make_photo()
    draft = make_article(
        status=Article.Status.DRAFT,
        published_at=None,
        created_by=writer,
        authors=[make_author(name="Ani Petrosyan", user=writer)],
    )
    published = make_article()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, live_server, username)
    assert axe_violations(page) == []  # the front page and its panels

    admin = live_server.url + "/admin/articles/"
    open_article_form(page, admin + "article/add/")
    assert axe_violations(page) == []
    # An autocomplete open, its search typed in and its results shown.
    page.click("#id_category + .select2 .select2-selection")
    page.keyboard.type("Cult")
    expect(page.locator(".select2-results__option--highlighted")).to_have_text(
        "Culture"
    )
    expect(page.get_by_role("searchbox", name="Category:", exact=True)).to_be_focused()
    assert axe_violations(page) == []
    page.keyboard.press("Escape")

    # Their own draft, with its byline, an empty row for another author, and a
    # new figure row.
    open_article_form(page, admin + f"article/{draft.pk}/change/")
    page.click("#figures-group .add-row a")
    assert axe_violations(page) == []
    if username == "editor":
        open_article_form(page, admin + f"article/{published.pk}/change/")
        page.click("#corrections-group .add-row a")
        assert axe_violations(page) == []

    page.goto(admin + "photo/add/")
    assert axe_violations(page) == []
    context.close()


def test_a_writer_reaches_the_body_editor_by_keyboard_and_its_label(
    browser, live_server
):
    writer = make_staff("writer", "Writers")
    writer.set_password("pw-for-tests")
    writer.save()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    log_in(page, live_server, "writer")
    open_article_form(page, live_server.url + "/admin/articles/article/add/")

    # A new article's form opens in its first field.
    expect(page.get_by_role("textbox", name="Title:", exact=True)).to_be_focused()
    page.keyboard.type("Choir sings in the old market")
    # On through the slug, standfirst, dateline and the editor's toolbar.
    body = page.get_by_role("textbox", name="Body:", exact=True)
    for _ in range(40):
        page.keyboard.press("Tab")
        if body.evaluate("editor => editor === document.activeElement"):
            break
    expect(body).to_be_focused()
    expect(body).to_have_accessible_description(
        "The story. Stored sanitised; scripts are removed."
    )
    page.keyboard.type("The choir sang in the rain.")
    assert page.input_value("#id_body") == "<p>The choir sang in the rain.</p>"

    # As with any field, a click on its label puts the cursor in it.
    page.click("label[for=id_title]")
    page.click("label[for=id_body]")
    expect(body).to_be_focused()
    context.close()
