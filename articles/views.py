"""The reader site: home, article, listings, archives, search, robots.txt.

Every list starts from `Article.objects.published()`. Listings fetch what a card
shows in a fixed number of queries (category joined, authors prefetched), so a page
costs the same whatever its size.
"""

from datetime import UTC, datetime, timedelta

from django.core.paginator import InvalidPage, Paginator
from django.db.models import F, Q, Subquery, Value, Window, prefetch_related_objects
from django.db.models.functions import Coalesce, RowNumber
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.functional import cached_property
from django.views.decorators.http import require_safe
from django.views.generic.dates import (
    ArchiveIndexView,
    MonthArchiveView,
    YearArchiveView,
)

from articles.listings import AUTHOR, CATEGORY, TAG, Listing
from articles.models import (
    Article,
    Category,
    Correction,
    SlugRedirect,
    authors_in_byline_order,
)
from articles.related import related_articles
from articles.search import SearchForm, search_articles
from articles.templatetags.article_tags import image_sources
from publicpages.addresses import absolute_url

PER_PAGE = 12
CORRECTIONS_PER_PAGE = 30
HOME_LATEST = 8
HOME_ROW = 4
HOME_ROW_SCAN = 500
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
# Saves within this time of publication are corrections, not updates.
UPDATE_SHOWN_AFTER = timedelta(minutes=10)


def _cards(queryset):
    """What a card shows: the category joined, the bylines prefetched."""
    return queryset.select_related("category").prefetch_related(
        authors_in_byline_order()
    )


def _paginate(request, queryset, per_page=PER_PAGE):
    paginator = Paginator(queryset, per_page)
    try:
        return paginator.page(request.GET.get("page") or 1)
    except InvalidPage:
        raise Http404("No such page.") from None


def _requested_page(request) -> int:
    """The page number asked for, known without a query: 404 unless it is one."""
    value = request.GET.get("page") or "1"
    if not value.isascii() or not value.isdigit() or int(value) < 1:
        raise Http404("No such page.")
    return int(value)


class LazyPage:
    """One page of `queryset`, fetched on first use (a listing whose cards are a
    cached fragment never counts or fetches them). A number past the last page
    raises Http404 then, as the page renders; no fragment is stored for it."""

    def __init__(self, queryset, number: int, per_page=PER_PAGE):
        self.queryset = queryset
        self.number = number
        self.per_page = per_page

    @cached_property
    def page(self):
        try:
            return Paginator(self.queryset, self.per_page).page(self.number)
        except InvalidPage:
            raise Http404("No such page.") from None

    def __getattr__(self, name):
        # Everything else a template asks of a page: object_list, has_next...
        return getattr(self.page, name)


class FrontPage:
    """What the home page shows: the lead story, the latest (paginated) and a row
    of the newest few of every section. Loaded on first use, in six or seven
    queries."""

    def __init__(self, number: int):
        self.number = number
        self.published = Article.objects.published().defer("body")

    @cached_property
    def categories(self):
        return list(Category.objects.all())

    @cached_property
    def _lead(self):
        # Every page knows the lead, so "More" pages go on where page one stopped.
        # Two indexed look-ups rather than one sort of every article by
        # is_featured. The featured one is ordered as article_published_idx
        # stores it (ties to the lower id): with "-id" SQLite sorts the ties
        # itself and, finding no second featured article to end the sort, reads
        # every published row.
        return (
            self.published.filter(is_featured=True)
            .select_related("category")
            .order_by("-published_at", "id")
            .first()
        ) or self.published.select_related("category").first()

    @cached_property
    def _page(self):
        latest = self.published.select_related("category")
        if self._lead:
            latest = latest.exclude(pk=self._lead.pk)
        return LazyPage(latest, self.number, HOME_LATEST).page

    @cached_property
    def _loaded(self):
        lead = self._lead if self._page.number == 1 else None
        rows = self._rows(lead) if lead else []
        shown = [lead] if lead else []
        shown += list(self._page.object_list)
        shown += [article for _, articles in rows for article in articles]
        prefetch_related_objects(shown, authors_in_byline_order())
        return lead, self._page, rows

    @property
    def lead(self):
        return self._loaded[0]

    @property
    def page(self):
        return self._loaded[1]

    @property
    def rows(self):
        return self._loaded[2]

    def _rows(self, lead):
        if not self.categories:
            return []
        # The newest few of every category in one query, whatever their number,
        # ranked among the newest HOME_ROW_SCAN articles so the window function
        # never sorts the whole archive. A section silent for that long gets no
        # row. The range starts at the HOME_ROW_SCAN-th newest article's time, so
        # SQLite reads article_published_idx from there; the outer query has no
        # condition but "pk IN (...)" and reads the winners by primary key (next
        # to "status = ?", SQLite without statistics would scan every article).
        published = self.published
        scan_from = Subquery(
            published.order_by("-published_at", "-id").values("published_at")[
                HOME_ROW_SCAN - 1 : HOME_ROW_SCAN
            ]
        )
        ranked = (
            published.filter(published_at__gte=Coalesce(scan_from, Value(_LONG_AGO)))
            .exclude(pk=lead.pk)
            .annotate(
                row=Window(
                    RowNumber(),
                    partition_by=F("category_id"),
                    order_by=[F("published_at").desc(), F("id").desc()],
                )
            )
            .filter(row__lte=HOME_ROW)
            .values("pk")
        )
        shown_in_rows = list(
            Article.objects.filter(pk__in=ranked)
            .defer("body")
            .select_related("category")
        )
        rows = []
        for category in self.categories:
            articles = [a for a in shown_in_rows if a.category_id == category.pk]
            if articles:
                rows.append((category, articles))
        return rows


@require_safe
def home(request):
    return render(
        request,
        "articles/home.html",
        {"front": FrontPage(_requested_page(request))},
    )


def _article_for_reader(request, slug):
    """The article at `slug` as this reader may see it: published for everyone;
    before publication only for those Article.can_be_previewed_by allows (the
    same people the admin lets open it). Returns (article, is_preview) or raises
    Http404."""
    article = Article.objects.select_related("category").filter(slug=slug).first()
    if article is not None:
        if article.is_published:
            return article, False
        if article.can_be_previewed_by(request.user):
            return article, True
    raise Http404("No article at this address.")


def _moved_article_slug(request, old_slug):
    """The current slug of the article that used to live at `old_slug`, if this
    reader may see it: the new address of an unpublished article is a secret."""
    redirect = (
        SlugRedirect.objects.select_related("article")
        .defer("article__body", "article__search_vector")
        .filter(old_slug=old_slug)
        .first()
    )
    if redirect is None:
        return None
    article = redirect.article
    if article.is_published or article.can_be_previewed_by(request.user):
        return article.slug
    return None


class StoryParts:
    """What the article page shows around the article itself, each loaded on first
    use: where the page's cached fragments ({% cache %}) hold them already, their
    queries never run."""

    def __init__(self, article):
        self.article = article

    @cached_property
    def _prefetched(self):
        prefetch_related_objects([self.article], authors_in_byline_order(), "tags")
        return self.article

    @cached_property
    def authors(self):
        return list(self._prefetched.authors.all())

    @cached_property
    def figures(self):
        """The body's figures, in one query."""
        return list(self.article.figures.select_related("photo"))

    @cached_property
    def tags(self):
        return sorted(self._prefetched.tags.all(), key=lambda tag: tag.name.lower())

    @cached_property
    def related(self):
        return related_articles(self._prefetched)

    @cached_property
    def corrections(self):
        """Its correction and update notes, oldest first, as a story reads."""
        return list(self.article.corrections.order_by("created_at", "id"))

    @cached_property
    def _neighbours(self):
        return _neighbours(self.article)

    @property
    def previous(self):
        return self._neighbours[0]

    @property
    def next(self):
        return self._neighbours[1]

    @cached_property
    def image(self):
        return image_sources(self.article)


def _neighbours(article):
    """The previous (older) and next (newer) published articles, in one query."""
    if not article.published_at:
        return None, None
    published = Article.objects.published()
    when, pk = article.published_at, article.pk
    # The plain range (published_at >= when) lets the index start at this
    # article; the OR that breaks ties alone cannot.
    newer = (
        published.filter(published_at__gte=when)
        .filter(Q(published_at__gt=when) | Q(pk__gt=pk))
        .order_by("published_at", "id")
        .values("pk")[:1]
    )
    older = (
        published.filter(published_at__lte=when)
        .filter(Q(published_at__lt=when) | Q(pk__lt=pk))
        .order_by("-published_at", "-id")
        .values("pk")[:1]
    )
    previous = following = None
    # Scalar subqueries (pk = (...) OR pk = (...)) run once each and meet the
    # primary key index; "pk IN (...) OR pk IN (...)" would scan every article.
    for other in Article.objects.filter(
        Q(pk=Subquery(newer)) | Q(pk=Subquery(older))
    ).only("title", "slug", "published_at"):
        if (other.published_at, other.pk) > (when, pk):
            following = other
        else:
            previous = other
    return previous, following


@require_safe
def article_detail(request, slug):
    try:
        article, is_preview = _article_for_reader(request, slug)
    except Http404:
        moved = _moved_article_slug(request, slug)
        if moved:
            return redirect("articles:detail", slug=moved, permanent=True)
        raise

    response = render(
        request,
        "articles/article_detail.html",
        {
            "article": article,
            "parts": StoryParts(article),
            "is_preview": is_preview,
            "show_updated": article.published_at
            and article.last_updated - article.published_at > UPDATE_SHOWN_AFTER,
            "share_url": absolute_url(article.get_absolute_url()),
        },
    )
    if is_preview:
        patch_cache_control(response, private=True, no_store=True)
    return response


@require_safe
def corrections(request):
    """Every correction and update of a published story, newest first."""
    page = LazyPage(
        Correction.objects.filter(article__in=Article.objects.published())
        .select_related("article")
        .only("kind", "note", "created_at", "article__title", "article__slug"),
        _requested_page(request),
        per_page=CORRECTIONS_PER_PAGE,
    )
    return render(
        request,
        "articles/corrections.html",
        {
            "page": page,
            "feed_url": reverse("articles:corrections_feed"),
            "next_label": "Older corrections",
        },
    )


def _listing_view(listing: Listing):
    @require_safe
    def listing_detail(request, slug):
        obj = listing.get(slug)
        page = LazyPage(_cards(listing.articles(obj)), _requested_page(request))
        return render(
            request,
            f"articles/{listing.name}_detail.html",
            {
                listing.name: obj,
                "page": page,
                "listing_key": f"{listing.name}:{obj.pk}",
                # Every card of a category page is in that category.
                "hide_card_category": listing is CATEGORY,
                "feed_url": listing.url(obj, "feed"),
                "atom_url": listing.url(obj, "atom"),
            },
        )

    return listing_detail


category_detail = _listing_view(CATEGORY)
tag_detail = _listing_view(TAG)
author_detail = _listing_view(AUTHOR)


class _ArchiveMixin:
    # Like every public page: GET and HEAD only (not even OPTIONS).
    http_method_names = ["get", "head"]
    date_field = "published_at"
    paginate_by = PER_PAGE
    allow_empty = False
    allow_future = False

    def get_queryset(self):
        # Built per request: published() reads the clock.
        return _cards(Article.objects.published())

    def paginate_queryset(self, queryset, page_size):
        page = _paginate(self.request, queryset, page_size)
        return page.paginator, page, page.object_list, page.has_other_pages()

    def get_context_data(self, **kwargs):
        # The name listing_base.html gives the page it lists.
        context = super().get_context_data(**kwargs)
        context["page"] = context["page_obj"]
        return context


class ArticleArchiveIndex(_ArchiveMixin, ArchiveIndexView):
    """Every month with articles, newest first, above the latest articles."""

    date_list_period = "month"
    allow_empty = True
    template_name = "articles/archive_index.html"


class ArticleYearArchive(_ArchiveMixin, YearArchiveView):
    make_object_list = True
    template_name = "articles/archive_year.html"


class ArticleMonthArchive(_ArchiveMixin, MonthArchiveView):
    month_format = "%m"
    template_name = "articles/archive_month.html"


@require_safe
def search(request):
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = None
    if query:
        page = _paginate(
            request, search_articles(query, _cards(Article.objects.published()))
        )
    return render(
        request,
        "articles/search.html",
        {"form": form, "query": query, "page": page},
    )


@require_safe
def robots_txt(request):
    return render(
        request,
        "robots.txt",
        {
            "sitemap_url": request.build_absolute_uri(reverse("sitemap")),
            "news_sitemap_url": request.build_absolute_uri(reverse("news-sitemap")),
        },
        content_type="text/plain; charset=utf-8",
    )
