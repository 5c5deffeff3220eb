from unittest import mock

from articles.cache import invalidate_public_pages, public_pages_generation


def test_invalidating_starts_a_new_generation():
    before = public_pages_generation()

    invalidate_public_pages()

    assert public_pages_generation() == before + 1


def test_the_generation_starts_again_after_the_cache_lost_it():
    with mock.patch("articles.cache.cache.incr", side_effect=ValueError):
        invalidate_public_pages()

    assert public_pages_generation() >= 1


def test_an_unreachable_cache_never_fails_a_write(caplog):
    with mock.patch("articles.cache.cache.incr", side_effect=ConnectionError):
        invalidate_public_pages()

    assert "not invalidated" in caplog.text


def test_an_unreachable_cache_gives_generation_zero():
    with mock.patch("articles.cache.cache.get", side_effect=ConnectionError):
        assert public_pages_generation() == 0
