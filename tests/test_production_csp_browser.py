"""The Content-Security-Policy in a real browser: public pages, the admin and the
body editor run with no violations."""

import pytest

from tests.factories import make_article

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Collects violations as the browser reports them to the page.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def _watch(page):
    console = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.add_init_script(LISTEN)
    return console


def _violations(page, console):
    return console + page.evaluate("window.__cspViolations")


def test_public_pages_load_with_no_csp_violations(page, live_server):
    article = make_article(title="Tram line extension approved")
    console = _watch(page)

    for address in ["/", article.get_absolute_url(), "/search/?q=tram"]:
        page.goto(live_server.url + address)
        page.wait_for_load_state("networkidle")
        assert _violations(page, console) == [], address


def test_the_admin_and_the_body_editor_work_under_the_policy(
    page, live_server, django_user_model
):
    django_user_model.objects.create_superuser("chief", "chief@example.org", "pw-1")
    console = _watch(page)

    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "chief")
    page.fill("#id_password", "pw-1")
    page.click("input[type=submit]")
    page.goto(live_server.url + "/admin/articles/article/add/")
    page.wait_for_load_state("networkidle")

    # django-prose-editor replaces the body textarea with its editing surface.
    editor = page.locator(".prose-editor > .ProseMirror")
    editor.first.wait_for(state="visible")
    editor.first.click()
    page.keyboard.type("Typed under a strict policy.")
    assert "Typed under a strict policy." in editor.first.inner_text()
    assert _violations(page, console) == []
