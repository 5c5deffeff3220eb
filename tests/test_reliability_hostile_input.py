"""
Hostile input: a few hundred XSS payloads (tests/xss_payloads.txt) saved as article
bodies and titles, and posted as comments, then the pages opened in Chromium.

Two independent checks. The stored HTML is parsed in Python and must hold no
script-capable element, no event handler and no script URL. Then the pages are
opened with a trap installed before any page script runs: a payload that runs calls
alert/confirm/prompt or sets window.__xss, and either is recorded. The browser runs
with the Content-Security-Policy switched off, so a pass means the sanitiser and the
templates hold on their own, not that CSP hid a hole.
"""

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from articles.models import Article
from comments.forms import form_timestamp
from safetext.sanitizer import clean_article_html
from tests.factories import make_article, make_category

PAYLOADS_FILE = Path(__file__).with_name("xss_payloads.txt")
_ESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "f": "\f"}


def load_payloads() -> list[str]:
    """The corpus: one payload a line; newlines inside a payload are written \\n."""
    payloads = []
    for line in PAYLOADS_FILE.read_text(encoding="utf-8").split("\n"):
        if not line.strip() or line.startswith("# "):
            continue
        payloads.append(re.sub(r"\\([\\nrf])", lambda m: _ESCAPES[m[1]], line))
    return payloads


PAYLOADS = load_payloads()

# Elements that can run script, load a document or change where links and forms go.
DANGEROUS_ELEMENTS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
    "base", "meta", "link", "form", "input", "button", "textarea", "select", "svg",
    "math", "template", "noscript", "xmp", "plaintext", "noembed", "noframes",
    "isindex", "video", "audio", "source", "animate", "set", "use",
}  # fmt: skip
URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "xlink:href", "data", "srcdoc",
    "background", "poster", "cite", "dynsrc", "lowsrc", "srcset",
}  # fmt: skip
SAFE_SCHEMES = ("http:", "https:", "mailto:")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
# What a browser ignores inside a URL before it reads the scheme.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f\u00a0\u200b-\u200f\u2028-\u202e\ufeff]")


class _Findings(HTMLParser):
    """Everything in a fragment of HTML that could run script."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag in DANGEROUS_ELEMENTS:
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name} attribute on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value:
                url = _URL_NOISE.sub("", value)
                scheme = _SCHEME.match(url)
                if scheme and not url.lower().startswith(SAFE_SCHEMES):
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag


def script_capable_parts(html: str) -> list[str]:
    finder = _Findings()
    finder.feed(html)
    finder.close()
    return finder.problems


def test_the_corpus_is_a_few_hundred_distinct_payloads():
    assert len(PAYLOADS) >= 300
    assert len(set(PAYLOADS)) == len(PAYLOADS)
    assert any("\n" in payload for payload in PAYLOADS)


def test_the_checker_sees_the_payloads_it_is_meant_to_catch():
    # Guards the guard: unsanitised payloads must trip the static check.
    assert script_capable_parts("<img src=x onerror=alert(1)>")
    assert script_capable_parts('<a href="&#106;avascript:alert(1)">x</a>')
    assert script_capable_parts('<a href="java\tscript:alert(1)">x</a>')
    assert script_capable_parts("<svg><script>alert(1)</script></svg>")
    assert not script_capable_parts('<p><a href="https://example.com/">ok</a></p>')


@pytest.mark.django_db
def test_every_payload_saved_as_an_article_body_is_stored_harmless():
    category = make_category()
    problems = {}
    for number, payload in enumerate(PAYLOADS):
        article = Article(
            title=f"Payload {number}",
            slug=f"payload-{number}",
            body=payload,
            category=category,
            status=Article.Status.PUBLISHED,
        )
        article.save()
        # The excerpt is plain text (templates escape it), so only the body is HTML.
        stored = Article.objects.values_list("body", flat=True).get(pk=article.pk)
        found = script_capable_parts(stored)
        if found:
            problems[payload] = found
    assert problems == {}


# --- In the browser -----------------------------------------------------------

# Runs before any script of the page: every way a payload could announce itself
# lands in window.__xss_hits, which the page cannot have set itself.
TRAP = """
(() => {
  const hits = [];
  Object.defineProperty(window, "__xss_hits", {value: hits});
  for (const name of ["alert", "confirm", "prompt", "print"]) {
    window[name] = (...args) => { hits.push(name + ":" + args.join(",")); };
  }
  let marker;
  Object.defineProperty(window, "__xss", {
    get: () => marker,
    set: (value) => { marker = value; hits.push("__xss=" + value); },
  });
  document.addEventListener("securitypolicyviolation", (event) => {
    hits.push("csp:" + event.violatedDirective + ":" + event.blockedURI);
  });
})();
"""

# Runs after load: script URLs, handlers and frames that reached the live DOM.
DOM_AUDIT = """
() => {
  const found = [];
  const urlAttributes = new Set([
    "href", "src", "action", "formaction", "xlink:href", "data", "srcdoc",
    "background", "poster", "cite", "dynsrc", "lowsrc", "srcset", "ping",
    "manifest", "codebase", "longdesc", "usemap",
  ]);
  const noise = /[\\u0000-\\u0020\\u007f\\u00a0\\u200b-\\u200f\\u2028-\\u202e\\ufeff]/g;
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) found.push(name + " on <" + el.localName + ">");
      if (!urlAttributes.has(name)) continue;
      const value = attr.value.replace(noise, "").toLowerCase();
      if (/^(javascript|vbscript|data|livescript|mocha):/.test(value)
          && !(el.localName === "img" && value.startsWith("data:image/"))) {
        found.push(name + "=" + attr.value + " on <" + el.localName + ">");
      }
    }
  }
  for (const el of document.querySelectorAll(
      "iframe, frame, object, embed, base, meta[http-equiv]")) {
    found.push("<" + el.localName + "> element");
  }
  for (const el of document.querySelectorAll("script")) {
    const json = (el.type || "").toLowerCase() === "application/ld+json";
    const ownFile = el.src && new URL(el.src).origin === location.origin;
    if (!json && !ownFile && (el.src || /alert|__xss|prompt|confirm/.test(el.text))) {
      found.push("script: " + el.outerHTML.slice(0, 120));
    }
  }
  return found;
}
"""


def _settle(page):
    # Error and focus events of the payloads fire right after load; two animation
    # frames and a macrotask later they have all been dispatched.
    page.evaluate(
        "() => new Promise(done => requestAnimationFrame(() =>"
        " requestAnimationFrame(() => setTimeout(done, 0))))"
    )


def open_and_audit(page, url: str | None) -> list[str]:
    """Open `url` (None: the page already open), hover and focus through it, and
    return every sign of script."""
    if url is not None:
        response = page.goto(url, wait_until="load")
        assert response.status < 500, f"{url} answered {response.status}"
    _settle(page)
    # Handlers that need a reader's touch: hover every element of the main content
    # once, then tab through the page.
    page.mouse.move(5, 5)
    page.mouse.move(600, 450, steps=8)
    for _ in range(10):
        page.keyboard.press("Tab")
    _settle(page)
    return page.evaluate("() => [...window.__xss_hits]") + page.evaluate(DOM_AUDIT)


@pytest.fixture
def trapped_page(page, settings):
    settings.SECURE_CSP = {}
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.add_init_script(TRAP)
    yield page
    assert dialogs == []


def _chunks(items, size):
    return [items[start : start + size] for start in range(0, len(items), size)]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_payload_runs_from_article_bodies_or_titles(trapped_page, live_server):
    category = make_category(name="Hostile", slug="hostile")
    # One page holds many payloads: each chunk is saved as one body, so the
    # payloads also meet each other's broken markup, as they would in real HTML.
    chunks = _chunks(PAYLOADS, 40)
    articles = []
    for number, chunk in enumerate(chunks):
        articles.append(
            make_article(
                title=chunk[0][:200],
                slug=f"hostile-{number}",
                standfirst=chunk[1][:400],
                body="\n".join(f"<p>{payload}</p>" for payload in chunk),
                category=category,
            )
        )
    findings = {}
    urls = [article.get_absolute_url() for article in articles]
    urls += ["/", category.get_absolute_url()]
    for url in urls:
        found = open_and_audit(trapped_page, live_server.url + url)
        if found:
            findings[url] = found
    assert findings == {}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_trap_sees_a_payload_that_bypassed_the_sanitiser(trapped_page, live_server):
    # Guards the browser check: a raw payload written past save() must be caught,
    # both running (the alert) and in the DOM (the handler).
    article = make_article(slug="unsanitised")
    Article.objects.filter(pk=article.pk).update(
        body='<img src=x onerror="alert(1)"><a href="javascript:alert(2)">x</a>'
    )
    found = open_and_audit(trapped_page, live_server.url + article.get_absolute_url())
    assert "alert:1" in found
    assert any(item.startswith("onerror on <img>") for item in found)
    assert any(item.startswith("href=javascript:alert(2)") for item in found)


# --- Comments ---------------------------------------------------------------------


def _post_payloads_as_comments(client, article) -> dict[int, int]:
    """Post every payload through the real comment form, each from its own address
    (flood control is per address); every fifth also uses it as the name."""
    statuses = {}
    for number, payload in enumerate(PAYLOADS):
        response = client.post(
            reverse("comments:post", args=[article.pk]),
            {
                "name": payload[:100] if number % 5 == 0 else f"Reader {number}",
                "email": f"reader{number}@example.net",
                "url": "",
                "comment": payload,
                "homepage": "",
                "ts": form_timestamp(article.pk),
            },
            REMOTE_ADDR=f"10.20.{number // 250}.{number % 250 + 1}",
        )
        statuses[number] = response.status_code
    return statuses


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_payload_runs_from_approved_comments(trapped_page, live_server, settings):
    from comments import services
    from comments.models import Comment

    settings.COMMENTS_PER_PAGE = 1000
    settings.COMMENTS_MIN_SECONDS = 0
    article = make_article(slug="argued-over")
    statuses = _post_payloads_as_comments(Client(), article)

    # Stored or refused with a form error; never a server error.
    assert set(statuses.values()) <= {303, 400}
    assert list(statuses.values()).count(303) >= len(PAYLOADS) - 10
    comments = Comment.objects.filter(article=article)
    services.moderate(comments=list(comments), status=Comment.Status.APPROVED)
    stored = {c.text: c.html for c in comments}
    assert {text: parts for text, html in stored.items()
            if (parts := script_capable_parts(html))} == {}  # fmt: skip

    found = open_and_audit(trapped_page, live_server.url + article.get_absolute_url())
    assert found == []
    # The payloads are on the page, shown as text.
    assert trapped_page.get_by_text("<script>alert(1)</script>").first.is_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_payload_runs_from_a_refused_comment_echoed_back(trapped_page, live_server):
    article = make_article(slug="echo-chamber")
    url = live_server.url + article.get_absolute_url()
    findings = {}
    for number, chunk in enumerate(_chunks(PAYLOADS, 40)):
        trapped_page.goto(url)
        form = trapped_page.locator("#commentform")
        form.evaluate("form => { form.noValidate = true; }")
        trapped_page.fill("#id_name", chunk[0][:100])
        trapped_page.fill("#id_email", chunk[1][:60])
        # Not a web address: the form is refused and printed again with all of it.
        trapped_page.fill("#id_url", "javascript:alert(1)")
        trapped_page.fill("#id_comment", "\n".join(chunk))
        with trapped_page.expect_navigation():
            form.locator("[type=submit]").first.click()
        found = open_and_audit(trapped_page, None)
        if found:
            findings[number] = found
    assert findings == {}


@pytest.mark.django_db
def test_no_payload_in_a_search_query_adds_anything_script_capable(client):
    # The search page prints the query back (in the box and the heading). Whatever
    # a payload adds to the page beyond what an ordinary query gives is a hole.
    make_article(title="Harbour dredging resumes")
    url = reverse("articles:search")
    baseline = Counter(script_capable_parts(client.get(url, {"q": "harbour"}).text))
    added = {}
    # Every third payload keeps this to a few seconds; the box holds 200 characters.
    for payload in PAYLOADS[::3]:
        response = client.get(url, {"q": payload})
        assert response.status_code == 200
        extra = Counter(script_capable_parts(response.text)) - baseline
        if extra:
            added[payload] = sorted(extra)
    assert added == {}


# --- Control characters in stored text ---------------------------------------
#
# A headline with "\r\n" became the daily digest's Subject and added headers of
# its own; a vertical tab or U+FFFE made every feed that carried it unreadable.
# Every text field of every model is held to its rule on every way in, and the
# lists below are built from the models, so a new field cannot escape.

TEXT_APPS = ("articles", "comments", "newsletter")

# The sending code's ledger: written by code alone, never shown in a header, a
# feed or a page.
NOT_CHECKED_MODELS = {"newsletter.Delivery"}

# What a one-line field (every CharField: headlines, names, subjects, slugs,
# addresses) refuses.
NOT_ONE_LINE = [
    "\r\n", "\n", "\r", "\x0b", "\x0c", "\x00", "\t", "\x1b", "\x85",
    "\u2028", "\u2029", "\u202e", "\u2066", "\u200b", "\ufeff",
    "\ufffe", "\uffff", "\ufdd0", "\U0001fffe", "\ud800",
]  # fmt: skip
# What a prose field (every TextField: bodies, bios, comments) refuses: what XML
# cannot carry.
NOT_XML = ["\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\ufffe", "\uffff", "\ud800"]


def stored_text_fields():
    from django.apps import apps
    from django.db import models

    fields = []
    for app_label in TEXT_APPS:
        for model in apps.get_app_config(app_label).get_models():
            for field in model._meta.concrete_fields:
                key = (app_label, model.__name__, field.name)
                if (
                    isinstance(field, (models.CharField, models.TextField))
                    and field.editable
                    and model._meta.label not in NOT_CHECKED_MODELS
                ):
                    fields.append(pytest.param(model, field, id=".".join(key)))
    return fields


STORED_TEXT_FIELDS = stored_text_fields()


def test_the_field_list_covers_headlines_names_and_subjects():
    ids = {param.id for param in STORED_TEXT_FIELDS}
    assert {
        "articles.Article.title",
        "articles.Article.dateline",
        "articles.Article.image_caption",
        "articles.Article.body",
        "articles.Category.name",
        "articles.Author.name",
        "articles.User.first_name",
        "comments.Comment.author_name",
        "comments.Comment.text",
        "newsletter.Newsletter.name",
        "newsletter.Issue.subject",
        "newsletter.Issue.preheader",
    } <= ids


def sanitised_fields():
    from newsletter.models import Issue

    return {(Article, "body"), (Issue, "intro")}


SANITISED = sanitised_fields()


def refused_characters(field):
    from django.db import models

    return NOT_ONE_LINE if isinstance(field, models.CharField) else NOT_XML


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "field"), STORED_TEXT_FIELDS)
def test_every_text_field_refuses_control_characters_in_forms_and_on_save(model, field):
    from django.core.exceptions import ValidationError

    rows_before = model.objects.count()
    for character in refused_characters(field):
        instance = model()
        setattr(instance, field.attname, f"a{character}b")

        # full_clean(), and so every model form in the admin: an error on the field.
        with pytest.raises(ValidationError) as in_form:
            instance.clean_fields()
        assert field.name in in_form.value.message_dict, repr(character)

        if (model, field.name) in SANITISED:
            # save() sanitises these first, and the sanitiser removes them.
            assert clean_article_html(f"<p>a{character}b</p>") == "<p>ab</p>"
            continue
        # A plain save(), as import code does: refused before anything is stored.
        with pytest.raises(ValidationError) as on_save:
            instance.save()
        assert field.name in on_save.value.message_dict, repr(character)
    assert model.objects.count() == rows_before


@pytest.mark.django_db
def test_it_refuses_a_headline_that_would_add_email_headers():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        make_article(title="Budget passes\r\nBcc: everyone@example.com")
    assert "one line" in refused.value.message_dict["title"][0]
    assert not Article.objects.exists()


@pytest.mark.django_db
def test_it_refuses_an_issue_subject_with_a_line_break_on_save():
    from django.core.exceptions import ValidationError

    from newsletter.models import Issue
    from tests.factories import make_newsletter

    issue = Issue(newsletter=make_newsletter(), subject="News\nBcc: a@example.com")
    with pytest.raises(ValidationError):
        issue.save()
    assert not Issue.objects.exists()


@pytest.mark.django_db
def test_the_admin_form_shows_the_error_and_keeps_the_headline(client):
    from tests.factories import make_staff

    client.force_login(make_staff("editor", "Editors"))
    category = make_category()
    headline = "Budget passes\u202e gnikaerb"
    response = client.post(
        reverse("admin:articles_article_add"),
        {
            "title": headline,
            "slug": "budget-passes",
            "dateline": "YER\x0bEVAN",
            "body": "<p>Text.</p>",
            "category": category.pk,
            "status": "draft",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "one line" in errors["title"][0]
    assert "dateline" in errors
    assert headline in response.content.decode()
    assert not Article.objects.exists()


@pytest.mark.django_db
def test_ordinary_text_in_many_scripts_is_accepted():
    article = make_article(
        title="\u0645\u06cc\u200c\u062e\u0648\u0627\u0645 "
        "\U0001f3f3\ufe0f\u200d\U0001f308 Ереван café",
        dateline="ԵՐԵՎԱՆ",
        standfirst="Two lines,\r\nand a\ttab.",
        body="<p>One.</p>\n<p>Two.</p>",
    )
    article.full_clean()
    assert Article.objects.filter(pk=article.pk).exists()


@pytest.mark.django_db
def test_the_admin_form_refuses_a_tag_with_a_control_character(client):
    from tests.factories import make_staff

    client.force_login(make_staff("editor", "Editors"))
    response = client.post(
        reverse("admin:articles_article_add"),
        {
            "title": "Budget passes",
            "slug": "budget-passes",
            "body": "<p>Text.</p>",
            "category": make_category().pk,
            "tags": '"fin\x0bance", economy',
            "status": "draft",
        },
    )
    assert response.status_code == 200
    assert "one line" in response.context["adminform"].form.errors["tags"][0]
    assert not Article.objects.exists()
