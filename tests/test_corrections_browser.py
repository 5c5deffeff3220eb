"""Corrections in a real browser: an editor appends a correction to a published
story; a reader sees it on the story and on the corrections page."""

import pytest

from articles.models import Correction
from tests.conftest import run_axe
from tests.factories import make_article, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_editor_appends_a_correction_and_readers_see_it(browser, live_server):
    editor = make_staff("editor", "Editors")
    editor.set_password("pw-for-tests")
    editor.save()
    article = make_article(title="Tram line opens", slug="tram-line-opens")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "pw-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/")
    page.click("text=Add another correction or update")
    page.select_option("#id_corrections-0-kind", "correction")
    page.fill("#id_corrections-0-note", "The line has 12 stops, not 14.")
    with page.expect_navigation(timeout=30_000):
        page.click("input[name=_save]")
    context.close()
    assert Correction.objects.get().created_by == editor

    reader = browser.new_page()
    reader.goto(live_server.url + article.get_absolute_url())
    block = reader.locator(".correction")
    assert block.locator("h3").inner_text().startswith("Correction, ")
    assert block.locator("time").count() == 1
    assert "12 stops, not 14" in block.inner_text()
    assert run_axe(reader).violations_count == 0

    reader.click("footer >> text=Corrections")
    reader.wait_for_url("**/corrections/")
    assert reader.get_by_role("link", name="Tram line opens").is_visible()
    assert run_axe(reader).violations_count == 0
    reader.close()
