"""
The one place where HTML from editors and readers is sanitised.

Every other module calls these functions and never imports bleach itself, so that
replacing bleach (whose 6.x line gets no more security fixes) is a change to this
file alone. The allow-lists are deliberately tight: what is not listed is removed.
"""

import html
import re

import bleach
from bleach.linkifier import Linker

from safetext.validators import strip_xml_illegal

# Bump when the allow-lists change; `manage.py resanitize` re-cleans stored HTML.
POLICY_VERSION = 2

# No images or figures: a body's figures are rows (articles.Figure) that the
# article page renders from the image library, with renditions and sizes. An
# <img> pasted into a body would have neither, nor required alt text.

ARTICLE_TAGS = frozenset(
    {
        "p", "br", "hr",
        "h2", "h3", "h4", "h5", "h6",
        "strong", "b", "em", "i", "u", "s", "sub", "sup", "mark", "small",
        "code", "pre", "kbd",
        "a", "abbr", "cite", "q", "blockquote",
        "ul", "ol", "li", "dl", "dt", "dd",
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
    }
)  # fmt: skip

# No data:, javascript:, vbscript: or anything else: bleach drops unknown schemes.
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})

_URL_ATTRIBUTES = frozenset({"href", "cite"})
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f]+")


def is_safe_url(value: str) -> bool:
    """Whether a URL is relative or uses an allowed scheme, judged the way a browser
    reads it: every entity decoded (bleach does not know `&colon;`), whitespace and
    control characters removed, case ignored."""
    decoded = _INVISIBLE.sub("", html.unescape(html.unescape(value))).lower()
    scheme, colon, _ = decoded.partition(":")
    if not colon or any(char in scheme for char in "/?#"):
        return True  # relative: /path, #anchor, page?q=a:b
    return scheme in ALLOWED_PROTOCOLS


def _attribute_filter(allowed):
    def allow(tag, name, value):
        if name not in allowed:
            return False
        return name not in _URL_ATTRIBUTES or is_safe_url(value)

    return allow


ARTICLE_ATTRIBUTES = {
    tag: _attribute_filter(frozenset(names))
    for tag, names in {
        "a": ["href", "title", "rel"],
        "abbr": ["title"],
        "blockquote": ["cite"],
        "ol": ["start", "reversed"],
        "th": ["scope", "colspan", "rowspan"],
        "td": ["colspan", "rowspan"],
        "q": ["cite"],
    }.items()
}

# Elements whose content is never text a reader should see: dropped whole, not
# just unwrapped, before bleach runs. Safety does not depend on this step (bleach
# escapes whatever survives it); it only keeps `alert(1)` out of the page as text.
_DROP_WITH_CONTENT = re.compile(
    r"<(script|style|template|noscript|iframe|object|embed|svg|math|textarea|title)"
    r"\b[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)

_article_cleaner = bleach.Cleaner(
    tags=ARTICLE_TAGS,
    attributes=ARTICLE_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
)

_COMMENT_REL = "nofollow ugc noopener"


def _set_comment_link_rel(attrs, new=False):
    attrs[(None, "rel")] = _COMMENT_REL
    attrs.pop((None, "target"), None)
    return attrs


def _only_web_links(attrs, new=False):
    href = attrs.get((None, "href"), "")
    if not href.lower().startswith(("http://", "https://")):
        return None
    return attrs


_comment_linker = Linker(
    callbacks=[_only_web_links, _set_comment_link_rel], skip_tags={"pre", "code"}
)


def clean_article_html(html: str) -> str:
    """Return editor HTML reduced to the article allow-list."""
    if not html:
        return ""
    # bleach turns some of these into "?" and keeps others, which feeds cannot carry.
    html = _DROP_WITH_CONTENT.sub("", strip_xml_illegal(html))
    return _article_cleaner.clean(html).strip()


def render_comment_text(text: str) -> str:
    """Turn a reader's plain-text comment into safe HTML: escaped, paragraphs from
    blank lines, line breaks kept, web addresses made into nofollow links."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    parts = []
    for paragraph in paragraphs:
        if not paragraph.strip():
            continue
        escaped = bleach.clean(paragraph, tags=set(), strip=False)
        escaped = escaped.replace("\n", "<br>\n")
        parts.append(f"<p>{_comment_linker.linkify(escaped)}</p>")
    return "\n".join(parts)


# Where one block of text ends and the next begins, so "<p>a</p><p>b</p>" reads
# "a b" rather than "ab" once the tags are gone.
_BLOCK_BOUNDARY = re.compile(
    r"<br\s*/?>|</(?:p|h[1-6]|li|dt|dd|blockquote|figcaption|caption|td|th|pre)\s*>",
    re.IGNORECASE,
)


def strip_all_tags(html: str) -> str:
    """Plain text of some HTML, for excerpts and search (entities left escaped)."""
    html = _DROP_WITH_CONTENT.sub("", html or "")
    html = _BLOCK_BOUNDARY.sub(lambda match: match.group(0) + " ", html)
    return bleach.clean(html, tags=set(), strip=True).strip()
