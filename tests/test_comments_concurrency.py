"""Readers posting at the same moment: every comment lands and the count is right.

Runs on whichever database DATABASE_URL names (SQLite by default, PostgreSQL in CI's
second run), with real commits so the threads really contend.
"""

import threading

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from comments.models import Comment
from tests.comments_helpers import confirm_address_in, post
from tests.factories import make_article, make_comment

pytestmark = pytest.mark.django_db(transaction=True)

READERS = 12


def test_concurrent_posts_all_land_and_the_count_stays_right():
    cache.clear()
    article = make_article()
    elsewhere = make_article()
    # Half the readers have an approved comment already (and confirmed their
    # address), so theirs are approved straight away and the count is bumped by
    # several writers at once.
    for n in range(READERS // 2):
        make_comment(
            elsewhere, author_email=f"reader{n}@example.org", author_name="Reader"
        )

    barrier = threading.Barrier(READERS)
    statuses = []
    errors = []

    def reader(n):
        try:
            client = Client()
            confirm_address_in(client, f"reader{n}@example.org")
            barrier.wait(timeout=10)
            response = post(
                client,
                article,
                ip=f"192.0.2.{n + 1}",
                email=f"reader{n}@example.org",
                name="Reader",
                comment=f"Comment from reader {n}",
            )
            statuses.append(response.status_code)
        except Exception as error:  # reported below, with the thread's number
            errors.append((n, error))
        finally:
            connection.close()

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert statuses == [303] * READERS
    assert Comment.objects.filter(article=article).count() == READERS
    article.refresh_from_db()
    approved = Comment.objects.approved().filter(article=article).count()
    assert approved == READERS // 2
    assert article.comment_count == approved
