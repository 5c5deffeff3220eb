"""A writer puts two photos inside their story from the admin: one picked from the
library by search, one uploaded to it from the article. The preview shows both
after the chosen paragraphs, with renditions, size, alt text, caption and credit,
on a page that passes axe."""

import pytest
from playwright.sync_api import expect

from articles.models import Article, Photo
from tests.conftest import run_axe
from tests.factories import (
    jpeg_bytes,
    make_article,
    make_author,
    make_photo,
    make_staff,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_writer_places_a_stored_photo_and_uploads_another(
    browser, live_server, tmp_path
):
    writer = make_staff("writer", "Writers")
    writer.set_password("pw-for-tests")
    writer.save()
    make_photo(
        size=(1600, 900),
        alt="Lake Sevan at dusk",
        caption="Sevan, the day before.",
        credit="Photo: Armen Sargsyan",
    )
    make_photo(alt="Marchers on Baghramyan Avenue")
    article = make_article(
        title="Rally in Republic Square",
        slug="rally",
        body="<p>Crowds gathered at noon.</p><p>They marched to parliament.</p>",
        created_by=writer,
        authors=[make_author(name="Ani Petrosyan", user=writer)],
        status=Article.Status.DRAFT,
    )
    upload = tmp_path / "IMG_0042.jpg"
    upload.write_bytes(jpeg_bytes())
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "writer")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(live_server.url + f"/admin/articles/article/{article.pk}/change/")

    page.click("#figures-group .add-row a")
    page.click("#figures-group .add-row a")

    # Picked from the library: search, then choose.
    page.click("#id_figures-0-photo + .select2 .select2-selection")
    page.fill(".select2-search__field", "sevan")
    page.click(".select2-results__option:has-text('Lake Sevan at dusk')")
    # select2 swallows the next click on the page: give it a harmless one.
    page.click("label[for=id_figures-0-after_paragraph]")
    page.fill("#id_figures-0-after_paragraph", "1")

    # Uploaded to the library from the article: "+" opens its form in a popup.
    with page.expect_popup() as popup_info:
        page.click("#add_id_figures-1-photo")
    popup = popup_info.value
    popup.set_input_files("#id_image", str(upload))
    popup.fill("#id_alt", "Marchers holding flags")
    popup.fill("#id_caption", "The march reached parliament.")
    popup.fill("#id_credit", "Photo: Ani Petrosyan")
    with popup.expect_event("close", timeout=30_000):
        popup.click("input[name=_save]")
    page.fill("#id_figures-1-after_paragraph", "2")
    with page.expect_navigation(timeout=30_000):
        page.click("input[name=_continue]")
    assert page.locator(".errornote").count() == 0
    # The form again, with both figures and their previews, passes axe whole.
    assert page.locator("#figures-group .field-preview img").count() == 2
    expect(page.get_by_role("textbox", name="Body:", exact=True)).to_be_visible()
    assert run_axe(page).response["violations"] == []
    assert Photo.objects.count() == 3
    assert Photo.objects.get(alt="Marchers holding flags").uploaded_by == writer

    page.goto(live_server.url + article.get_absolute_url())
    blocks = page.locator(".story-body > *")
    assert [blocks.nth(n).evaluate("node => node.tagName") for n in range(4)] == [
        "P",
        "FIGURE",
        "P",
        "FIGURE",
    ]
    stored, uploaded = blocks.nth(1), blocks.nth(3)
    assert stored.locator("img").get_attribute("alt") == "Lake Sevan at dusk"
    assert stored.locator("figcaption").text_content() == (
        "Sevan, the day before. Photo: Armen Sargsyan"
    )
    assert uploaded.locator("img").get_attribute("alt") == "Marchers holding flags"
    assert uploaded.locator("figcaption").text_content() == (
        "The march reached parliament. Photo: Ani Petrosyan"
    )
    for figure in (stored, uploaded):
        image = figure.locator("img")
        assert (image.get_attribute("width"), image.get_attribute("height")) == (
            "1600",
            "900",
        )
        assert "480w" in figure.locator("source").get_attribute("srcset")
    assert run_axe(page).response["violations"] == []
    context.close()
