"""
Revisions of articles, kept by django-reversion on every save in the admin (who
and when), and a readable comparison of two of them.

A revision holds the article's row, its bylines and its tag links, so that
restoring one (reversion's "revert" in the admin) brings the bylines and tags
back too.
"""

import difflib
import html
import re
from dataclasses import dataclass

import reversion
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from reversion.models import Version
from taggit.models import Tag, TaggedItem

from articles.models import Article, Byline, SlugRedirect
from safetext.sanitizer import strip_all_tags

reversion.register(Tag)
reversion.register(TaggedItem, follow=["tag"])
reversion.register(Byline)
reversion.register(Article, follow=["tagged_items", "bylines"])

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
    tag_type = ContentType.objects.get_for_model(Tag)
    tags = sorted(
        (
            other.field_dict["name"]
            for other in version.revision.version_set.filter(content_type=tag_type)
        ),
        key=str.lower,
    )
    image = str(data.get("image") or "")
    if image and data.get("image_alt"):
        image += f" (alt: {data['image_alt']})"
    return {
        "Headline": data.get("title", ""),
        "Standfirst": data.get("standfirst", ""),
        "Body": body_as_text(data.get("body", "")),
        "Image": image,
        "Tags": ", ".join(tags),
    }


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
    """Headline, standfirst, body, image and tags of two versions, compared."""
    old_text, new_text = revision_text(old), revision_text(new)
    return [
        FieldDiff(label, diff_text(old_text[label], new_text[label]))
        for label in old_text
    ]


def restore(version: Version, *, user) -> Article:
    """Bring the article back to `version` (its text, filing, bylines and tags),
    as a new revision by `user`. Its correction notes stay: they are public."""
    when = timezone.localtime(version.revision.date_created)
    with transaction.atomic(), reversion.create_revision():
        current_slug = Article.objects.get(pk=version.object_id).slug
        version.revision.revert(delete=True)
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
    return article
