"""A writer puts a photo inside their story from the admin; the preview shows it
after the chosen paragraph, with caption and credit, on a page that passes axe."""

import pytest

from articles.models import Article
from tests.conftest import run_axe
from tests.factories import jpeg_bytes, make_article, make_author, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_writer_adds_a_figure_and_sees_it_in_the_story(
    browser, live_server, tmp_path
):
    writer = make_staff("writer", "Writers")
    writer.set_password("pw-for-tests")
    writer.save()
    article = make_article(
        title="Rally in Republic Square",
        slug="rally",
        body="<p>Crowds gathered at noon.</p><p>They marched to parliament.</p>",
        created_by=writer,
        authors=[make_author(name="Ani Petrosyan", user=writer)],
        status=Article.Status.DRAFT,
    )
    photo = tmp_path / "IMG_0042.jpg"
    photo.write_bytes(jpeg_bytes())
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
    page.set_input_files("#id_figures-0-image", str(photo))
    page.fill("#id_figures-0-alt", "Marchers holding flags")
    page.fill("#id_figures-0-caption", "The march reached parliament.")
    page.fill("#id_figures-0-credit", "Photo: Ani Petrosyan")
    page.fill("#id_figures-0-after_paragraph", "1")
    with page.expect_navigation(timeout=30_000):
        page.click("input[name=_continue]")
    assert page.locator(".errornote").count() == 0

    page.goto(live_server.url + article.get_absolute_url())
    figure = page.locator(".story-body figure")
    assert figure.locator("img").get_attribute("alt") == "Marchers holding flags"
    assert figure.locator("img").get_attribute("width") == "1600"
    assert "480w" in figure.locator("source").get_attribute("srcset")
    assert figure.locator("figcaption").text_content() == (
        "The march reached parliament. Photo: Ani Petrosyan"
    )
    paragraphs = page.locator(".story-body > *")
    assert paragraphs.nth(1).evaluate("node => node.tagName") == "FIGURE"
    assert run_axe(page).response["violations"] == []
    context.close()
