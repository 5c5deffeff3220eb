"""
Revisions of articles, kept by django-reversion on every save in the admin (who
and when), and a readable comparison of two of them.

A revision holds the article's row and its parts (bylines, tag links, figures),
so that restoring one brings those back too. A figure is stored with the id of the
library photo it shows, never the photo: the library is shared by every article.
Likewise a revision names its category, authors and accounts by id, and its image
by the name of its files: whatever of these has been deleted since stays out of a
restore, which says so (LeftOut).
"""

import difflib
import html
import re
from collections import defaultdict
from dataclasses import dataclass, field

import reversion
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from reversion.models import Revision, Version
from taggit.models import Tag, TaggedItem

from articles.models import (
    Article,
    Author,
    Byline,
    Category,
    Figure,
    Photo,
    SlugRedirect,
)
from safetext.sanitizer import strip_all_tags

# The rows that belong to one article, kept in its revisions and put back (or
# deleted) by a restore.
ARTICLE_PARTS = ["tagged_items", "bylines", "figures"]

reversion.register(Tag)
reversion.register(TaggedItem, follow=["tag"])
reversion.register(Byline)
reversion.register(Figure)
reversion.register(Article, follow=ARTICLE_PARTS)

# The fields that describe the article's image: kept or restored together.
IMAGE_FIELDS = [
    "image",
    "image_alt",
    "image_caption",
    "image_credit",
    "image_width",
    "image_height",
    "image_renditions",
]

# Block-level ends become line breaks, so the body compares paragraph by paragraph.
_BLOCK_END = re.compile(r"</(p|h[1-6]|li|blockquote|tr|pre)>|<br\s*/?>|<hr\s*/?>", re.I)


@dataclass
class FieldDiff:
    label: str
    # (kind, text) pieces, kind being "equal", "delete" or "insert".
    pieces: list[tuple[str, str]]

    @property
    def changed(self) -> bool:
        return any(kind != "equal" for kind, _ in self.pieces)


def body_as_text(body_html: str) -> str:
    """An article body as plain text, one line per paragraph."""
    text = html.unescape(strip_all_tags(_BLOCK_END.sub("\n", body_html or "")))
    lines = (re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def revision_text(version: Version) -> dict[str, str]:
    """The compared fields of an article version, as plain text."""
    data = version.field_dict
    rows = article_rows(version)
    tags = sorted((tag.field_dict["name"] for tag in rows[Tag]), key=str.lower)
    image = str(data.get("image") or "")
    if image and data.get("image_alt"):
        image += f" (alt: {data['image_alt']})"
    if not image_is_stored(data):
        image += " (no longer stored)"
    return {
        "Headline": data.get("title", ""),
        "Standfirst": data.get("standfirst", ""),
        "Body": body_as_text(data.get("body", "")),
        "Image": image,
        "Tags": ", ".join(tags),
        "Figures": figures_as_text(rows[Figure]),
    }


def article_rows(version: Version) -> dict[type, list[Version]]:
    """The versions in the revision of `version` (an article's) that belong to
    that article: its row, bylines, tag links with their tags, and figures, by
    model. A revision made by a list action (publish, unpublish) holds every
    article it changed."""
    article_id = int(version.object_id)
    article_type = ContentType.objects.get_for_model(Article)
    stored = defaultdict(list)
    for other in version.revision.version_set.select_related("content_type"):
        stored[other.content_type.model_class()].append(other)

    def of_article(other):
        return other.field_dict["article_id"] == article_id

    def tags_article(other):
        data = other.field_dict
        return (data["content_type_id"], data["object_id"]) == (
            article_type.pk,
            article_id,
        )

    rows = {
        Article: [v for v in stored[Article] if v.object_id == version.object_id],
        Byline: [v for v in stored[Byline] if of_article(v)],
        Figure: [v for v in stored[Figure] if of_article(v)],
        TaggedItem: [v for v in stored[TaggedItem] if tags_article(v)],
    }
    tag_ids = {item.field_dict["tag_id"] for item in rows[TaggedItem]}
    rows[Tag] = [v for v in stored[Tag] if int(v.object_id) in tag_ids]
    return rows


def figures_as_text(figure_versions: list[Version]) -> str:
    """An article's figures in the order the page shows them, one line each:
    where, which photo (by its alt text) and the figure's own caption."""
    figures = sorted(
        (version.field_dict for version in figure_versions),
        key=lambda figure: (figure["after_paragraph"], figure["id"]),
    )
    alt_texts = dict(
        Photo.objects.filter(
            pk__in=[figure["photo_id"] for figure in figures]
        ).values_list("pk", "alt")
    )
    lines = []
    for figure in figures:
        if figure["after_paragraph"] == 0:
            line = "Before the first paragraph: "
        else:
            line = f"After paragraph {figure['after_paragraph']}: "
        line += alt_texts.get(figure["photo_id"], "(a photo no longer in the library)")
        if figure["caption"]:
            line += f" (caption: {figure['caption']})"
        lines.append(line)
    return "\n".join(lines)


def diff_text(old: str, new: str) -> list[tuple[str, str]]:
    """Differences from `old` to `new`: paragraph by paragraph, then word by word
    within the paragraphs that changed (fast on long bodies)."""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    pieces = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.append(("equal", "".join(old_lines[i1:i2])))
        else:
            pieces += _diff_words("".join(old_lines[i1:i2]), "".join(new_lines[j1:j2]))
    return pieces


def _diff_words(old: str, new: str) -> list[tuple[str, str]]:
    old_words = re.findall(r"\S+\s*|\s+", old)
    new_words = re.findall(r"\S+\s*|\s+", new)
    matcher = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
    pieces = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.append(("equal", "".join(old_words[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(("delete", "".join(old_words[i1:i2])))
        if j2 > j1:
            pieces.append(("insert", "".join(new_words[j1:j2])))
    return pieces


def compare_versions(old: Version, new: Version) -> list[FieldDiff]:
    """Headline, standfirst, body, image, tags and figures of two versions,
    compared."""
    old_text, new_text = revision_text(old), revision_text(new)
    return [
        FieldDiff(label, diff_text(old_text[label], new_text[label]))
        for label in old_text
    ]


@dataclass
class LeftOut:
    """What a restore could not bring back because it has been deleted since.
    The article keeps what it has instead, except an account: that field is
    left empty."""

    # The name of the revision's category, deleted since ("" when no record of
    # its name is left); None when it is still there. The article stays in its
    # current category.
    category: str | None = None
    # The fields ("created by") that named an account deleted since: now empty.
    accounts: list[str] = field(default_factory=list)
    # Authors of the revision's byline deleted since. When none of them is left,
    # the article keeps the byline it has rather than none (byline_kept).
    authors: int = 0
    byline_kept: bool = False
    # The revision's image file, or one of its renditions, is no longer in
    # storage: the article keeps its current image and what describes it.
    image: bool = False
    # Figures whose photo has left the library.
    figures: int = 0


@dataclass
class Restored:
    article: Article
    left_out: LeftOut


def restore(version: Version, *, user) -> Restored:
    """Bring the article back to `version` (its text, filing, bylines, tags and
    figures), as a new revision by `user`. Its correction notes stay: they are
    public. What the revision names that has been deleted since (see revert())
    is left out, and listed in the result so the editor can be told."""
    when = timezone.localtime(version.revision.date_created)
    with transaction.atomic(), reversion.create_revision():
        current_slug = Article.objects.get(pk=version.object_id).slug
        left_out = revert(version)
        # revert() writes the stored rows as they were; a save through the model
        # makes it a change like any other: a new time, fresh public pages.
        article = Article.objects.get(pk=version.object_id)
        if article.is_published:
            article.modified_at = timezone.now()
        article.save()
        if article.slug != current_slug:
            # The address it had until now keeps working.
            SlugRedirect.objects.update_or_create(
                old_slug=current_slug, defaults={"article": article}
            )
        reversion.set_user(user)
        reversion.set_comment(f"Restored the revision of {when:%d %b %Y, %H:%M:%S}.")
    return Restored(article=article, left_out=left_out)


def revert(version: Version) -> LeftOut:
    """Write the article's rows back as the revision of `version` stored them
    and delete its parts added since, as reversion's revert(delete=True) does,
    except that:

    - only this article is touched: revert() also writes back the other articles
      of a revision made by a list action, and deletes the Tag of a tag link
      added since, taking it from every article that has it;
    - what the revision names that has been deleted since stays out, as a row
      pointing at it would point at nothing (and the commit would refuse it):
      the article keeps its current category, an account becomes empty, an
      author's byline is left out (or the whole current byline kept, when none
      of the revision's authors is left), the current image is kept when the
      revision's files are no longer stored, and a figure whose photo is no
      longer in the library is left out;
    - a revision from before figures were kept leaves the figures as they are.

    Returns what was left out.
    """
    article = Article.objects.get(pk=version.object_id)
    rows = article_rows(version)
    left_out = LeftOut()
    parts = ARTICLE_PARTS
    if not _figures_kept(version.revision):
        parts = [name for name in parts if name != "figures"]
    (article_row,) = rows[Article]
    kept_fields = _fields_to_keep(article_row.field_dict, article, left_out)
    figures = _pointing_at_existing(rows[Figure], Photo, "photo_id")
    left_out.figures = len(rows[Figure]) - len(figures)
    bylines = _pointing_at_existing(rows[Byline], Author, "author_id")
    left_out.authors = len(rows[Byline]) - len(bylines)
    rows[Figure], rows[Byline] = figures, bylines
    if left_out.authors and not rows[Byline] and article.bylines.exists():
        left_out.byline_kept = True
        parts = [name for name in parts if name != "bylines"]

    with transaction.atomic():
        for name in parts:
            part = getattr(article, name)
            kept = [v.object_id for v in rows[part.model]]
            part.exclude(pk__in=kept).delete()
        # Tags before the links to them, the article before its parts.
        for model in (Tag, Article, TaggedItem, Byline, Figure):
            for v in rows[model]:
                v.revert()
        # Foreign keys are checked at commit, so the row may point at a deleted
        # one for this moment.
        if kept_fields:
            Article.objects.filter(pk=article.pk).update(**kept_fields)
    return left_out


def _fields_to_keep(data: dict, article: Article, left_out: LeftOut) -> dict:
    """The article row's fields to set after the revision's row is written back,
    for what it names that has been deleted since; noted in `left_out`."""
    kept = {}
    if not Category.objects.filter(pk=data["category_id"]).exists():
        left_out.category = _deleted_name(Category, data["category_id"])
        kept["category_id"] = article.category_id
    for account in _account_fields():
        user_id = data[account.attname]
        if (
            user_id is not None
            and not account.related_model.objects.filter(pk=user_id).exists()
        ):
            left_out.accounts.append(account.verbose_name)
            kept[account.attname] = None
    if not image_is_stored(data):
        left_out.image = True
        kept.update({name: getattr(article, name) for name in IMAGE_FIELDS})
    return kept


def _account_fields():
    """The article's foreign keys to an account (created_by)."""
    return [
        model_field
        for model_field in Article._meta.concrete_fields
        if model_field.many_to_one and model_field.related_model is get_user_model()
    ]


def _deleted_name(model, pk) -> str:
    """The name of a row deleted in the admin, as its log recorded it; "" if it
    was deleted elsewhere."""
    entry = (
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id=str(pk),
            action_flag=DELETION,
        )
        .order_by("-action_time")
        .first()
    )
    return entry.object_repr if entry else ""


def image_is_stored(data: dict) -> bool:
    """Whether the files of an article's image as `data` (a version's field_dict)
    names them, the original and its renditions, are all still in storage.
    Replacing an image deletes its files; a revision from before still names
    them. True when there is no image."""
    name = str(data.get("image") or "")
    if not name:
        return True
    storage = Article._meta.get_field("image").storage
    names = [name, *(data.get("image_renditions") or {}).values()]
    return all(storage.exists(name) for name in names)


def _pointing_at_existing(versions: list[Version], model, key: str) -> list[Version]:
    """The `versions` whose `key` (a foreign key's column) names a `model` row
    that still exists."""
    existing = set(
        model.objects.filter(
            pk__in=[version.field_dict[key] for version in versions]
        ).values_list("pk", flat=True)
    )
    return [version for version in versions if version.field_dict[key] in existing]


def _figures_kept(revision: Revision) -> bool:
    """Whether `revision` says which figures the article had. Revisions have
    kept figures since the first one that holds a figure; older ones hold none,
    whatever the article showed then, so restoring one leaves the figures be."""
    figure_type = ContentType.objects.get_for_model(Figure)
    return Version.objects.filter(
        content_type=figure_type,
        revision__date_created__lte=revision.date_created,
    ).exists()
