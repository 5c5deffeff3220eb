import html
import re

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django_prose_editor.fields import ProseEditorField
from taggit.managers import TaggableManager

from articles.fields import CleanImageField
from publicpages.generation import invalidate_public_pages
from safetext.sanitizer import clean_article_html, strip_all_tags
from safetext.validators import CheckedTextMixin

EXCERPT_WORDS = 40

SLUG_REDIRECTED_MESSAGE = (
    "This address used to belong to another article, and its old links now lead "
    "there. Choose another slug so that they keep working."
)

# What the body editor offers: a subset of the sanitiser's allow-list, so nothing an
# editor can make is removed on save.
BODY_EDITOR_EXTENSIONS = {
    "Bold": True,
    "Italic": True,
    "Underline": True,
    "Strike": True,
    "Subscript": True,
    "Superscript": True,
    "Code": True,
    "Heading": {"levels": [2, 3, 4]},
    "BulletList": True,
    "OrderedList": True,
    "ListItem": True,
    "Blockquote": True,
    "HorizontalRule": True,
    "HardBreak": True,
    "Link": {"enableTarget": False, "protocols": ["http", "https", "mailto"]},
    "Table": True,
    "TableRow": True,
    "TableHeader": True,
    "TableCell": True,
    "History": True,
}


class User(CheckedTextMixin, AbstractUser):
    """The newsroom's staff accounts. Readers and subscribers have no account."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class Category(CheckedTextMixin, models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(
        blank=True, help_text="One or two sentences shown on the category page."
    )
    position = models.PositiveSmallIntegerField(
        default=0,
        help_text="Lower numbers come first in the menu and on the home page.",
    )

    class Meta:
        ordering = ["position", "name"]
        verbose_name = "category"
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("articles:category", kwargs={"slug": self.slug})


class Author(CheckedTextMixin, models.Model):
    """A byline. Wire services and guest writers have no staff account."""

    name = models.CharField(max_length=120, help_text="As printed in the byline.")
    slug = models.SlugField(max_length=120, unique=True)
    bio = models.TextField(blank=True, help_text="A short biography, plain text.")
    photo = CleanImageField(upload_to="authors/", blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="author",
        help_text="The staff account that writes under this byline, if any.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "author"
        verbose_name_plural = "authors"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("articles:author", kwargs={"slug": self.slug})


class ArticleQuerySet(models.QuerySet):
    def published(self):
        """Articles a reader may see: published, and due (scheduled ones appear by
        themselves once their time has come)."""
        return self.filter(
            status=Article.Status.PUBLISHED, published_at__lte=timezone.now()
        )

    def scheduled(self):
        return self.filter(
            status=Article.Status.PUBLISHED, published_at__gt=timezone.now()
        )

    def drafts(self):
        return self.filter(status=Article.Status.DRAFT)

    def in_review(self):
        """Articles their writers submitted, waiting for an editor."""
        return self.filter(status=Article.Status.REVIEW)


class ArticleManager(models.Manager.from_queryset(ArticleQuerySet)):
    def get_queryset(self):
        # The stored search document is as large as the body and only the
        # database reads it (search filters and ranks on it in SQL), so no page
        # fetches it; a save() then leaves it to the trigger.
        return super().get_queryset().defer("search_vector")


class Article(CheckedTextMixin, models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        # Submitted by its writer (articles.workflow): read-only to them until an
        # editor publishes it or sends it back with a note.
        REVIEW = "review", "Ready for review"
        PUBLISHED = "published", "Published"

    title = models.CharField(max_length=200)
    slug = models.SlugField(
        max_length=200,
        unique=True,
        help_text="The last part of the article's address. Changing it after "
        "publication is safe: the old address redirects to the new one.",
    )
    standfirst = models.TextField(
        blank=True,
        max_length=400,
        help_text="The dek: one or two sentences under the headline.",
    )
    dateline = models.CharField(
        max_length=80,
        blank=True,
        help_text='Where the story was filed, e.g. "YEREVAN". Shown as "YEREVAN —" '
        "at the start of the body.",
    )
    body = ProseEditorField(
        config={"extensions": BODY_EDITOR_EXTENSIONS},
        # Also applied by save(); here it makes full_clean() agree with storage.
        sanitize=clean_article_html,
        blank=True,
        help_text="The story. Stored sanitised; scripts are removed.",
    )
    excerpt = models.TextField(
        blank=True,
        max_length=500,
        help_text="Shown on listings, in feeds and newsletters. Left blank, it is "
        "taken from the start of the body and follows every correction of the "
        "body; edited, it is kept as written. Clear it to go back to the body's.",
    )
    excerpt_is_custom = models.BooleanField(
        "excerpt written by an editor",
        default=False,
        editable=False,
        help_text="Otherwise the excerpt is taken from the body on every save.",
    )

    # Stored re-encoded, without metadata, under a name made from the slug; the
    # size and renditions fields below are filled when a new image is stored.
    image = CleanImageField(
        upload_to="articles/%Y/%m/",
        blank=True,
        size_fields=("image_width", "image_height"),
        renditions_field="image_renditions",
    )
    image_alt = models.CharField(
        "image alt text",
        max_length=250,
        blank=True,
        help_text="What the image shows, for readers who cannot see it. Required "
        "with an image.",
    )
    image_caption = models.CharField(max_length=300, blank=True)
    image_credit = models.CharField(
        max_length=150, blank=True, help_text='e.g. "Photo: Ani Petrosyan"'
    )
    image_width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    image_renditions = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Resized WebP copies of the image, by width.",
    )

    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="articles"
    )
    authors = models.ManyToManyField(
        Author, through="Byline", related_name="articles", blank=True
    )
    tags = TaggableManager(blank=True)
    related_articles = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        help_text='Pinned first in "You May Also Like".',
    )

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    published_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A time in the future schedules the article: it appears by itself "
        "at that time.",
    )
    submitted_at = models.DateTimeField(
        "submitted for review",
        null=True,
        blank=True,
        editable=False,
        help_text="When the writer last submitted the article for review.",
    )
    review_note = models.TextField(
        "editor's note",
        blank=True,
        editable=False,
        help_text="Why an editor sent the article back to its writer.",
    )
    # Whether the editors' batched email has listed this submission yet.
    editors_notified = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    modified_at = models.DateTimeField(
        "updated (shown to readers)",
        null=True,
        blank=True,
        editable=False,
        help_text="The 'Updated' time readers see: moved by an editor's save of "
        "the published article (unless marked a minor edit) and by a correction "
        "or update note.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="articles_created",
    )

    comments_enabled = models.BooleanField(default=True)
    is_featured = models.BooleanField(
        "lead story", default=False, help_text="Lead the home page with this story."
    )
    # Kept up to date by the comments app, so listings can say "3 Comments"
    # without a query per article.
    comment_count = models.PositiveIntegerField(default=0, editable=False)
    # Title (weight A), standfirst (B) and body (C) as one full-text document for
    # search on PostgreSQL, written by the database itself: a trigger (migration
    # 0005) fills it on every insert and every update of those columns, whatever
    # wrote the row (save, update(), bulk_create, loaddata). The attribute on an
    # instance is not refreshed after save. Always NULL on SQLite, whose search
    # reads the columns.
    search_vector = SearchVectorField(null=True, editable=False)

    objects = ArticleManager()

    class Meta:
        ordering = ["-published_at", "-id"]
        get_latest_by = "published_at"
        verbose_name = "article"
        verbose_name_plural = "articles"
        permissions = [("publish_article", "Can publish articles")]
        constraints = [
            # published() compares published_at with now: a published row without
            # a time would be invisible for ever. save() and clean() fill it in.
            models.CheckConstraint(
                condition=~models.Q(status="published")
                | models.Q(published_at__isnull=False),
                name="article_published_has_time",
            ),
        ]
        indexes = [
            # published(): every public listing filters on status and sorts by date.
            models.Index(
                fields=["status", "-published_at"], name="article_published_idx"
            ),
            # Category pages: published() within one category.
            models.Index(
                fields=["category", "status", "-published_at"],
                name="article_category_idx",
            ),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        touched = set(update_fields) if update_fields is not None else None

        def touches(*names):
            return touched is None or bool(touched.intersection(names))

        if self.pk is None:
            # A new row has no search document yet: the database's trigger
            # writes it. Without this, the copy idiom (pk = None; save()) on an
            # article from the default manager, which defers the field, fails.
            self.search_vector = None
        # Every way in (admin, import, command, API) passes through here, so the
        # stored body is always clean and pages can print it as it is.
        if touches("body"):
            self.body = clean_article_html(self.body)
        if touches("body", "excerpt"):
            self._update_excerpt()
            if touched is not None:
                touched.update({"excerpt", "excerpt_is_custom"})
        # Before the slug is looked up and the image processed.
        self.validate_text(only=update_fields)
        if touches("slug") and self.slug_is_redirected():
            raise ValidationError({"slug": SLUG_REDIRECTED_MESSAGE})
        if (
            touches("status", "published_at")
            and self.status == self.Status.PUBLISHED
            and self.published_at is None
        ):
            self.published_at = timezone.now()
            if touched is not None:
                touched.add("published_at")
        if (
            touches("status")
            and self.status == self.Status.REVIEW
            and self.submitted_at is None
        ):
            # However it got there (the workflow, an editor's status menu), an
            # article in review says since when: the editors' queue sorts on it.
            self.submitted_at = timezone.now()
            if touched is not None:
                touched.add("submitted_at")
        if touches("image") and touched is not None:
            touched.update({"image_width", "image_height", "image_renditions"})
        if touched is not None:
            kwargs["update_fields"] = touched

        old_slug = None
        if self.pk and touches("slug"):
            old_slug = (
                Article.objects.filter(pk=self.pk)
                .values_list("slug", flat=True)
                .first()
            )

        with transaction.atomic():
            super().save(*args, **kwargs)
            if old_slug and old_slug != self.slug:
                SlugRedirect.objects.update_or_create(
                    old_slug=old_slug, defaults={"article": self}
                )
            # Back to a former slug of its own: the address is live again.
            SlugRedirect.objects.filter(old_slug=self.slug, article=self).delete()
        _invalidate_public_pages()

    def get_absolute_url(self):
        return reverse("articles:detail", kwargs={"slug": self.slug})

    @property
    def last_updated(self):
        """When readers were last told the story changed: its latest update, or
        its publication."""
        return self.modified_at or self.published_at

    @property
    def tagged_items(self):
        """The article's tag links: a revision keeps them (articles.revisions), so
        restoring it restores the tags."""
        return self.tags.through.objects.filter(
            content_type=ContentType.objects.get_for_model(Article), object_id=self.pk
        )

    def slug_is_redirected(self) -> bool:
        """Whether the slug is another article's former one: taking it would
        break that article's old links."""
        return (
            SlugRedirect.objects.filter(old_slug=self.slug)
            .exclude(article_id=self.pk)
            .exists()
        )

    def _update_excerpt(self):
        """Keep an excerpt someone wrote; take any other from the body again, so a
        corrected first paragraph reaches listings, feeds and newsletters."""
        stored = None
        if self.pk:
            stored = (
                Article.objects.filter(pk=self.pk)
                .values("excerpt", "excerpt_is_custom")
                .first()
            )
        if not self.excerpt.strip():
            self.excerpt_is_custom = False
        elif stored is None or self.excerpt != stored["excerpt"]:
            self.excerpt_is_custom = True
        else:
            self.excerpt_is_custom = stored["excerpt_is_custom"]
        if not self.excerpt_is_custom:
            self.excerpt = make_excerpt(self.body)

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        _invalidate_public_pages()
        return result

    def set_authors(self, authors):
        """Make `authors` the article's byline, in that order."""
        with transaction.atomic():
            self.bylines.all().delete()
            Byline.objects.bulk_create(
                Byline(article=self, author=author, position=position)
                for position, author in enumerate(authors)
            )
        _invalidate_public_pages()

    def is_owned_by(self, user) -> bool:
        """Whether `user` created the article or writes under one of its bylines."""
        if user.pk is None:
            return False
        if self.created_by_id == user.pk:
            return True
        return self.authors.filter(user=user).exists()

    def can_be_previewed_by(self, user) -> bool:
        """Whether `user` may see this article before it is published: editors
        (who may publish) see every article; writers only their own."""
        if not user.is_active or not user.is_staff:
            return False
        if user.has_perm("articles.publish_article"):
            return True
        return user.has_perm("articles.view_article") and self.is_owned_by(user)

    @property
    def is_published(self):
        return (
            self.status == self.Status.PUBLISHED
            and self.published_at is not None
            and self.published_at <= timezone.now()
        )

    @property
    def is_scheduled(self):
        return (
            self.status == self.Status.PUBLISHED
            and self.published_at is not None
            and self.published_at > timezone.now()
        )

    def clean(self):
        errors = {}
        if self.image and not self.image_alt.strip():
            errors["image_alt"] = (
                "Describe the image for readers who cannot see it (alt text)."
            )
        if self.slug and self.slug_is_redirected():
            errors["slug"] = SLUG_REDIRECTED_MESSAGE
        if errors:
            raise ValidationError(errors)
        if self.status == self.Status.PUBLISHED and self.published_at is None:
            self.published_at = timezone.now()


class Byline(models.Model):
    """One author on an article's byline; `position` orders them ("By A and B")."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="bylines"
    )
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="bylines")
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Lower numbers come first in the byline."
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "byline"
        verbose_name_plural = "bylines"
        constraints = [
            models.UniqueConstraint(
                fields=["article", "author"], name="byline_author_once"
            ),
        ]

    def __str__(self):
        return self.author.name


class Photo(CheckedTextMixin, models.Model):
    """An image in the newsroom's library, ready to be placed in any article's
    body as a figure: stored without metadata, with renditions and its size, and
    described once (alt text, caption, credit)."""

    image = CleanImageField(
        upload_to="photos/%Y/%m/",
        size_fields=("width", "height"),
        renditions_field="renditions",
        help_text="JPEG, PNG, WebP or GIF. Location and camera data are removed "
        "on upload; smaller copies for phones are made automatically.",
    )
    alt = models.CharField(
        "alt text",
        max_length=250,
        help_text="What the image shows, for readers who cannot see it. Also how "
        "writers find it in the library.",
    )
    caption = models.CharField(
        max_length=300,
        blank=True,
        help_text="Shown under the image; a figure may give its own instead.",
    )
    credit = models.CharField(
        max_length=150, blank=True, help_text='e.g. "Photo: Ani Petrosyan"'
    )
    width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    renditions = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Resized WebP copies of the image, by width.",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="photos_uploaded",
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        get_latest_by = "uploaded_at"
        verbose_name = "photo"
        verbose_name_plural = "photo library"

    def __str__(self):
        return f"{self.alt} ({self.credit})" if self.credit else self.alt

    @property
    def slug(self):
        # Stored files are named after it (CleanImageFieldFile); the alt text
        # is public already, unlike the uploaded file's name.
        return self.alt


class Figure(CheckedTextMixin, models.Model):
    """A library photo inside an article's body, placed after one of its paragraphs.

    The body itself never holds figure markup (the sanitiser allows none): the
    article page puts each figure, rendered from this row and its photo, between
    the body's blocks."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="figures"
    )
    photo = models.ForeignKey(
        Photo,
        # A photo placed in a story stays in the library while it is there.
        on_delete=models.PROTECT,
        related_name="figures",
        help_text="Type to search the library by alt text, caption or credit; "
        "+ uploads a new image.",
    )
    caption = models.CharField(
        max_length=300,
        blank=True,
        help_text="Leave blank to show the photo's own caption.",
    )
    after_paragraph = models.PositiveSmallIntegerField(
        default=1,
        help_text="Shown after this paragraph (or heading, list, table) of the "
        "body; 0 puts it before the first. Past the end, it closes the body.",
    )

    class Meta:
        ordering = ["after_paragraph", "id"]
        verbose_name = "figure"
        verbose_name_plural = "figures"

    def __str__(self):
        return str(self.photo)

    @property
    def shown_caption(self):
        return self.caption or self.photo.caption


def next_scheduled_publication():
    """When the next scheduled article goes live (None: none is scheduled); the
    public pages' cache lifetimes end then (settings.PUBLIC_PAGES_NEXT_PUBLICATION)."""
    return (
        Article.objects.scheduled()
        .order_by("published_at")
        .values_list("published_at", flat=True)
        .first()
    )


def authors_in_byline_order(lookup="authors") -> Prefetch:
    """Prefetch an article's authors in their byline order (`lookup` reaches
    them from another model, e.g. "articles__authors").

    `article.authors.all()` alone is in the order of Author's Meta: every page,
    feed and email that prints a byline prefetches with this instead."""
    return Prefetch(
        lookup, queryset=Author.objects.order_by("bylines__position", "bylines__id")
    )


def make_excerpt(body_html: str, words: int = EXCERPT_WORDS) -> str:
    """Plain text from the start of an article body, about `words` words long."""
    text = html.unescape(strip_all_tags(body_html))
    text = re.sub(r"\s+", " ", text).strip()
    return Truncator(text).words(words, truncate="…")


def _invalidate_public_pages():
    # Now, so code in the same request (and tests) sees fresh pages; and again
    # after commit, so a page rendered from the old rows while the transaction
    # was open cannot stay cached under the new generation.
    invalidate_public_pages()
    transaction.on_commit(invalidate_public_pages)


class SlugRedirect(CheckedTextMixin, models.Model):
    """An article's former slug, so its old address answers 301 to the new one."""

    old_slug = models.SlugField(max_length=200, unique=True)
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="slug_redirects"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "slug redirect"
        verbose_name_plural = "slug redirects"

    def __str__(self):
        return f"{self.old_slug} → {self.article.slug}"


class Correction(CheckedTextMixin, models.Model):
    """A dated note on a published story, shown to readers on the article, on the
    corrections page and in its feed: a correction of an error, or an update."""

    class Kind(models.TextChoices):
        CORRECTION = "correction", "Correction"
        UPDATE = "update", "Update"

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="corrections"
    )
    kind = models.CharField(
        max_length=10, choices=Kind.choices, default=Kind.CORRECTION
    )
    note = models.TextField(
        max_length=2000,
        help_text="Plain text, shown as written: what was wrong and what is right "
        "now, or what is new.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="corrections_written",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        verbose_name = "correction or update"
        verbose_name_plural = "corrections and updates"
        indexes = [
            # The corrections page and feed: newest first, site-wide.
            models.Index(fields=["-created_at"], name="correction_newest_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to “{self.article}”"

    def save(self, *args, **kwargs):
        adding = self.pk is None
        with transaction.atomic():
            super().save(*args, **kwargs)
            if adding:
                # Readers are told the story changed: its "Updated" time moves.
                Article.objects.filter(pk=self.article_id).update(
                    modified_at=self.created_at
                )
        _invalidate_public_pages()

    def get_absolute_url(self):
        return f"{self.article.get_absolute_url()}#correction-{self.pk}"

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        _invalidate_public_pages()
        return result
