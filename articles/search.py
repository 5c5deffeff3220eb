"""
Search over published articles.

On PostgreSQL: full-text search of Article.search_vector, the weighted document
(title A, standfirst B, body C) that the database stores for every row and indexes
with GIN (migration 0005_article_search_vector), ranked by relevance. The trigger
there parses with SEARCH_CONFIG's configuration: change one, change the other.
Elsewhere (SQLite): every word must appear in the title, standfirst or body;
articles with more words in the title come first, then the newest.
"""

import re
import unicodedata

from django import forms
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Subquery, Value, When

from articles.models import Article
from articles.validators import replace_control_characters

MAX_QUERY_LENGTH = 200
MAX_WORDS = 12
RANK_WINDOW = 1000
SEARCH_CONFIG = "english"


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


def search_articles(query: str) -> QuerySet[Article]:
    """Published articles matching `query`, best first. Pass a normalised query."""
    articles = Article.objects.published()
    if not query:
        return articles.none()
    if connection.vendor == "postgresql":
        return _postgres_search(articles, query)
    return _fallback_search(articles, query)


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
        Article.objects.filter(pk__in=Subquery(newest_matches))
        .annotate(rank=SearchRank(F("search_vector"), search_query))
        .order_by("-rank", "-published_at", "-id")
    )


def _fallback_search(articles, query):
    words = [word for word in query.split(" ") if word][:MAX_WORDS]
    title_hits = Value(0)
    for word in words:
        articles = articles.filter(
            Q(title__icontains=word)
            | Q(standfirst__icontains=word)
            | Q(body__icontains=word)
        )
        title_hits = title_hits + Case(
            When(title__icontains=word, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        )
    return articles.annotate(title_hits=title_hits).order_by(
        "-title_hits", "-published_at", "-id"
    )
