# ruff: noqa: E501  (hostile payloads read best on one line each)
"""The HTML allow-list, against hostile input and the markup editors really use."""

import html
import re
from html.parser import HTMLParser

import pytest

from safetext.sanitizer import (
    ARTICLE_TAGS,
    clean_article_html,
    render_comment_text,
    strip_all_tags,
)

HOSTILE = {
    "script": "<script>alert(1)</script><p>ok</p>",
    "script with src, upper case": "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "nested script": "<<script>script>alert(1)<</script>/script>",
    "event handlers": '<p onclick="alert(1)" onmouseover=alert(1)>x</p>',
    "img onerror": "<img src=x onerror=alert(1)>",
    "javascript href": '<a href="javascript:alert(1)">x</a>',
    "mixed-case javascript": '<a href="JaVaScRiPt:alert(1)">x</a>',
    "decimal entity javascript": '<a href="&#106;avascript:alert(1)">x</a>',
    "hex entities and &colon;": '<a href="&#x6A;&#x61;vascript&colon;alert(1)">x</a>',
    "tab inside the scheme": '<a href="java\tscript:alert(1)">x</a>',
    "leading space": '<a href=" javascript:alert(1)">x</a>',
    "newline entity in scheme": '<a href="java&#10;script:alert(1)">x</a>',
    "data href": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "data img": '<img src="data:image/svg+xml;base64,PHN2Zz4=" alt="a">',
    "vbscript href": '<a href="vbscript:msgbox(1)">x</a>',
    "VBScript upper": '<a href="VBSCRIPT:msgbox(1)">x</a>',
    "javascript cite": '<blockquote cite="javascript:alert(1)">q</blockquote>',
    "style attribute": '<p style="background:url(javascript:alert(1))">x</p>',
    "style element": "<style>body{display:none}</style><p>x</p>",
    "svg script": "<svg><script>alert(1)</script></svg>",
    "svg onload": "<svg onload=alert(1)>",
    "svg animate href": '<svg><a><animate attributeName=href values="javascript:alert(1)"/><text>x</text></a></svg>',
    "math mglyph style": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "math textarea": '<math><mi><mglyph><svg><mtext><textarea><path id="</textarea><img onerror=alert(1) src=1>">',
    "math href": '<math href="javascript:alert(1)">CLICK</math>',
    "form/math namespace confusion": "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "iframe srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "noscript title breakout": '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "object and embed": '<object data="x.swf"></object><embed src="x.swf">',
    "base": '<base href="https://evil.example/">',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "comment hiding markup": "<!-- <img src=x onerror=alert(1)> -->",
    "conditional comment": "<!--[if IE]><script>alert(1)</script><![endif]-->",
    "form and input": '<form action="https://evil.example"><input name=x autofocus onfocus=alert(1)></form>',
    "srcset": '<img src="/a.jpg" alt="a" srcset="javascript:alert(1) 2x">',
    "broken attribute quoting": '<a href="https://ok.example/"onclick="alert(1)">x</a>',
    "unterminated tag": '<img src="x" onerror="alert(1)"',
    "target blank": '<a href="https://ok.example/" target="_blank">x</a>',
}

_EVENT_OR_STYLE = re.compile(r"^(on|style$|srcset$|formaction$|xlink)", re.IGNORECASE)
_BAD_SCHEME = re.compile(r"^(javascript|data|vbscript):")


class _Inspector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag not in ARTICLE_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if _EVENT_OR_STYLE.match(name) or name == "target":
                self.problems.append(f"attribute {name}")
            if name in {"href", "src", "cite"}:
                url = re.sub(r"[\x00-\x20]+", "", html.unescape(value or "")).lower()
                if _BAD_SCHEME.match(url):
                    self.problems.append(f"{name}={value!r}")

    handle_startendtag = handle_starttag


def problems_in(output: str) -> list[str]:
    inspector = _Inspector()
    inspector.feed(output)
    inspector.close()
    return inspector.problems


@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_comes_out_harmless(payload):
    output = clean_article_html(payload)

    assert problems_in(output) == []
    assert "alert(1)</" not in output  # no script body left as runnable text


@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
def test_cleaning_is_stable(payload):
    once = clean_article_html(payload)

    assert clean_article_html(once) == once


def test_the_inspector_itself_catches_what_it_looks_for():
    # Guards the test above against passing for the wrong reason.
    assert problems_in('<a onclick="y" href="jav&#x09;ascript:x">x</a>') == [
        "attribute onclick",
        "href='jav\\tascript:x'",
    ]
    assert problems_in("<svg></svg><p style='x'>") == ["tag <svg>", "attribute style"]


def test_script_content_is_dropped_not_shown_as_text():
    assert clean_article_html("<p>Before</p><script>alert(1)</script>") == (
        "<p>Before</p>"
    )


def test_javascript_link_keeps_its_text_but_loses_the_address():
    assert clean_article_html('<a href="javascript:alert(1)">Read</a>') == "<a>Read</a>"


def test_unknown_wrappers_are_unwrapped_keeping_their_text():
    assert clean_article_html("<div><span>Kept</span> text</div>") == "Kept text"


def test_broken_markup_is_closed():
    assert clean_article_html("<p>unclosed <b>bold <i>it") == (
        "<p>unclosed <b>bold <i>it</i></b></p>"
    )


KEPT = [
    "<h2>Heading</h2>",
    "<h3>Sub-heading</h3>",
    "<p>Plain <strong>strong</strong>, <em>emphasis</em>, <b>b</b>, <i>i</i>, "
    "<u>u</u>, <s>s</s>, H<sub>2</sub>O, x<sup>2</sup>.</p>",
    "<ul><li>One</li><li>Two</li></ul>",
    '<ol start="3"><li>Three</li></ol>',
    '<p><a href="https://example.org/report" title="Report">a link</a></p>',
    '<p><a href="/articles/other-story/">relative</a> and <a href="#notes">anchor</a></p>',
    '<p><a href="mailto:desk@example.com">mail</a></p>',
    '<blockquote cite="https://example.org/"><p>Quoted words.</p></blockquote>',
    '<table><caption>Results</caption><thead><tr><th scope="col">Party</th>'
    '<th scope="col">Seats</th></tr></thead><tbody><tr><td>A</td><td>12</td>'
    "</tr></tbody></table>",
    "<p>Line<br>break</p><hr>",
    "<pre><code>x = 1</code></pre>",
]


@pytest.mark.parametrize("markup", KEPT)
def test_editorial_markup_is_kept_as_written(markup):
    assert clean_article_html(markup) == markup


def test_a_pasted_image_or_figure_leaves_only_its_caption_text():
    # Figures are library photos placed by the admin (articles.Figure), with
    # renditions, sizes and required alt text; the body holds none.
    pasted = (
        '<p>Before.</p><figure><img src="https://elsewhere.example/a.jpg" '
        'alt="A market"><figcaption>The market at dawn.</figcaption></figure>'
        '<p>After <img src="/media/photos/b.jpg" alt="">.</p>'
    )

    cleaned = clean_article_html(pasted)

    assert "<img" not in cleaned
    assert "<figure" not in cleaned
    assert "<figcaption" not in cleaned
    assert " ".join(cleaned.split()) == (
        "<p>Before.</p> The market at dawn.<p>After .</p>"
    )


def test_empty_body_stays_empty():
    assert clean_article_html("") == ""


def test_strip_all_tags_separates_blocks_and_drops_scripts():
    text = strip_all_tags("<h2>Title</h2><p>One</p><script>x()</script><p>Two</p>")

    assert text.split() == ["Title", "One", "Two"]


def test_comment_text_is_escaped_and_links_are_nofollow():
    output = render_comment_text(
        "<b>hi</b> see https://example.org\n\nsecond para javascript:alert(1)"
    )

    assert "<b>" not in output
    assert "&lt;b&gt;" in output
    assert 'rel="nofollow ugc noopener"' in output
    assert output.count("<p>") == 2
    assert 'href="javascript' not in output
