"""Posting a comment through the real form: every moderation rule and refusal."""

import re
import time
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from articles.models import Article
from comments import services
from comments.forms import form_timestamp
from comments.models import Comment, ModerationPhrase
from tests.comments_helpers import (
    confirm_address_in,
    make_trusted,
    post,
    signed_form_timestamp,
)
from tests.factories import make_article, make_comment

pytestmark = pytest.mark.django_db


def test_a_first_comment_is_held_and_the_author_is_sent_back_to_it(client):
    article = make_article()
    response = post(client, article, ip="198.51.100.7")

    comment = Comment.objects.get()
    assert comment.status == Comment.Status.PENDING
    assert response.status_code == 303
    assert response["Location"] == f"{article.get_absolute_url()}#comment-{comment.pk}"
    assert comment.author_email == "anahit@example.org"
    assert comment.ip_address == "198.51.100.7"
    article.refresh_from_db()
    assert article.comment_count == 0


def test_the_author_sees_their_pending_comment_and_others_do_not(client):
    article = make_article()
    post(client, article, comment="Held until an editor reads it.")

    mine = client.get(article.get_absolute_url())
    assert "Held until an editor reads it." in mine.text
    assert "Your comment is awaiting moderation" in mine.text

    client.cookies.clear()
    theirs = client.get(article.get_absolute_url())
    assert "Held until an editor reads it." not in theirs.text


def test_it_stores_the_text_and_the_rendered_html(client):
    article = make_article()
    post(client, article, comment="First line.\n\nSee https://example.org/a")
    comment = Comment.objects.get()
    assert comment.text == "First line.\n\nSee https://example.org/a"
    assert "<p>First line.</p>" in comment.html
    assert 'rel="nofollow ugc noopener"' in comment.html


def test_it_approves_a_confirmed_address_with_an_approved_comment_by_that_name(
    client,
):
    article = make_article()
    make_trusted(client, email="anahit@example.org", name="Anahit Sargsyan")

    post(client, article, email="Anahit@Example.org", name="Anahit Sargsyan")

    comment = Comment.objects.filter(article=article).get()
    assert comment.status == Comment.Status.APPROVED
    article.refresh_from_db()
    assert article.comment_count == 1


def test_a_known_address_under_another_name_is_held(client):
    make_trusted(client, email="anahit@example.org", name="Anahit Sargsyan")
    article = make_article()
    post(client, article, email="anahit@example.org", name="Someone Else")
    assert Comment.objects.get(article=article).status == Comment.Status.PENDING


def test_a_stranger_typing_a_known_name_and_address_is_held(client):
    make_comment(
        make_article(), author_email="anahit@example.org", author_name="Anahit"
    )
    article = make_article()
    post(client, article, email="anahit@example.org", name="Anahit")
    comment = Comment.objects.get(article=article)
    assert comment.status == Comment.Status.PENDING
    assert comment.moderation_reason == services.UNCONFIRMED_REASON


def test_a_confirmed_browser_does_not_vouch_for_another_address(client):
    make_comment(make_article(), author_email="victim@example.org", author_name="V")
    confirm_address_in(client, "attacker@example.org")
    article = make_article()
    post(client, article, email="victim@example.org", name="V")
    assert Comment.objects.get(article=article).status == Comment.Status.PENDING


def test_the_owner_confirming_publishes_the_held_comment_and_trusts_the_browser(
    client, mailoutbox
):
    make_comment(
        make_article(), author_email="anahit@example.org", author_name="Anahit"
    )
    article = make_article()
    post(client, article, email="anahit@example.org", name="Anahit", comment="One")
    [message] = [m for m in mailoutbox if "Confirm your email" in m.subject]
    assert message.to == ["anahit@example.org"]
    link = re.search(r"http://\S+/confirm/\S+", message.body).group()
    assert "anahit" not in link.lower()

    owner = client.__class__()
    assert owner.post(link.removeprefix("http://127.0.0.1:8000")).status_code == 200

    held = Comment.objects.get(article=article)
    assert held.status == Comment.Status.APPROVED
    post(owner, article, email="anahit@example.org", name="Anahit", comment="Two")
    assert Comment.objects.get(text="Two").status == Comment.Status.APPROVED
    # The stranger's browser never opened the link: still held.
    post(client, article, email="anahit@example.org", name="Anahit", comment="Three")
    assert Comment.objects.get(text="Three").status == Comment.Status.PENDING


def test_an_earlier_spam_comment_does_not_approve_the_address(client):
    make_comment(
        make_article(), author_email="anahit@example.org", status=Comment.Status.SPAM
    )
    article = make_article()
    post(client, article)
    assert Comment.objects.get(article=article).status == Comment.Status.PENDING


def test_it_holds_comment_with_two_links_even_from_a_known_address(client):
    make_comment(make_article(), author_email="anahit@example.org")
    article = make_article()
    post(client, article, comment="See https://a.example and www.b.example too")
    comment = Comment.objects.get(article=article)
    assert comment.status == Comment.Status.PENDING
    assert "2 links" in comment.moderation_reason


def test_one_link_is_fine_for_a_known_address(client):
    make_trusted(client)
    article = make_article()
    post(client, article, comment="Source: https://a.example/report")
    assert Comment.objects.get(article=article).status == Comment.Status.APPROVED


def test_it_holds_a_comment_with_a_moderation_keyword(client, settings):
    settings.COMMENTS_MODERATION_KEYWORDS = ["lawsuit"]
    make_comment(make_article(), author_email="anahit@example.org")
    article = make_article()
    post(client, article, comment="There will be a LAWSUIT over this.")
    assert Comment.objects.get(article=article).status == Comment.Status.PENDING


def test_editors_phrases_in_the_admin_hold_and_block_too(client):
    ModerationPhrase.objects.create(phrase="Refund", action="hold")
    ModerationPhrase.objects.create(phrase="cheap-pills", action="spam")
    make_comment(make_article(), author_email="anahit@example.org")
    article = make_article()

    post(client, article, comment="I want a refund.", ip="192.0.2.1")
    post(client, article, comment="Visit cheap-pills shop", ip="192.0.2.2")

    statuses = dict(Comment.objects.values_list("text", "status"))
    assert statuses["I want a refund."] == Comment.Status.PENDING
    assert statuses["Visit cheap-pills shop"] == Comment.Status.SPAM


@pytest.mark.parametrize(
    "fields",
    [
        {"comment": "Buy CASINO chips now"},
        {"email": "bot@blocked.example"},
        {"name": "Casino King"},
    ],
)
def test_it_sends_blocklisted_words_and_emails_to_spam(client, settings, fields):
    settings.COMMENTS_BLOCKLIST = ["casino", "@blocked.example"]
    article = make_article()
    response = post(client, article, **fields)
    assert response.status_code == 303
    assert Comment.objects.get().status == Comment.Status.SPAM


def test_it_sends_blocklisted_ips_to_spam(client, settings):
    settings.COMMENTS_BLOCKLIST = ["203.0.113."]
    post(client, make_article(), ip="203.0.113.9")
    assert Comment.objects.get().status == Comment.Status.SPAM


def test_the_blocklist_wins_over_an_earlier_approval(client, settings):
    settings.COMMENTS_BLOCKLIST = ["casino"]
    make_comment(make_article(), author_email="anahit@example.org")
    article = make_article()
    post(client, article, comment="casino")
    assert Comment.objects.get(article=article).status == Comment.Status.SPAM


def test_a_filled_honeypot_goes_to_spam_and_the_bot_is_told_nothing(client):
    response = post(client, make_article(), homepage="http://bot.example")
    comment = Comment.objects.get()
    assert comment.status == Comment.Status.SPAM
    assert "hidden field" in comment.moderation_reason
    assert response.status_code == 303


def test_a_form_sent_within_seconds_goes_to_spam(client):
    article = make_article()
    fast = signed_form_timestamp(article, shown=int(time.time()))
    post(client, article, ts=fast)
    assert Comment.objects.get().status == Comment.Status.SPAM


def test_a_form_shown_days_ago_goes_to_spam(client, settings):
    article = make_article()
    old = signed_form_timestamp(
        article, shown=int(time.time()) - settings.COMMENTS_FORM_MAX_AGE - 1
    )
    post(client, article, ts=old)
    assert Comment.objects.get().status == Comment.Status.SPAM


def test_a_form_shown_on_another_article_goes_to_spam(client):
    elsewhere = make_article()
    ts = signed_form_timestamp(elsewhere, shown=int(time.time()) - 60)
    post(client, make_article(), ts=ts)
    assert Comment.objects.get().status == Comment.Status.SPAM
    assert "another article" in Comment.objects.get().moderation_reason


def test_one_form_counts_for_one_comment_from_each_ip(client):
    article = make_article()
    ts = signed_form_timestamp(article, shown=int(time.time()) - 60)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for n in range(3):
            post(client, article, ip="192.0.2.70", ts=ts, comment=f"Replay {n}")
            traveller.shift(timedelta(seconds=20))  # past the flood limit
        # Another reader of the same cached page has a form of their own.
        post(client, article, ip="192.0.2.71", ts=ts, comment="Another reader")
    statuses = dict(Comment.objects.values_list("text", "status"))
    assert statuses == {
        "Replay 0": Comment.Status.PENDING,
        "Replay 1": Comment.Status.SPAM,
        "Replay 2": Comment.Status.SPAM,
        "Another reader": Comment.Status.PENDING,
    }


def test_a_refused_comment_does_not_use_up_the_form(client):
    article = make_article()
    make_comment(article, text="Same words.")
    ts = signed_form_timestamp(article, shown=int(time.time()) - 60)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        refused = post(client, article, ip="192.0.2.72", ts=ts, comment="Same words.")
        assert refused.status_code == 400
        traveller.shift(timedelta(seconds=20))
        post(client, article, ip="192.0.2.72", ts=ts, comment="My own words.")
    assert Comment.objects.get(text="My own words.").status == Comment.Status.PENDING


@pytest.mark.parametrize("ts", ["", "12345", "bad:signature"])
def test_a_missing_or_forged_timestamp_goes_to_spam(client, ts):
    post(client, make_article(), ts=ts)
    assert Comment.objects.get().status == Comment.Status.SPAM


def test_a_staff_comment_is_approved_and_marked_as_the_newsrooms(
    client, django_user_model
):
    staff = django_user_model.objects.create_user(
        "desk", email="desk@newsroom.example", is_staff=True
    )
    client.force_login(staff)
    article = make_article()
    post(client, article, comment="https://a.example https://b.example", ts="")

    comment = Comment.objects.get()
    assert comment.status == Comment.Status.APPROVED
    assert comment.by_newsroom
    assert comment.user == staff
    page = client.get(article.get_absolute_url()).text
    assert "by-newsroom" in page


def test_it_refuses_an_address_at_an_ip_literal_with_a_clear_error(client):
    response = post(client, make_article(), email="anahit@[192.0.2.1]")
    assert response.status_code == 400
    assert "not an IP address" in response.text
    assert not Comment.objects.exists()


def test_it_refuses_a_duplicate_with_a_clear_message(client):
    article = make_article()
    post(client, article, ip="192.0.2.1")
    response = post(client, article, ip="192.0.2.2")
    assert response.status_code == 400
    assert "already been posted on this article" in response.text
    assert Comment.objects.count() == 1


def test_the_duplicate_check_answers_the_same_whatever_the_address(client):
    article = make_article()
    make_comment(
        article, author_email="hidden@example.org", text="Same words.",
        status=Comment.Status.PENDING,
    )  # fmt: skip
    guesses = [
        post(client, article, email=email, comment="Same words.")
        for email in ("hidden@example.org", "guess@example.org")
    ]
    assert [r.status_code for r in guesses] == [400, 400]
    assert all("already been posted" in r.text for r in guesses)


def test_the_flood_limit_answers_before_the_duplicate_check(client):
    article = make_article()
    make_comment(article, author_email="hidden@example.org", text="Same words.")
    post(client, article, ip="192.0.2.60", comment="Something else.")
    response = post(
        client, article, ip="192.0.2.60", email="hidden@example.org",
        comment="Same words.",
    )  # fmt: skip
    assert response.status_code == 429


def test_the_same_text_on_another_article_is_not_a_duplicate(client):
    post(client, make_article(), ip="192.0.2.1")
    post(client, make_article(), ip="192.0.2.2")
    assert Comment.objects.count() == 2


def test_it_refuses_a_flood_from_one_ip_with_429(client):
    article = make_article()
    post(client, article, comment="First.", ip="192.0.2.50")
    response = post(client, article, comment="Second, too soon.", ip="192.0.2.50")
    assert response.status_code == 429
    assert response["Retry-After"] == "15"
    assert "too quickly" in response.text
    assert "Second, too soon." in response.text
    assert Comment.objects.count() == 1


def test_the_same_ip_may_post_again_after_the_flood_window(client, settings):
    import time_machine

    article = make_article()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        post(client, article, comment="First.", ip="192.0.2.60")
        traveller.shift(timedelta(seconds=settings.COMMENTS_FLOOD_SECONDS + 1))
        # locmem expiry reads time.time(), which time-machine moves too.
        response = post(client, article, comment="Second, later.", ip="192.0.2.60")
    assert response.status_code == 303
    assert Comment.objects.count() == 2


def test_it_refuses_an_over_long_comment_and_keeps_the_text(client, settings):
    settings.COMMENTS_MAX_LENGTH = 50
    text = "Long " * 20
    response = post(client, make_article(), comment=text)
    assert response.status_code == 400
    assert "under 50 characters" in response.text
    assert text.strip() in response.text
    assert not Comment.objects.exists()


def test_a_bad_submission_comes_back_with_errors_and_everything_typed(client):
    article = make_article()
    response = post(
        client,
        article,
        name="",
        email="not-an-address",
        url="https://mine.example/",
        comment="Kept <as> typed & all",
    )
    assert response.status_code == 400
    page = response.text
    assert "Leave a Reply" in page
    assert article.title in page
    assert "This field is required." in page
    assert "Enter a valid email address." in page
    assert 'value="not-an-address"' in page
    assert 'value="https://mine.example/"' in page
    assert "Kept &lt;as&gt; typed &amp; all" in page
    assert not Comment.objects.exists()


@pytest.mark.parametrize("blank", ["name", "email", "comment"])
def test_name_email_and_comment_are_required(client, blank):
    response = post(client, make_article(), **{blank: "   "})
    assert response.status_code == 400
    assert not Comment.objects.exists()


def test_it_stores_the_name_without_control_or_bidi_characters(client):
    post(client, make_article(), name=" Ana\x1bhit\x07 \u202eSargsyan\u200b\t")
    assert Comment.objects.get().author_name == "Anahit Sargsyan"


@pytest.mark.parametrize(
    ("field", "invisible"),
    [("name", "\u200b\u202e\x07"), ("comment", "\x07\u200b\r\n")],
)
def test_a_value_of_only_invisible_characters_is_required(client, field, invisible):
    response = post(client, make_article(), **{field: invisible})
    assert response.status_code == 400
    assert (
        f'<span id="{field}-errors" class="field-error">This field is required.</span>'
        in response.text
    )
    assert not Comment.objects.exists()


def test_it_refuses_a_website_with_control_characters_and_keeps_it(client):
    url = "https://mine.example/\u202egpj.exe"
    response = post(client, make_article(), url=url, comment="Kept as typed.")
    assert response.status_code == 400
    assert (
        '<span id="url-errors" class="field-error">This contains hidden control or '
        "formatting characters. Please type it again.</span>" in response.text
    )
    assert f'value="{url}"' in response.text
    assert "Kept as typed." in response.text
    assert not Comment.objects.exists()


def test_it_refuses_an_email_address_with_bidi_characters(client):
    response = post(client, make_article(), email="anahit@exa\u202emple.org")
    assert response.status_code == 400
    assert "hidden control or formatting characters" in response.text
    assert not Comment.objects.exists()


def test_the_comment_keeps_its_line_breaks_and_loses_other_controls(client):
    post(client, make_article(), comment="One\x1b[2J\r\n\r\nTwo\tthree\u202e")
    comment = Comment.objects.get()
    assert comment.text == "One[2J\n\nTwo three"
    assert "<p>One[2J</p>" in comment.html


def test_comments_closed_on_the_article_refuse_a_post(client):
    article = make_article(comments_enabled=False)
    response = post(client, article)
    assert response.status_code == 403
    assert "Comments are closed." in response.text
    assert not Comment.objects.exists()
    assert "Comments are closed." in client.get(article.get_absolute_url()).text


def test_comments_close_after_the_configured_days(client, settings):
    settings.COMMENTS_CLOSE_AFTER_DAYS = 10
    old = make_article(published_at=timezone.now() - timedelta(days=11))
    recent = make_article(published_at=timezone.now() - timedelta(days=9))
    assert post(client, old, ip="192.0.2.1").status_code == 403
    assert post(client, recent, ip="192.0.2.2").status_code == 303


def test_no_comments_on_an_unpublished_article(client):
    draft = make_article(status=Article.Status.DRAFT)
    assert post(client, draft).status_code == 404


def test_a_get_is_not_allowed(client):
    article = make_article()
    response = client.get(reverse("comments:post", args=[article.pk]))
    assert response.status_code == 405


def test_a_reply_joins_the_thread_of_its_parent(client):
    article = make_article()
    root = make_comment(article)
    post(client, article, parent=str(root.pk))
    reply = Comment.objects.get(parent=root)
    assert reply.thread_id == root.pk
    assert reply.depth == 2


def test_a_reply_past_the_depth_limit_joins_its_parents_level(client, settings):
    settings.COMMENTS_THREAD_DEPTH = 2
    article = make_article()
    root = make_comment(article)
    child = make_comment(article, parent=root)
    post(client, article, parent=str(child.pk))
    reply = Comment.objects.latest("id")
    assert reply.parent == root
    assert reply.depth == 2


@pytest.mark.parametrize("status", [Comment.Status.PENDING, Comment.Status.SPAM])
def test_it_refuses_a_reply_to_a_comment_readers_cannot_see(client, status):
    article = make_article()
    hidden = make_comment(article, status=status)
    response = post(client, article, parent=str(hidden.pk))
    assert response.status_code == 400
    assert "no longer available" in response.text


def test_it_refuses_a_reply_to_another_articles_comment(client):
    elsewhere = make_comment(make_article())
    response = post(client, make_article(), parent=str(elsewhere.pk))
    assert response.status_code == 400


def test_remember_me_sets_a_cookie_that_fills_the_form_next_time(client):
    article = make_article()
    response = post(client, article, remember="yes", url="https://anahit.example")
    assert response.cookies["comment_author"].value

    page = client.get(make_article().get_absolute_url()).text
    assert 'value="Anahit Sargsyan"' in page
    assert 'value="anahit@example.org"' in page
    assert 'value="https://anahit.example"' in page


def test_without_remember_me_no_author_cookie_is_kept(client):
    response = post(client, make_article())
    cookie = response.cookies.get("comment_author")
    assert cookie is None or cookie.value == ""
    page = client.get(make_article().get_absolute_url()).text
    assert 'value="Anahit Sargsyan"' not in page


def test_the_pending_redirect_points_at_the_last_page(client, settings):
    settings.COMMENTS_PER_PAGE = 2
    article = make_article()
    for _ in range(5):
        make_comment(article)
    response = post(client, article)
    comment = Comment.objects.latest("id")
    assert response["Location"].endswith(f"?cpage=3#comment-{comment.pk}")
    page = client.get(response["Location"].split("#")[0]).text
    assert f'id="comment-{comment.pk}"' in page


def test_a_browser_revalidating_its_copy_still_gets_its_pending_comment(client):
    article = make_article()
    etag = client.get(article.get_absolute_url())["ETag"]
    post(client, article, comment="Mine, pending")
    response = client.get(article.get_absolute_url(), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert "Your comment is awaiting moderation" in response.text


@hypothesis_settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            key: st.text(max_size=300)
            for key in ["name", "email", "url", "comment", "parent", "ts", "homepage"]
        },
    )
)
def test_whatever_is_posted_the_answer_is_a_redirect_or_a_clear_refusal(client, fields):
    article = make_article()
    response = post(client, article, **fields)
    assert response.status_code in {303, 400, 429}


def test_the_form_timestamp_is_the_same_for_every_reader_within_a_minute():
    with time_machine.travel(1_800_000_000, tick=False) as clock:
        first = form_timestamp(7)
        clock.shift(59)
        assert form_timestamp(7) == first
        clock.shift(1)
        assert form_timestamp(7) != first
