"""
The benchmark dataset: a newsroom of a chosen size, written with bulk_create.

bulk_create sends no signals and skips Model.save(), so the rows are built the way
save() would leave them: bodies already clean, excerpts filled in, comment counts
matching the approved comments. Comments and subscribers are built only when those
apps' models exist, so the harness works while they are being written.

Run it alone (it needs the environment run.py sets: DJANGO_SETTINGS_MODULE and a
database) or through run.py, which calls build().
"""

import random
import sys
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CATEGORIES = [
    ("News", "news"),
    ("Politics", "politics"),
    ("Business", "business"),
    ("Science", "science"),
    ("Culture", "culture"),
    ("Sport", "sport"),
    ("World", "world"),
    ("Opinion", "opinion"),
]


def _words(text: str) -> list[str]:
    return text.split()


# Vocabulary for generated copy. Repetition is fine; the point is realistic length
# and a search index with common and rare words.
PLACES = _words(
    "Riverside Harbourtown Northgate Eastmoor Lowfield Kestrel Bay Greyhill Ashford "
    "Millbrook Stonebridge Cedar Point Westmarch Fenwick Ollerby Dunmore"
)
SUBJECTS = _words(
    "council budget ferry timetable rail link school meals housing plan harbour "
    "dredging library hours water tariff bus routes wind farm flood barrier "
    "hospital wing bridge repair market hall night buses cycle lanes museum grant "
    "fishing quota port expansion orchard cooperative"
)
VERBS = _words(
    "approves delays reshapes questions funds postpones expands trims revives "
    "reviews challenges backs opens closes doubles"
)
WORDS = _words(
    "the a residents said officials on Tuesday after weeks of debate over plans "
    "that would change how the town pays for its services while opponents argued "
    "the figures did not add up and supporters pointed to long queues at the "
    "counter where people waited for answers about costs delays and the next "
    "steps in a process many described as slow but necessary according to "
    "documents seen by this newspaper the proposal includes new staff a review "
    "of contracts and a public meeting in the spring"
)
FIRST_NAMES = _words(
    "Ana Ben Chloe Dara Eli Farah Gil Hana Ivo Jana Kai Lena Milo Nia Omar Pia "
    "Quinn Rosa Sami Tara Uma Vik Wren Yara Zane"
)
LAST_NAMES = _words(
    "Abbott Brandt Costa Dimitrov Evans Fischer Grant Horvat Ibsen Jovanovic Keller "
    "Larsen Moreau Novak Okafor Petrov Quist Rossi Sato Tanaka Urban Varga Weber"
)
TAGS = [
    f"{word}-{n}" if n else word
    for n in range(6)
    for word in _words(
        "transport housing budget health schools energy climate courts elections "
        "farming tourism water policing arts football tennis"
    )
]

SEARCH_TERM = "harbour dredging"


@dataclass
class Size:
    articles: int
    comments: int
    subscribers: int

    @classmethod
    def full(cls):
        return cls(articles=10_000, comments=100_000, subscribers=100_000)

    @classmethod
    def quick(cls):
        return cls(articles=300, comments=2_000, subscribers=2_000)


@dataclass
class Dataset:
    """What the benchmark needs to know about the data it built."""

    size: dict
    article_50: str = ""
    article_500: str = ""
    category: str = ""
    search: str = SEARCH_TERM
    comments_built: bool = False
    subscribers_built: bool = False
    confirmed_subscribers: int = 0
    newsletter_id: int | None = None
    comment_emails: list = field(default_factory=list)


def _sentence(rng):
    words = rng.choices(WORDS, k=rng.randint(12, 24))
    return " ".join(words).capitalize() + "."


def _paragraph(rng):
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 5)))


def _headline(rng, n):
    return (
        f"{rng.choice(PLACES)} {rng.choice(VERBS)} "
        f"{rng.choice(SUBJECTS)} {rng.choice(SUBJECTS)} ({n})"
    )


def _comment_counts(rng, articles: int, comments: int) -> list[int]:
    """Approved comments per article: a long tail, with article 0 holding 500 and
    article 1 exactly 50 (when the total allows)."""
    counts = [0] * articles
    if articles < 2 or comments <= 0:
        return counts
    heavy = min(500, comments // 4)
    chosen = min(50, max(comments - heavy, 0))
    counts[0], counts[1] = heavy, chosen
    left = comments - heavy - chosen
    # Pareto weights: most articles get a few comments, some get many.
    weights = [rng.paretovariate(1.2) for _ in range(articles - 2)]
    total = sum(weights)
    for i, weight in enumerate(weights):
        counts[i + 2] = min(int(left * weight / total), 450)
    shortfall = left - sum(counts[2:])
    i = 2
    while shortfall > 0:
        if counts[i] < 450:
            counts[i] += 1
            shortfall -= 1
        i = 2 + (i - 1) % (articles - 2)
    return counts


def build(size: Size, *, seed: int = 7, log=print) -> Dataset:
    """Fill an empty, migrated database. Returns what the benchmark needs."""
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from django.utils import timezone
    from taggit.models import Tag, TaggedItem

    from articles.models import Article, Author, Category
    from safetext.sanitizer import render_comment_text

    rng = random.Random(seed)
    now = timezone.now()
    data = Dataset(size=asdict(size))
    batch = 2000

    with transaction.atomic():
        categories = Category.objects.bulk_create(
            Category(name=name, slug=slug, position=i, description=f"{name} coverage.")
            for i, (name, slug) in enumerate(CATEGORIES)
        )
        data.category = categories[0].slug
        authors = Author.objects.bulk_create(
            Author(
                name=f"{first} {last}",
                slug=f"{first}-{last}".lower(),
                bio=f"{first} reports for the newsroom.",
            )
            for first, last in zip(FIRST_NAMES, LAST_NAMES, strict=False)
        )
        tags = Tag.objects.bulk_create(Tag(name=name, slug=name) for name in TAGS)
        log(f"  {len(categories)} categories, {len(authors)} authors, {len(tags)} tags")

        paragraphs = [_paragraph(rng) for _ in range(400)]
        articles = []
        for n in range(size.articles):
            body_parts = rng.sample(paragraphs, 6)
            if n % 7 == 0:
                body_parts[2] += f" Work on the {SEARCH_TERM} resumes next month."
            body = "\n".join(f"<p>{text}</p>" for text in body_parts)
            articles.append(
                Article(
                    title=_headline(rng, n),
                    slug=f"story-{n}",
                    standfirst=_sentence(rng),
                    dateline=rng.choice(PLACES).upper(),
                    body=body,
                    excerpt=body_parts[0][:300],
                    category=categories[n % len(categories)],
                    status=Article.Status.PUBLISHED,
                    # The two comment-heavy articles are the newest, so comments
                    # stay open on them (they close some days after publication).
                    published_at=now - timedelta(minutes=5 + n * 17),
                    is_featured=n == 2,
                )
            )
        articles = Article.objects.bulk_create(articles, batch_size=batch)
        data.article_500 = articles[0].slug
        data.article_50 = articles[1].slug
        log(f"  {len(articles)} articles")

        Through = Article.authors.through
        Through.objects.bulk_create(
            (
                Through(article_id=article.pk, author_id=rng.choice(authors).pk)
                for article in articles
            ),
            batch_size=batch,
        )
        article_type = ContentType.objects.get_for_model(Article)
        TaggedItem.objects.bulk_create(
            (
                TaggedItem(content_type=article_type, object_id=article.pk, tag=tag)
                for article in articles
                for tag in rng.sample(tags, 3)
            ),
            batch_size=batch,
        )

    Comment = _model_with_table(apps, "comments", "Comment")
    if Comment is not None and size.comments:
        _build_comments(Comment, articles, size, rng, now, data, render_comment_text)
        log(f"  {size.comments} approved comments")

    Subscriber = _model_with_table(apps, "newsletter", "Subscriber")
    Newsletter = _model_with_table(apps, "newsletter", "Newsletter")
    if Subscriber is not None and Newsletter is not None and size.subscribers:
        _build_subscribers(Newsletter, Subscriber, size, now, data)
        log(f"  {size.subscribers} confirmed subscribers")
    from django.db import connection

    if connection.vendor == "postgresql":
        # Autovacuum would analyse the new rows within a minute of a bulk load;
        # do it now so the first pages are planned as they would be later. SQLite
        # has no such daemon, and nothing in the app runs ANALYZE, so it is left
        # as production would have it.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return data


def _model_with_table(apps, app_label, name):
    """The model, if it exists and its migration has made its table."""
    from django.db import connection

    try:
        model = apps.get_model(app_label, name)
    except LookupError:
        return None
    if model._meta.db_table not in connection.introspection.table_names():
        return None
    return model


def _build_comments(Comment, articles, size, rng, now, data, render):
    from django.db import transaction

    from articles.models import Article

    # A pool of texts rendered once: bleach on 100,000 comments would take minutes
    # and measure nothing about the site.
    pool = []
    for _ in range(300):
        text = "\n\n".join(_paragraph(rng) for _ in range(rng.randint(1, 3)))
        pool.append((text, render(text)))
    counts = _comment_counts(rng, len(articles), size.comments)
    emails = [f"reader{n}@example.net" for n in range(2000)]
    data.comment_emails = emails[:20]
    with transaction.atomic():
        rows = []
        for article, count in zip(articles, counts, strict=True):
            for i in range(count):
                text, html = rng.choice(pool)
                email = rng.choice(emails)
                rows.append(
                    Comment(
                        article_id=article.pk,
                        author_name=email.split("@")[0].title(),
                        author_email=email,
                        text=text,
                        html=html,
                        status=Comment.Status.APPROVED,
                        created_at=article.published_at + timedelta(seconds=30 + i),
                    )
                )
            if len(rows) >= 5000:
                Comment.objects.bulk_create(rows, batch_size=2000)
                rows = []
        Comment.objects.bulk_create(rows, batch_size=2000)
        Article.objects.bulk_update(
            [
                Article(pk=article.pk, comment_count=count)
                for article, count in zip(articles, counts, strict=True)
            ],
            ["comment_count"],
            batch_size=2000,
        )
    data.comments_built = True


def _build_subscribers(Newsletter, Subscriber, size, now, data):
    from django.db import transaction

    with transaction.atomic():
        newsletter = Newsletter.objects.create(
            name="Morning Briefing", slug="morning-briefing", is_default=True
        )
        subscribers = Subscriber.objects.bulk_create(
            (
                Subscriber(
                    email=f"subscriber{n}@example.org",
                    status=Subscriber.Status.CONFIRMED,
                    created_at=now,
                    confirmed_at=now,
                    consent_at=now,
                    consent_source="bench dataset",
                )
                for n in range(size.subscribers)
            ),
            batch_size=2000,
        )
        Through = Subscriber.newsletters.through
        Through.objects.bulk_create(
            (
                Through(subscriber_id=s.pk, newsletter_id=newsletter.pk)
                for s in subscribers
            ),
            batch_size=2000,
        )
    data.subscribers_built = True
    data.confirmed_subscribers = len(subscribers)
    data.newsletter_id = newsletter.pk


if __name__ == "__main__":
    import argparse
    import json

    import django

    from newsroom.cli import one_line_errors

    parser = one_line_errors(
        argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    django.setup()
    dataset = build(Size.quick() if args.quick else Size.full())
    print(json.dumps(asdict(dataset), indent=2))
