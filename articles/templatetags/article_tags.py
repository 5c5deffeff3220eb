"""Template tags for the reader site: responsive images, the section menu,
canonical URLs and the JSON-LD of an article."""

import json
import re
from html.parser import HTMLParser

from django import template
from django.conf import settings
from django.core.cache import caches
from django.core.cache.utils import make_template_fragment_key
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from articles.images import rendition_size
from articles.models import Article, Category
from publicpages.addresses import absolute_url
from publicpages.context_processors import fragment_cache_in
from safetext.validators import strip_xml_illegal

register = template.Library()

# Inside <script>, "</script>" or "<!--" in a headline must not end the element:
# the same escapes Django's json_script uses.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


register.filter("absolute", absolute_url)
# For XML templates (sitemaps): text without the characters XML cannot carry.
register.filter("xml_safe", strip_xml_illegal)


@register.filter(expects_localtime=True)
def html_datetime(value) -> str:
    """A <time datetime> value: ISO 8601 in whole seconds (HTML allows at most
    three digits of a fraction), "2026-03-14T09:30:00+0000". strftime, where
    Django's date filter costs ten times as much: a page prints one per comment."""
    if not value:
        return ""
    return value.strftime("%Y-%m-%dT%H:%M:%S%z")


def image_sources(article: Article) -> dict:
    """URLs and size of an article's image: the original as `src`, the WebP
    renditions as a srcset, smallest first."""
    return _sources(
        article.image,
        article.image_width,
        article.image_height,
        article.image_renditions,
    )


def _sources(image, width, height, renditions) -> dict:
    if not image:
        return {}
    renditions = sorted((int(size), name) for size, name in (renditions or {}).items())
    largest = {"url": image.url, "width": width, "height": height}
    if renditions:
        # Social cards and structured data get the largest rendition, with its
        # own size: a crawler may check it against the file.
        largest_width, name = renditions[-1]
        largest["url"] = default_storage.url(name)
        largest["width"], largest["height"] = (
            rendition_size(width, height, largest_width)
            if width and height
            else (None, None)
        )
    return {
        "src": image.url,
        "webp_srcset": ", ".join(
            f"{default_storage.url(name)} {width}w" for width, name in renditions
        ),
        "largest": largest,
        "width": width,
        "height": height,
    }


@register.inclusion_tag("includes/picture.html")
def article_image(article, sizes="100vw", lazy=True, css_class="", decorative=False):
    """The article's image with WebP renditions, explicit width and height (no
    layout shift), and lazy loading unless it is above the fold."""
    return {
        "image": image_sources(article),
        "alt": "" if decorative else article.image_alt,
        "sizes": sizes,
        "lazy": lazy,
        "css_class": css_class,
    }


@register.inclusion_tag("includes/body_figure.html")
def body_figure(figure):
    """A figure of the body: its library photo with renditions, width and
    height, alt text and credit, and its caption (or the photo's)."""
    photo = figure.photo
    return {
        "photo": photo,
        "caption": figure.shown_caption,
        "image": _sources(photo.image, photo.width, photo.height, photo.renditions),
    }


class _TopLevelBlocks(HTMLParser):
    """Where each top-level element of a (clean) body ends, as offsets."""

    def __init__(self, text):
        super().__init__(convert_charrefs=False)
        self.depth = 0
        self.ends = []
        # getpos() counts lines by "\n" only.
        self._line_starts = [0] + [n + 1 for n, c in enumerate(text) if c == "\n"]
        self.feed(text)
        self.close()

    def _offset(self):
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if tag in VOID_ELEMENTS:
            if self.depth == 0:
                self.ends.append(self._offset() + len(self.get_starttag_text()))
            return
        self.depth += 1

    def handle_endtag(self, tag):
        if tag in VOID_ELEMENTS:
            return
        self.depth -= 1
        if self.depth == 0:
            self.ends.append(self._offset() + len(f"</{tag}>"))


VOID_ELEMENTS = {"br", "hr", "img", "wbr"}


def with_figures(body: str, figures) -> str:
    """`body` with each figure's HTML after the top-level block it names."""
    if not figures:
        return body
    ends = _TopLevelBlocks(body).ends
    pieces, start = [], 0
    for figure in sorted(figures, key=lambda f: (f.after_paragraph, f.pk)):
        if figure.after_paragraph == 0:
            cut = 0
        elif figure.after_paragraph <= len(ends):
            cut = ends[figure.after_paragraph - 1]
        else:
            cut = len(body)
        cut = max(cut, start)
        pieces += [
            body[start:cut],
            render_to_string("includes/body_figure.html", body_figure(figure)),
        ]
        start = cut
    pieces.append(body[start:])
    return "".join(pieces)


_FIRST_PARAGRAPH = re.compile(r"^\s*<p(\s[^>]*)?>", re.IGNORECASE)


@register.filter
def story_body(article, figures=()):
    """The stored (already clean) body, opened by the dateline: "YEREVAN — " at
    the start of the first paragraph, as wire copy reads, with its `figures`
    between its blocks."""
    body = article.body or ""
    if article.dateline:
        dateline = format_html('<span class="dateline">{} —</span> ', article.dateline)
        match = _FIRST_PARAGRAPH.match(body)
        if match:
            body = body[: match.end()] + dateline + body[match.end() :]
        else:
            body = format_html("<p>{}</p>", dateline) + body
    # The body is stored clean (safetext.sanitizer); the figures are rendered
    # from their rows by a template.
    return mark_safe(with_figures(body, figures))


def section_links(fragment_cache) -> list[tuple[str, str]]:
    """(name, address) of every section, in menu order; kept with the page's
    fragments (publicpages.context_processors.FragmentCache)."""
    return caches["template_fragments"].get_or_set(
        make_template_fragment_key("section-links", [fragment_cache.version]),
        lambda: [
            (category.name, category.get_absolute_url())
            for category in Category.objects.only("name", "slug")
        ],
        fragment_cache.timeout,
    )


@register.inclusion_tag("includes/section_nav.html", takes_context=True)
def section_nav(context):
    """The category menu, marking the page it is on: a cached fragment for each
    item that can be current (any other address shares one, so a crawl of
    made-up addresses stores nothing new)."""
    request = context.get("request")
    path = request.path if request else ""
    fragment_cache = fragment_cache_in(context)
    links = section_links(fragment_cache)
    current = path if path == "/" or any(url == path for _, url in links) else ""
    return {"links": links, "current_path": current, "fragment_cache": fragment_cache}


@register.simple_tag(takes_context=True)
def canonical_url(context):
    """This page's address on the public site; page 2 and later keep ?page=."""
    request = context["request"]
    url = absolute_url(request.path)
    page = request.GET.get("page", "")
    if page.isdigit() and int(page) > 1:
        url += f"?page={int(page)}"
    return url


@register.simple_tag
def site_name():
    """For templates rendered without context processors (500.html)."""
    return settings.SITE_NAME


@register.simple_tag
def site_logo_url():
    return absolute_url(static("articles/logo.png"))


def article_structured_data(article: Article, authors, corrections=()) -> dict:
    """schema.org NewsArticle for an article page; `corrections` are its
    Correction notes (updates are not corrections, and are left out)."""
    url = absolute_url(article.get_absolute_url())
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "url": url,
        "headline": article.title[:110],
        "description": article.standfirst or article.excerpt,
        "datePublished": article.published_at.isoformat()
        if article.published_at
        else None,
        "dateModified": article.last_updated.isoformat()
        if article.last_updated
        else None,
        "articleSection": article.category.name,
        "author": [
            {
                "@type": "Person",
                "name": author.name,
                "url": absolute_url(author.get_absolute_url()),
            }
            for author in authors
        ],
        "publisher": {
            "@type": "Organization",
            "name": settings.PUBLISHER_NAME,
            "url": absolute_url("/"),
            "logo": {
                "@type": "ImageObject",
                "url": absolute_url(static("articles/logo.png")),
                "width": 512,
                "height": 512,
            },
        },
    }
    if article.dateline:
        data["dateline"] = article.dateline
    data["correction"] = [
        {
            "@type": "CorrectionComment",
            "text": correction.note,
            "datePublished": correction.created_at.isoformat(),
            "url": absolute_url(correction.get_absolute_url()),
        }
        for correction in corrections
        if correction.kind == correction.Kind.CORRECTION
    ]
    image = image_sources(article)
    if image:
        largest = image["largest"]
        data["image"] = {"@type": "ImageObject", "url": absolute_url(largest["url"])}
        if largest["width"] and largest["height"]:
            data["image"]["width"] = largest["width"]
            data["image"]["height"] = largest["height"]
    return {key: value for key, value in data.items() if value not in (None, "", [])}


@register.simple_tag(takes_context=True)
def article_json_ld(context, article, parts):
    """The article's JSON-LD, kept with the page's fragments; `parts`
    (articles.views.StoryParts) gives the authors, needed only when it is not."""
    fragment_cache = fragment_cache_in(context)
    text = caches["template_fragments"].get_or_set(
        make_template_fragment_key(
            "article-json-ld", [fragment_cache.version, article.pk]
        ),
        lambda: json.dumps(
            article_structured_data(article, parts.authors, parts.corrections),
            ensure_ascii=False,
        ),
        fragment_cache.timeout,
    )
    # A data block, never run: CSP does not apply to it, so it carries no nonce
    # (which would make the page different for every reader).
    return format_html(
        '<script type="application/ld+json">{}</script>',
        mark_safe(text.translate(_JSON_SCRIPT_ESCAPES)),
    )
