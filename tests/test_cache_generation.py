import time
from unittest import mock

import time_machine
from django.core.cache import cache

from publicpages.generation import (
    GENERATION_KEY,
    invalidate_public_pages,
    public_pages_generation,
)


def test_invalidating_starts_a_new_generation():
    before = public_pages_generation()

    invalidate_public_pages()

    assert public_pages_generation() == before + 1


def test_the_generation_starts_again_after_the_cache_lost_it():
    with mock.patch("publicpages.generation.cache.incr", side_effect=ValueError):
        invalidate_public_pages()

    assert public_pages_generation() >= 1


def test_an_unreachable_cache_never_fails_a_write(caplog):
    with mock.patch("publicpages.generation.cache.incr", side_effect=ConnectionError):
        invalidate_public_pages()

    assert "not invalidated" in caplog.text


def test_an_unreachable_cache_gives_generation_zero():
    with mock.patch("publicpages.generation.cache.get", side_effect=ConnectionError):
        assert public_pages_generation() == 0


def test_a_generation_read_lately_is_reused_without_asking_the_cache():
    seen = public_pages_generation()

    with mock.patch("publicpages.generation.cache.get", side_effect=AssertionError):
        assert public_pages_generation(max_age=1) == seen


def test_a_change_made_on_another_app_server_is_seen_once_max_age_has_passed():
    with time_machine.travel(time.time(), tick=False) as clock:
        seen = public_pages_generation()
        cache.incr(GENERATION_KEY)  # what invalidating on another server does

        clock.shift(0.9)
        assert public_pages_generation(max_age=1) == seen

        clock.shift(0.2)
        assert public_pages_generation(max_age=1) == seen + 1


def test_invalidating_in_this_process_is_seen_here_at_once():
    before = public_pages_generation()

    invalidate_public_pages()

    assert public_pages_generation(max_age=60) == before + 1


def test_a_clock_set_back_does_not_keep_a_generation_for_longer():
    with time_machine.travel(time.time(), tick=False) as clock:
        seen = public_pages_generation()
        cache.incr(GENERATION_KEY)

        clock.shift(-3600)

        assert public_pages_generation(max_age=1) == seen + 1


def test_a_generation_the_cache_lost_starts_again_at_a_new_number():
    seen = public_pages_generation()
    cache.delete(GENERATION_KEY)

    assert public_pages_generation() not in {seen, 1}
