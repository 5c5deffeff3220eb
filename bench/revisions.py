"""The admin's comparison of two revisions of a long article, timed in-process
with Django's test client: a draft of about 2,000 words, saved twice with
reversion (the second time with a changed word in every paragraph and a new
paragraph), then the comparison page requested as an editor would."""

import time

WORDS_PER_PARAGRAPH = 50
PARAGRAPHS = 40  # 2,000 words


def _body(changed: bool) -> str:
    paragraphs = []
    for n in range(PARAGRAPHS):
        words = [f"word{(n * 7 + i) % 311}" for i in range(WORDS_PER_PARAGRAPH)]
        if changed:
            words[n % WORDS_PER_PARAGRAPH] = "corrected"
        paragraphs.append("<p>" + " ".join(words) + ".</p>")
    if changed:
        paragraphs.insert(PARAGRAPHS // 2, "<p>A new paragraph of reporting.</p>")
    return "".join(paragraphs)


def measure_compare_ms(category_slug: str) -> float:
    """Median milliseconds of five requests for the comparison page."""
    import reversion
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from articles.models import Article, Category

    editor, _ = get_user_model().objects.get_or_create(
        username="bench-editor", defaults={"is_staff": True, "is_superuser": True}
    )
    article = Article(
        title="A long draft",
        slug="bench-revisions-long-draft",
        body=_body(changed=False),
        category=Category.objects.get(slug=category_slug),
        status=Article.Status.DRAFT,
    )
    for changed in (False, True):
        with reversion.create_revision():
            article.body = _body(changed)
            article.save()
            reversion.set_user(editor)
    client = Client()
    client.force_login(editor)
    url = reverse("admin:articles_article_compare", args=[article.pk])
    client.get(url, secure=True)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        response = client.get(url, secure=True)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        assert b"<ins>corrected" in response.content
    article.delete()
    return round(sorted(timings)[2], 1)
