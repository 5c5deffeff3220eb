"""
Load the demo newsroom: categories, bylines, 38 original articles with generated
images, a few scheduled, a few drafts and one ready for review.

Idempotent: everything is keyed by slug; a second run changes nothing. Publication
times and images are set when an article is first created and left alone after,
so running it again never moves a story or re-renders a picture.

Staff accounts (`editor`, `writer`) are created only in DEBUG or with
--with-accounts, with passwords printed once.
"""

import hashlib
import io
import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageOps

from articles.management.commands._demo_content import ARTICLES, AUTHORS, CATEGORIES
from articles.models import Article, Author, Category, User
from safetext.sanitizer import clean_article_html

IMAGE_SIZE = (1200, 675)
ACCOUNTS = [
    # username, password, group, byline it writes under
    ("editor", "newsroom-editor-demo", "Editors", None),
    ("writer", "newsroom-writer-demo", "Writers", "tigran-melikian"),
]


class Command(BaseCommand):
    help = "Load idempotent demo content (categories, authors, articles, images)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-accounts",
            action="store_true",
            help="Also create the demo staff accounts `editor` and `writer` "
            "(always done when DEBUG is on).",
        )
        parser.add_argument(
            "--no-images",
            action="store_true",
            help="Skip the generated images (faster; for tests and quick resets).",
        )

    def handle(self, *args, with_accounts, no_images, verbosity, **options):
        self.verbosity = verbosity
        self.with_images = not no_images
        self.counts = {"created": 0, "updated": 0, "unchanged": 0}
        now = timezone.now()
        with transaction.atomic():
            categories = {
                slug: self._sync(
                    Category,
                    slug,
                    name=name,
                    description=description,
                    position=position,
                )
                for position, (name, slug, description) in enumerate(CATEGORIES)
            }
            authors = {
                slug: self._sync(Author, slug, name=name, bio=bio)
                for name, slug, bio in AUTHORS
            }
            accounts = {}
            if with_accounts or settings.DEBUG:
                accounts = self._accounts(authors)
            writer = accounts.get("writer")
            for spec in ARTICLES:
                self._article(spec, categories, authors, writer, now)

        self._say(
            "Demo content: {created} created, {updated} updated, "
            "{unchanged} unchanged.".format(**self.counts),
            style=self.style.SUCCESS,
        )

    # Output

    def _say(self, message, *, level=1, style=None):
        if self.verbosity >= level:
            self.stdout.write(style(message) if style else message)

    # Upserts that only write what differs, so a second run writes nothing

    def _sync(self, model, slug, **fields):
        obj = model.objects.filter(slug=slug).first()
        if obj is None:
            obj = model.objects.create(slug=slug, **fields)
            self._count("created", obj)
        else:
            self._update(obj, fields)
        return obj

    def _update(self, obj, fields):
        """Write the fields whose stored value differs, and count the outcome."""
        changed = [
            name for name, value in fields.items() if getattr(obj, name) != value
        ]
        if changed:
            for name in changed:
                setattr(obj, name, fields[name])
            obj.save(update_fields=changed)
            self._count("updated", obj)
        else:
            self.counts["unchanged"] += 1

    def _count(self, outcome, obj):
        self.counts[outcome] += 1
        self._say(f"  {outcome} {obj._meta.verbose_name}: {obj}", level=2)

    def _accounts(self, authors):
        accounts = {}
        for username, password, group_name, byline in ACCOUNTS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(
                    username,
                    email=f"{username}@newsroom.example",
                    password=password,
                    is_staff=True,
                )
                group, _ = Group.objects.get_or_create(name=group_name)
                user.groups.add(group)
                self._say(
                    f"Created {group_name[:-1].lower()} account "
                    f"{username!r} with password {password!r}.",
                    style=self.style.WARNING,
                )
                self.counts["created"] += 1
            else:
                self._say(f"  account {username!r} already exists", level=2)
            if byline and authors[byline].user_id is None:
                authors[byline].user = user
                authors[byline].save(update_fields=["user"])
            accounts[username] = user
        return accounts

    def _article(self, spec, categories, authors, writer, now):
        status = {
            "draft": Article.Status.DRAFT,
            "review": Article.Status.REVIEW,
        }.get(spec["state"], Article.Status.PUBLISHED)
        body = "".join(f"<p>{paragraph}</p>" for paragraph in spec["paragraphs"])
        fields = {
            "title": spec["title"],
            "standfirst": spec["standfirst"],
            "dateline": spec["dateline"],
            "body": clean_article_html(body),
            "category": categories[spec["category"]],
            "is_featured": spec.get("featured", False),
            "status": status,
        }
        image = spec["image"] if self.with_images else None
        if image:
            _, _, alt, caption, credit = image
            fields.update(image_alt=alt, image_caption=caption, image_credit=credit)

        article = Article.objects.filter(slug=spec["slug"]).first()
        if article is None:
            article = Article(slug=spec["slug"], **fields)
            if spec["when"] is not None:
                article.published_at = self._when(spec, now)
            if image:
                article.image = ContentFile(
                    demo_image(image[0], image[1], spec["slug"]),
                    name=f"{spec['slug']}.jpg",
                )
            if status != Article.Status.PUBLISHED and writer is not None:
                article.created_by = writer
            if status == Article.Status.REVIEW:
                article.submitted_at = now
            article.save()
            self._count("created", article)
        else:
            self._update(article, fields)

        wanted_authors = [authors[slug] for slug in spec["authors"]]
        stored_authors = [byline.author for byline in article.bylines.all()]
        if stored_authors != wanted_authors:
            article.set_authors(wanted_authors)
        if set(article.tags.names()) != set(spec["tags"]):
            article.tags.set(spec["tags"])

    @staticmethod
    def _when(spec, now):
        # A little variety in the hour, the same on every machine for a slug.
        rng = random.Random(spec["slug"])
        minutes = rng.randrange(7 * 60, 20 * 60)
        if spec["when"] < 0:
            return now + timedelta(days=-spec["when"], minutes=rng.randrange(60))
        day = (now - timedelta(days=spec["when"])).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        when = day + timedelta(minutes=minutes)
        return min(when, now - timedelta(minutes=5))


def demo_image(start: str, end: str, seed: str) -> bytes:
    """A 1200x675 JPEG standing in for a photo: a diagonal gradient and a few soft
    shapes. No words in it: pages crop pictures to other shapes (cards are 3:2),
    and a photo does not repeat the headline printed under it."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    width, height = IMAGE_SIZE
    # A diagonal gradient: the vertical one blended with itself turned a quarter.
    vertical = Image.linear_gradient("L")
    across = vertical.transpose(
        rng.choice([Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270])
    )
    gradient = Image.blend(vertical, across, rng.uniform(0.3, 0.7))
    gradient = gradient.resize(IMAGE_SIZE, Image.Resampling.BILINEAR)
    image = ImageOps.colorize(gradient, start, end).convert("RGB")

    overlay = Image.new("RGBA", IMAGE_SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(5):
        radius = rng.randrange(60, 260)
        x, y = rng.randrange(width), rng.randrange(height)
        shade = rng.choice([(255, 255, 255, 40), (0, 0, 0, 35)])
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=shade)
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
