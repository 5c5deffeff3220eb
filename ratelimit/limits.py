"""
Rate limits and throttles that every process sees: gunicorn's workers, the task
worker and every app server share the database, so they share the counts, and a
restart forgets nothing.

A window opens with the first hit on a key and lasts `period` seconds; the hits
in it are counted with one atomic UPDATE, so two processes never both see the
same count.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from ratelimit.models import Window


def client_ip(request) -> str:
    """The reader's IP address. Behind a proxy, set TRUSTED_PROXY_COUNT so the
    address is taken from X-Forwarded-For instead of the proxy's own."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def email_limit_key(email: str) -> str:
    """One key for the spellings of an address that reach the same mailbox, so a
    limit per address cannot be dodged: lower case, the quotes of a quoted local
    part removed, and no +tag (reader+1@ and "reader"@ are reader@)."""
    local, _, domain = email.strip().rpartition("@")
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = local[1:-1].replace("\\", "")
    local = local.partition("+")[0]
    return f"{local}@{domain}".lower()


def is_rate_limited(key: str, *, limit: int, period: int) -> bool:
    """Count one hit against `key`; True once more than `limit` hits fall in the
    key's current window of `period` seconds."""
    return _count_hit(key, period=period) > limit


def window_ends_at(key: str) -> datetime | None:
    """When the key's current window closes; None if it has none open."""
    return (
        Window.objects.filter(key=key, expires_at__gt=timezone.now())
        .values_list("expires_at", flat=True)
        .first()
    )


def clear_limit(key: str) -> None:
    """Forget the key's hits: its next hit opens a new window."""
    Window.objects.filter(key=key).delete()


def enqueue_once_per_spell(task, *, key: str, period: int) -> None:
    """Enqueue `task` (a Django task) at most once per quiet spell of `period`
    seconds, counted under `key` in every process: the first call of a spell
    enqueues it at once; later calls in the spell enqueue it once more, to run when
    the spell ends, where the task backend can defer. The task calls
    `start_spell()` when it runs."""
    if not is_rate_limited(f"{key}:sent", limit=1, period=period):
        task.enqueue()
        return
    if not task.get_backend().supports_defer:
        # Nothing can wait: the next spell's run covers this call.
        return
    if not is_rate_limited(f"{key}:deferred", limit=1, period=period):
        now = timezone.now()
        spell_ends = window_ends_at(f"{key}:sent") or now
        task.using(run_after=max(spell_ends, now)).enqueue()


def start_spell(key: str, *, period: int) -> None:
    """A new quiet spell of `period` seconds starts now, whether the task was
    enqueued at once or at the end of the last spell."""
    clear_limit(f"{key}:sent")
    clear_limit(f"{key}:deferred")
    is_rate_limited(f"{key}:sent", limit=1, period=period)


def delete_expired_windows() -> int:
    deleted, _ = Window.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def _count_hit(key: str, *, period: int) -> int:
    now = timezone.now()
    with transaction.atomic():
        if not _add_hit(key, now=now, period=period):
            try:
                with transaction.atomic():
                    Window.objects.create(
                        key=key,
                        count=1,
                        started_at=now,
                        expires_at=now + timedelta(seconds=period),
                    )
            except IntegrityError:
                # Another process opened the window first: count the hit in it.
                _add_hit(key, now=now, period=period)
            else:
                # New keys are rare next to hits on open windows: a good moment to
                # throw away the windows nobody will read again.
                delete_expired_windows()
                return 1
        # The row stays locked by our UPDATE until commit, so this is our count.
        return Window.objects.filter(key=key).values_list("count", flat=True).get()


def _add_hit(key: str, *, now: datetime, period: int) -> int:
    """Add one hit to the key's window, or open a new one in its row if it has
    expired, in a single UPDATE. Returns the rows changed (0: no row yet)."""
    expired = Q(expires_at__lte=now)
    return Window.objects.filter(key=key).update(
        count=Case(When(expired, then=Value(1)), default=F("count") + 1),
        started_at=Case(When(expired, then=Value(now)), default=F("started_at")),
        expires_at=Case(
            When(expired, then=Value(now + timedelta(seconds=period))),
            default=F("expires_at"),
        ),
    )
