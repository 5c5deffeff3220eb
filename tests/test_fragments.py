"""Cached fragments (Django's {% cache %} tag, timed and keyed by
publicpages.context_processors.FragmentCache): the parts of a page that are the
same for every reader, reused while nothing readers see changes."""

import re
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.cache import cache, caches
from django.test import Client
from django.utils import timezone

from articles.models import Article
from comments import services as comment_services
from comments.models import Comment
from publicpages import context_processors
from publicpages.generation import GENERATION_KEY
from tests.comments_helpers import post
from tests.factories import make_article, make_comment

pytestmark = pytest.mark.django_db

# What each response renders afresh: the form tokens and the signed time of the
# comment form (its bot check).
# The form's timestamp moves on each minute.
PER_RESPONSE = re.compile(r'name="ts" value="[^"]*"')


@pytest.fixture
def fragment_cache(settings):
    settings.FRAGMENT_CACHE_SECONDS = 300
    return settings


def stored_fragments() -> set[str]:
    return set(caches["template_fragments"]._cache)


def _article_with_comments(count=3, **fields):
    article = make_article(**fields)
    for n in range(count):
        make_comment(article, author_name=f"Reader {n}", text=f"Comment number {n}.")
    return article


def test_a_second_view_of_an_article_reads_only_the_article(
    fragment_cache, client, django_assert_max_num_queries
):
    article = _article_with_comments(tags=["Harbour"])
    first = client.get(article.get_absolute_url())

    with django_assert_max_num_queries(1):
        second = client.get(article.get_absolute_url())

    assert second.status_code == 200
    assert PER_RESPONSE.sub("", second.text) == PER_RESPONSE.sub("", first.text)
    for shown in ("Comment number 2.", "Harbour", "Leave a Reply", article.title):
        assert shown in second.text


def test_a_second_view_of_the_home_page_and_a_section_runs_no_listing_query(
    fragment_cache, client, django_assert_max_num_queries
):
    article = make_article(title="Trams return to the avenue")
    client.get("/")
    client.get(article.category.get_absolute_url())

    with django_assert_max_num_queries(0):
        home = client.get("/")
    with django_assert_max_num_queries(1):  # the category itself
        section = client.get(article.category.get_absolute_url())

    assert "Trams return to the avenue" in home.text
    assert "Trams return to the avenue" in section.text


def test_every_reader_without_cookies_gets_the_same_page(fragment_cache):
    article = make_article()

    pages = [Client().get(article.get_absolute_url()) for _ in range(2)]

    assert pages[0].content == pages[1].content
    assert not pages[0].cookies


def test_a_pending_comment_is_shown_to_its_author_only(fragment_cache):
    article = _article_with_comments(1)
    author, other = Client(), Client()
    author.get(article.get_absolute_url())
    other.get(article.get_absolute_url())

    response = post(author, article, comment="Is the ferry running on Sunday?")
    assert response.status_code == 303

    mine = author.get(article.get_absolute_url()).text
    theirs = other.get(article.get_absolute_url()).text
    assert "Is the ferry running on Sunday?" in mine
    assert "awaiting moderation" in mine
    assert "Is the ferry running on Sunday?" not in theirs
    assert "Comment number 0." in mine and "Comment number 0." in theirs


def test_a_remembered_name_fills_the_form_under_shared_comments(fragment_cache):
    article = _article_with_comments(1)
    author = Client()
    post(author, article, name="Anahit", comment="First!", remember="on")

    page = Client().get(article.get_absolute_url()).text
    own_page = author.get(article.get_absolute_url()).text

    assert 'value="Anahit"' in own_page
    assert 'value="Anahit"' not in page


def test_a_reply_link_opens_the_form_for_that_comment(fragment_cache, client):
    article = _article_with_comments(2)
    comment = Comment.objects.filter(article=article).first()
    client.get(article.get_absolute_url())

    page = client.get(f"{article.get_absolute_url()}?replytocom={comment.pk}").text

    assert f"Reply to {comment.author_name}" in page
    assert "Cancel reply" in page


def test_approving_a_comment_shows_it_at_once(
    fragment_cache, client, django_capture_on_commit_callbacks
):
    article = _article_with_comments(1)
    comment = make_comment(
        article, status=Comment.Status.PENDING, text="The ferry is back on Sundays."
    )
    assert "back on Sundays" not in client.get(article.get_absolute_url()).text

    with django_capture_on_commit_callbacks(execute=True):
        comment_services.moderate(comments=[comment], status=Comment.Status.APPROVED)

    assert "back on Sundays" in client.get(article.get_absolute_url()).text


def test_editing_an_article_shows_the_edit_everywhere_at_once(fragment_cache, client):
    article = make_article(title="Bridge closes for repairs")
    other = make_article(category=article.category, tags=["Roads"])
    article.tags.add("Roads")
    for url in ("/", article.get_absolute_url(), other.get_absolute_url()):
        client.get(url)

    article.title = "Bridge closes for repairs until May"
    article.save()

    for url in ("/", article.get_absolute_url(), other.get_absolute_url()):
        assert "Bridge closes for repairs until May" in client.get(url).text, url


def test_renaming_a_category_renames_it_in_the_menu(fragment_cache, client):
    article = make_article()
    client.get("/")

    article.category.name = "Regions and Provinces"
    article.category.save()

    assert "Regions and Provinces" in client.get("/").text


def test_a_change_made_on_another_app_server_shows_within_a_second(
    fragment_cache, client
):
    article = make_article(title="Ferry timetable")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client.get(article.get_absolute_url())
        Article.objects.filter(pk=article.pk).update(title="Ferry timetable for winter")
        cache.incr(GENERATION_KEY)
        # The headline is in the story's fragment (the <title> is rendered live).
        headline = '<h1 class="story-title">Ferry timetable for winter</h1>'
        assert headline not in client.get(article.get_absolute_url()).text

        clock.shift(fragment_cache.PAGE_CACHE_GENERATION_SECONDS + 0.1)

        assert headline in client.get(article.get_absolute_url()).text


def test_a_scheduled_article_appears_on_time(fragment_cache, client):
    make_article()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        make_article(
            title="Polls open in the capital",
            published_at=timezone.now() + timedelta(minutes=10),
        )
        assert "Polls open in the capital" not in client.get("/").text

        clock.shift(timedelta(minutes=10, seconds=1))

        assert "Polls open in the capital" in client.get("/").text


def test_pages_render_when_the_cache_is_down(fragment_cache, client):
    fragment_cache.PAGE_CACHE_GENERATION_SECONDS = 0  # ask the cache every time
    article = _article_with_comments(2)
    client.get(article.get_absolute_url())
    Article.objects.filter(pk=article.pk).update(title="Ferry runs again")

    # Redis down: the generation is unknown, so no fragment is used or kept.
    with (
        mock.patch.object(cache, "get", side_effect=ConnectionError),
        mock.patch.object(cache, "add", side_effect=ConnectionError),
        mock.patch.object(cache, "incr", side_effect=ConnectionError),
        mock.patch.object(cache, "set", side_effect=ConnectionError),
    ):
        response = client.get(article.get_absolute_url())
        home = client.get("/")

    assert response.status_code == home.status_code == 200
    assert "Comment number 1." in response.text
    assert '<h1 class="story-title">Ferry runs again</h1>' in response.text
    assert "Ferry runs again" in home.text


def test_a_page_past_the_last_is_not_found_and_stores_nothing(fragment_cache, client):
    article = make_article()
    url = article.category.get_absolute_url()

    assert client.get(url + "?page=5").status_code == 404
    assert client.get(url + "?page=5").status_code == 404
    assert client.get("/?page=abc").status_code == 404
    assert client.get(url).status_code == 200


def test_made_up_addresses_share_one_menu_fragment(fragment_cache, client):
    make_article()
    client.get("/")
    stored = stored_fragments()

    for n in range(5):
        assert client.get(f"/category/no-such-{n}/").status_code == 404

    assert len(stored_fragments() - stored) <= 1


def test_the_current_section_is_marked_in_the_menu(fragment_cache, client):
    article = make_article()
    section = article.category.get_absolute_url()
    client.get("/")

    page = client.get(section).text

    assert f'<a href="{section}" aria-current="page">' in page
    assert '<a href="/" aria-current="page">' not in page


def test_no_fragment_is_kept_at_zero_seconds(fragment_cache, client):
    fragment_cache.FRAGMENT_CACHE_SECONDS = 0
    article = _article_with_comments(1)
    client.get(article.get_absolute_url())

    # Changed without a new generation: only a page rendered afresh shows it.
    Article.objects.filter(pk=article.pk).update(title="Ferry runs again")
    page = client.get(article.get_absolute_url()).text

    assert '<h1 class="story-title">Ferry runs again</h1>' in page
    assert "Comment number 0." in page


def test_made_up_comment_page_numbers_share_one_fragment(fragment_cache, client):
    article = _article_with_comments(2)
    client.get(article.get_absolute_url())
    stored = stored_fragments()

    for number in (2, 7, 999, 123456):
        page = client.get(f"{article.get_absolute_url()}?cpage={number}")
        assert "Comment number 1." in page.text

    assert len(stored_fragments() - stored) <= 1


def test_a_release_with_new_static_files_starts_with_new_fragments(
    fragment_cache, client, monkeypatch
):
    article = make_article(title="Night buses return")
    client.get(article.get_absolute_url())
    stored = stored_fragments()

    # The next release: other hashed CSS and JS, the same generation.
    monkeypatch.setattr(
        context_processors, "static_files_version", lambda: "next-release"
    )
    client.get(article.get_absolute_url())

    assert len(stored_fragments() - stored) >= 3  # story, menu, footer...


def test_search_results_reuse_the_card_of_each_article(fragment_cache, client):
    make_article(title="Harvest festival opens in Ashtarak")
    make_article(title="Apricot harvest starts early")
    client.get("/search/", {"q": "harvest"})

    again = client.get("/search/", {"q": "apricot"})

    assert "Apricot harvest starts early" in again.text
    assert "Harvest festival opens in Ashtarak" not in again.text
    assert "includes/card.html" not in {template.name for template in again.templates}


def test_an_edited_article_shows_its_edit_in_search_results_at_once(
    fragment_cache, client
):
    article = make_article(title="Harvest festival opens")
    assert "Harvest festival opens" in client.get("/search/", {"q": "harvest"}).text

    article.title = "Harvest festival opens in the rain"
    article.save()

    assert "festival opens in the rain" in client.get("/search/", {"q": "harvest"}).text
