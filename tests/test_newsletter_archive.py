"""The public archive of each newsletter and every issue's web version, the
"view in browser" link of its email."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter import services
from newsletter.models import Issue
from tests.factories import make_article, make_issue, make_newsletter, make_subscriber

pytestmark = pytest.mark.django_db


def gone_out(issue, *, days_ago=0, status=Issue.Status.SENT):
    Issue.objects.filter(pk=issue.pk).update(
        status=status, started_at=timezone.now() - timedelta(days=days_ago)
    )
    issue.refresh_from_db()
    return issue


@pytest.fixture
def newsletter():
    return make_newsletter(name="Morning Briefing", slug="morning")


def test_the_archive_lists_the_issues_that_went_out_newest_first(client, newsletter):
    gone_out(make_issue(newsletter, subject="Monday"), days_ago=2)
    gone_out(make_issue(newsletter, subject="Tuesday"), days_ago=1)
    gone_out(make_issue(newsletter, subject="Going out"), status=Issue.Status.SENDING)
    make_issue(newsletter, subject="A draft")
    make_issue(newsletter, subject="Scheduled", status=Issue.Status.SCHEDULED)
    gone_out(make_issue(newsletter, subject="Called off"), status="cancelled")
    gone_out(make_issue(make_newsletter(), subject="Another newsletter's"))

    response = client.get(reverse("newsletter:archive", args=["morning"]))

    assert response.status_code == 200
    subjects = [issue.subject for issue in response.context["page"]]
    assert subjects == ["Going out", "Tuesday", "Monday"]


def test_an_unknown_newsletter_has_no_archive(client):
    assert client.get("/newsletter/no-such-thing/archive/").status_code == 404


def test_the_web_version_shows_the_issue_to_anyone(client, newsletter):
    issue = gone_out(
        make_issue(
            newsletter,
            subject="Trams are back",
            intro="<p>Good morning.</p>",
            articles=[make_article(title="Tram line opens")],
        )
    )

    response = client.get(issue.get_web_url())

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Trams are back</h1>" in page
    assert "<p>Good morning.</p>" in page
    assert "Tram line opens" in page
    assert reverse("newsletter:archive", args=["morning"]) in page


def test_drafts_and_other_newsletters_have_no_web_version(client, newsletter):
    draft = make_issue(newsletter)
    other = gone_out(make_issue(make_newsletter()))
    assert client.get(draft.get_web_url()).status_code == 404
    wrong_newsletter = reverse("newsletter:issue", args=["morning", other.pk])
    assert client.get(wrong_newsletter).status_code == 404


def test_a_cancelled_issue_keeps_its_web_version_for_those_who_got_it(
    client, newsletter
):
    issue = gone_out(make_issue(newsletter), status="cancelled")
    assert client.get(issue.get_web_url()).status_code == 200


def test_the_email_links_to_its_web_version_without_personal_links(client, newsletter):
    make_subscriber(newsletter, email="reader@example.org")
    issue = make_issue(newsletter, articles=[make_article(title="Tram line opens")])

    services.start_sending(issue=issue)

    [message] = mail.outbox
    html = message.alternatives[0].content
    web_url = settings.SITE_URL + issue.get_web_url()
    assert f'href="{web_url}"' in html
    assert f"View in your browser: {web_url}" in message.body
    page = client.get(issue.get_web_url()).content.decode()
    assert "Tram line opens" in page
    assert "reader@example.org" not in page
    assert "/newsletter/preferences/" not in page
    assert "/newsletter/unsubscribe/" not in page


def test_the_web_version_costs_the_same_queries_however_many_articles(
    client, newsletter
):
    short = gone_out(make_issue(newsletter, articles=[make_article()]))
    long = gone_out(make_issue(newsletter, articles=[make_article() for _ in range(8)]))
    counts = []
    for issue in [short, long]:
        client.get(issue.get_web_url())  # the site's shared parts, cached
        with CaptureQueriesContext(connection) as queries:
            assert client.get(issue.get_web_url()).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_the_newsletter_page_links_to_each_archive(client, newsletter):
    page = client.get(reverse("newsletter:index")).content.decode()
    assert reverse("newsletter:archive", args=["morning"]) in page


def test_archive_pages_are_the_same_for_every_reader_and_set_no_cookie(newsletter):
    issue = gone_out(make_issue(newsletter, articles=[make_article()]))
    for address in [newsletter.get_archive_url(), issue.get_web_url()]:
        first, second = Client().get(address), Client().get(address)
        assert first.status_code == 200
        assert first.cookies == {}
        assert first.content == second.content


def test_the_admin_links_a_sent_issue_to_its_web_version(admin_client, newsletter):
    issue = gone_out(make_issue(newsletter))
    draft = make_issue(newsletter)

    def change_page(issue):
        return admin_client.get(
            reverse("admin:newsletter_issue_change", args=[issue.pk])
        ).content.decode()

    assert f'href="{issue.get_web_url()}"' in change_page(issue)
    assert draft.get_web_url() not in change_page(draft)
