"""A reader's walk through the site in Chromium, with axe-core on every page type.

home → category → article → a related article → tag → search → author → feed, then
the 404 page, on a desktop and on a phone, in light and dark mode. Screenshots land
in screenshots/ (ignored by git) for a person to look at.
"""

import io
import mimetypes
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from articles.management.commands.seed_demo import demo_image
from tests.conftest import run_axe, save_screenshot
from tests.factories import make_article, make_author, make_category, make_comment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
PALETTE = ["#3d5a80", "#98c1d9", "#ee6c4d", "#293241", "#6a994e", "#bc4749", "#e9c46a"]

STORIES = [
    # (category, title, dateline, tags, standfirst, paragraphs)
    (
        "Environment",
        "Lake Sevan's water level rises for a third year",
        "SEVAN",
        ["Lake Sevan", "Water", "Climate"],
        "A wet spring and tighter irrigation limits have added eleven centimetres "
        "since March, hydrologists say.",
        [
            "The level of Lake Sevan has risen for the third year running, the "
            "hydrology service said on Tuesday, after a wet spring and new limits on "
            "how much water farms may draw for irrigation.",
            "Scientists cautioned that a single good year cannot undo decades of "
            "decline, and that algae blooms remain a worry in the warm months.",
        ],
    ),
    (
        "Environment",
        "Volunteers plant forty thousand oaks in Dilijan",
        "DILIJAN",
        ["Forests", "Climate"],
        "Schools, hikers and a local brewery joined the autumn planting.",
        [
            "More than six hundred volunteers spent the weekend on the slopes above "
            "Dilijan, planting oak and hornbeam saplings grown in a nursery nearby.",
            "Forest rangers will water the young trees through their first summer.",
        ],
    ),
    (
        "Economy",
        "Apricot growers count the cost of a late frost",
        "ARMAVIR",
        ["Agriculture", "Water", "Climate"],
        "Orchards in the Ararat valley lost a third of their blossom in one night.",
        [
            "Growers across the Ararat valley said a single night of frost in April "
            "cost them a third of this year's apricot crop.",
            "The agriculture ministry has promised cheap loans for frost fans and "
            "nets, but many small farms say the money comes too late.",
        ],
    ),
    (
        "Economy",
        "New border crossing cuts lorry queues by half",
        "MEGHRI",
        ["Trade", "Transport"],
        "Drivers report waits of four hours instead of a day.",
        [
            "The second lane at the southern crossing opened on Monday and waiting "
            "times have fallen sharply, hauliers said.",
            "Customs officers now check documents online before lorries arrive.",
        ],
    ),
    (
        "Culture",
        "Matenadaran opens its restored reading room",
        "YEREVAN",
        ["Museums", "Books"],
        "Scholars return to the manuscript library's great hall after two years.",
        [
            "The reading room of the Matenadaran reopened on Friday with new light, "
            "new shelving and climate control for its oldest manuscripts.",
            "Visitors can book a seat online; the first week is already full.",
        ],
    ),
    (
        "Culture",
        "A jazz festival fills Gyumri's old squares",
        "GYUMRI",
        ["Music", "Festivals"],
        "Forty bands played in three days, most of them for free.",
        [
            "Gyumri's black-stone squares filled with brass and double bass as the "
            "city's jazz festival returned for its tenth year.",
            "Organisers said hotels were fully booked for the first time since 2019.",
        ],
    ),
    (
        "Environment",
        "Snow leopard caught on camera in Khosrov reserve",
        "KHOSROV",
        ["Wildlife", "Forests"],
        "A camera trap recorded the rare cat twice in one week.",
        [
            "Rangers in the Khosrov reserve have published pictures of a snow leopard "
            "walking along a ridge at dawn, the first sighting there in two years.",
            "The reserve plans to add twenty more cameras next spring.",
        ],
    ),
]


_IMAGES = {}


def _image(name, colour):
    """An original JPEG and WebP renditions, drawn with Pillow, stored as the
    foundation's upload pipeline stores them. Made once per test session: the
    files outlive the database flush between tests."""
    if name not in _IMAGES:
        _IMAGES[name] = _draw_image(name, colour)
    return _IMAGES[name]


def _draw_image(name, colour):
    # The demo newsroom's own picture maker, so screenshots look like `make run`.
    jpeg = demo_image(colour, "#1b1f3b", seed=name)
    original = Image.open(io.BytesIO(jpeg))
    width, height = original.size
    stored = default_storage.save(f"articles/test/{name}.jpg", ContentFile(jpeg))
    renditions = {}
    for rendition in (480, 800, 1200):
        copy = original.resize((rendition, rendition * height // width))
        buffer = io.BytesIO()
        copy.save(buffer, "WEBP", quality=70)
        renditions[str(rendition)] = default_storage.save(
            f"articles/test/r/{name}-{rendition}.webp", ContentFile(buffer.getvalue())
        )
    return {
        "image": stored,
        "image_width": width,
        "image_height": height,
        "image_renditions": renditions,
    }


def _newsroom():
    sections = {
        name: make_category(name=name, slug=name.lower(), position=n)
        for n, name in enumerate(["Environment", "Economy", "Culture"])
    }
    sections["Environment"].description = "Water, forests, wildlife and the climate."
    sections["Environment"].save()
    ani = make_author(
        name="Ani Petrosyan",
        slug="ani-petrosyan",
        bio="Ani covers the environment and farming from the Ararat valley.",
    )
    davit = make_author(
        name="Davit Harutyunyan", slug="davit-harutyunyan", bio="Culture editor."
    )
    now = timezone.now()
    articles = []
    for n, (section, title, dateline, tags, standfirst, paragraphs) in enumerate(
        STORIES
    ):
        articles.append(
            make_article(
                title=title,
                slug=title.lower().replace("'", "").replace(" ", "-")[:60],
                category=sections[section],
                dateline=dateline,
                standfirst=standfirst,
                body="".join(f"<p>{p}</p>" for p in paragraphs),
                tags=tags,
                authors=[davit] if section == "Culture" else [ani],
                published_at=now - timedelta(hours=3 * n + 1),
                is_featured=n == 0,
                image_alt=f"Illustration for: {title}",
                image_caption=f"{dateline.title()}, this week.",
                image_credit="Illustration: Newsroom",
                **_image(f"story-{n}", PALETTE[n % len(PALETTE)]),
            )
        )
    make_comment(
        articles[0],
        author_name="Narine",
        text="Good news for Gavar: the beach by the old pier is back this summer.",
    )
    make_comment(
        articles[0],
        author_name="Hayk",
        text="Eleven centimetres in a wet year. One dry summer takes that back.",
    )
    return articles


def _serve_media(page):
    """The live server does not serve MEDIA_URL outside DEBUG: answer those
    requests from MEDIA_ROOT so the screenshots show the pictures."""
    root = Path(settings.MEDIA_ROOT)

    def fulfil(route):
        path = route.request.url.split("/media/", 1)[1]
        file = root / path
        if not file.is_file():
            route.fulfill(status=404)
            return
        route.fulfill(
            status=200,
            body=file.read_bytes(),
            content_type=mimetypes.guess_type(file.name)[0] or "image/webp",
        )

    page.route("**/media/**", fulfil)


def _no_axe_violations(page):
    # WCAG 2.2 AA rules (target size among them) are not all on by default.
    results = run_axe(page, runOnly=AXE_TAGS)
    assert results.violations_count == 0, results.generate_report()


def _fits_the_screen(page):
    # Compared with the configured width: a mobile browser widens its layout
    # viewport (and zooms out) when content overflows.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{width}px wide: scrolls sideways"


def _shoot(page, name):
    """Load the lazy images below the fold, as scrolling would for a reader, then
    save a full-page screenshot."""
    page.evaluate(
        "() => document.querySelectorAll('img[loading=lazy]')"
        ".forEach(img => { img.loading = 'eager'; })"
    )
    page.wait_for_function(
        "() => [...document.images].every(img => img.complete)", timeout=5_000
    )
    save_screenshot(page, name)


def _h1(page):
    return page.locator("h1").inner_text().strip()


def test_a_reader_walks_the_site_on_a_desktop(page, live_server):
    articles = _newsroom()
    lead = articles[0]
    _serve_media(page)

    # Home: the featured story leads, sections follow.
    page.goto(live_server.url + "/")
    assert page.locator(".lead .card-title").inner_text() == lead.title
    assert page.get_by_role("heading", name="Culture").is_visible()
    assert page.get_by_role("link", name="2 Comments").first.is_visible()
    _no_axe_violations(page)
    _shoot(page, "desktop-home")

    # A section from the menu.
    page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Economy"
    ).click()
    assert _h1(page) == "Economy"
    assert page.get_by_role("link", name=articles[2].title).is_visible()
    _no_axe_violations(page)
    _shoot(page, "desktop-category")

    # An article.
    page.get_by_role("link", name=articles[2].title).click()
    assert _h1(page) == articles[2].title
    assert (
        page.locator(".story-body p")
        .first.inner_text()
        .startswith("ARMAVIR — Growers across")
    )
    assert page.locator(".story-figure img").evaluate("img => img.naturalWidth") > 0
    assert page.locator(".story-figure .credit").text_content() == (
        "Illustration: Newsroom"
    )
    related = page.locator(".related .card-title a")
    assert related.count() >= 3
    _no_axe_violations(page)
    _shoot(page, "desktop-article")

    # "You May Also Like": the lead shares the most tags (Water, Climate).
    assert related.first.inner_text() == lead.title
    related.first.click()
    assert _h1(page) == lead.title
    assert page.get_by_role("heading", name="2 Comments").is_visible()
    assert page.get_by_text("One dry summer takes that back.").is_visible()

    # A tag.
    page.get_by_role("link", name="Lake Sevan", exact=True).click()
    assert _h1(page) == "Lake Sevan"
    assert page.get_by_role("link", name=lead.title).is_visible()
    _no_axe_violations(page)
    _shoot(page, "desktop-tag")

    # Search from the masthead.
    page.get_by_role("searchbox", name="Search articles").first.fill("frost")
    page.get_by_role("searchbox", name="Search articles").first.press("Enter")
    assert _h1(page) == "Search"
    assert page.locator("main input[type=search]").input_value() == "frost"
    assert page.get_by_role("link", name=articles[2].title).is_visible()
    _no_axe_violations(page)
    _shoot(page, "desktop-search")

    page.goto(live_server.url + "/search/?q=nothing+like+this")
    assert "No articles match" in page.locator("main").inner_text()
    _no_axe_violations(page)

    # An author, from the byline.
    page.goto(live_server.url + articles[2].get_absolute_url())
    page.locator(".story-meta .byline").get_by_role(
        "link", name="Ani Petrosyan"
    ).click()
    assert _h1(page) == "Ani Petrosyan"
    assert "Ararat valley" in page.locator(".listing-intro").inner_text()
    _no_axe_violations(page)
    _shoot(page, "desktop-author")

    # The author's feed, as a feed reader would fetch it.
    feed_href = page.get_by_role(
        "link", name="RSS feed for Ani Petrosyan"
    ).get_attribute("href")
    feed = page.request.get(live_server.url + feed_href)
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("application/rss+xml")
    assert articles[2].title in feed.text()

    # Archive and 404.
    page.goto(live_server.url + "/archive/")
    _no_axe_violations(page)
    response = page.goto(live_server.url + "/articles/not-a-real-story/")
    assert response.status == 404
    assert _h1(page) == "We can’t find that page"
    _no_axe_violations(page)
    _shoot(page, "desktop-404")


def test_the_skip_link_is_the_first_stop_and_moves_focus(page, live_server):
    _newsroom()
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_a_reader_on_a_phone_sees_a_page_that_fits(phone_page, live_server):
    articles = _newsroom()
    _serve_media(phone_page)
    for name, url in [
        ("home", "/"),
        ("article", articles[0].get_absolute_url()),
        ("category", "/category/culture/"),
        ("search", "/search/?q=water"),
    ]:
        phone_page.goto(live_server.url + url)
        _fits_the_screen(phone_page)
        _no_axe_violations(phone_page)
        _shoot(phone_page, f"phone-{name}")


def test_dark_mode_keeps_enough_contrast(page, live_server):
    articles = _newsroom()
    _serve_media(page)
    page.emulate_media(color_scheme="dark")
    for url in ("/", articles[0].get_absolute_url()):
        page.goto(live_server.url + url)
        _no_axe_violations(page)
    _shoot(page, "desktop-article-dark")


def test_printing_an_article_keeps_the_story_and_drops_the_furniture(page, live_server):
    articles = _newsroom()
    _serve_media(page)
    page.goto(live_server.url + articles[0].get_absolute_url())
    page.emulate_media(media="print")
    assert page.locator(".story-title").is_visible()
    assert page.locator(".story-body").is_visible()
    for furniture in (".section-nav", ".site-newsletter", ".comments-slot", ".share"):
        assert page.locator(furniture).is_hidden(), furniture
    _shoot(page, "print-article")
