"""
Search over published articles.

On PostgreSQL: full-text search of Article.search_vector, the weighted document
(title A, standfirst B, body C) that the database stores for every row and indexes
with GIN (migration 0005_article_search_vector), ranked by relevance. The trigger
there parses with SEARCH_CONFIG's configuration: change one, change the other.
On SQLite: the FTS5 index of migration 0006_sqlite_search_index; every word must
begin a word of the title, standfirst or body ("harb" finds "harbour"), ranked by
BM25 with the title weighing most. The site runs on no other database (settings).
"""

import re
import unicodedata

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from articles.models import Article
from safetext.validators import replace_control_characters

MAX_QUERY_LENGTH = 200
MAX_WORDS = 12
RANK_WINDOW = 1000
SEARCH_CONFIG = "english"
SQLITE_INDEX = "article_search"
# BM25 weights of the SQLite index's columns: title, standfirst, body.
SQLITE_WEIGHTS = (10.0, 5.0, 1.0)


def normalise_query(raw: str | None) -> str:
    """A reader's query made safe to search with: composed (NFC, the form typed
    text is stored in), control and format characters removed (PostgreSQL
    refuses NUL), whitespace collapsed, and cut to a sensible length."""
    text = unicodedata.normalize("NFC", raw or "")
    text = replace_control_characters(text, " ")
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_QUERY_LENGTH].strip()


class QueryField(forms.CharField):
    """A search box that never rejects what a reader typed: the text is cleaned
    up before validation, so a 1,000-character or NUL-laden query just searches."""

    def to_python(self, value):
        return normalise_query(super().to_python(value))


class SearchForm(forms.Form):
    q = QueryField(
        label="Search articles",
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


def search_articles(query: str, within: QuerySet[Article] | None = None):
    """Published articles matching `query`, best first, as a sequence a Paginator
    can count and slice. Pass a normalised query, and the articles to search
    (Article.objects.published() by default), with what their pages need joined
    or prefetched."""
    articles = Article.objects.published() if within is None else within
    if not query:
        return articles.none()
    if connection.vendor == "postgresql":
        return _postgres_search(articles, query)
    return _sqlite_search(articles, query)


class RankedArticles:
    """Articles in an order worked out outside the ORM (the SQLite index's
    ranking): counted without a query, and fetched a page at a time."""

    def __init__(self, ids: list[int], articles: QuerySet[Article]):
        self.ids = ids
        self.articles = articles

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self[index : index + 1][0] if index >= 0 else self[:][index]
        ids = self.ids[index]
        found = self.articles.in_bulk(ids)
        return [found[pk] for pk in ids if pk in found]

    def __iter__(self):
        return iter(self[:])


def _postgres_search(articles, query):
    search_query = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
    # The index finds the matches; ranking reads each match's stored vector. For
    # a word in every story that is the whole archive, so only the newest
    # RANK_WINDOW matches are ranked (and counted): a news search wants recent
    # stories anyway.
    newest_matches = (
        articles.filter(search_vector=search_query)
        .order_by("-published_at", "-id")
        .values("pk")[:RANK_WINDOW]
    )
    return (
        articles.filter(pk__in=Subquery(newest_matches))
        .annotate(rank=SearchRank(F("search_vector"), search_query))
        .order_by("-rank", "-published_at", "-id")
    )


def _sqlite_search(articles, query):
    # Each word a quoted FTS5 string (so AND, OR, NEAR, column names and
    # punctuation are only text), matching the start of a word; the strings
    # together mean every one of them. A word with no letter or digit has no
    # token to match and is left out.
    words = [word for word in query.split(" ") if any(c.isalnum() for c in word)]
    if not words:
        return articles.none()
    match = " ".join('"' + word.replace('"', '""') + '"*' for word in words[:MAX_WORDS])
    weights = ", ".join(str(weight) for weight in SQLITE_WEIGHTS)
    # As on PostgreSQL, only the newest RANK_WINDOW matches are ranked (and
    # counted): scoring every match of a word in every story would read the
    # whole index. Newest by id, the order the index keeps; BM25 scores are
    # lower for better matches. The index holds every article: a match counts
    # only if it is one of `articles` (readers may see it), looked up by key.
    visible, visible_params = (
        articles.filter(pk=RawSQL(f"{SQLITE_INDEX}.rowid", ()))
        .order_by()
        .values("pk")
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid, bm25({SQLITE_INDEX}, {weights}) FROM {SQLITE_INDEX} "
            f"WHERE {SQLITE_INDEX} MATCH %s AND EXISTS ({visible}) "
            "ORDER BY rowid DESC LIMIT %s",
            [match, *visible_params, RANK_WINDOW],
        )
        scored = cursor.fetchall()
    ranked = [pk for pk, _ in sorted(scored, key=lambda row: (row[1], -row[0]))]
    return RankedArticles(ranked, articles)
