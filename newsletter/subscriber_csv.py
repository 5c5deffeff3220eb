"""
Subscribers to and from CSV.

Import is for lists whose people already agreed to receive the newsletter (a
previous provider, a paper sign-up sheet): they are confirmed without a
confirmation email, and the consent note given by the editor is kept with each of
them. Addresses that left or bounced are never subscribed again by an import.
"""

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .models import Newsletter, Subscriber, normalize_email

EXPORT_COLUMNS = [
    "email",
    "status",
    "newsletters",
    "created_at",
    "confirmed_at",
    "consent_at",
    "consent_ip",
    "consent_source",
]


# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """Text a reader typed, made inert for spreadsheets: a leading single quote
    before a formula character, as OWASP's "CSV Injection" page advises."""
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def from_spreadsheet_safe(value: str) -> str:
    """Undo spreadsheet_safe(), so an export can be imported again."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


class _Echo:
    def write(self, value):
        return value


def export_rows(subscribers) -> Iterator[str]:
    """CSV lines for a queryset of subscribers, read in chunks (memory stays flat
    however long the list)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for subscriber in (
        subscribers.order_by("id")
        .prefetch_related("newsletters")
        .iterator(chunk_size=2000)
    ):
        yield writer.writerow(
            [
                spreadsheet_safe(subscriber.email),
                subscriber.status,
                ";".join(n.slug for n in subscriber.newsletters.all()),
                _iso(subscriber.created_at),
                _iso(subscriber.confirmed_at),
                _iso(subscriber.consent_at),
                subscriber.consent_ip or "",
                spreadsheet_safe(subscriber.consent_source),
            ]
        )


def _iso(value) -> str:
    return value.isoformat() if value else ""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _parse_consent_time(value: str):
    value = value.strip()
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValueError
        moment = datetime.combine(day, time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def import_rows(
    lines: Iterable[str],
    *,
    newsletters: list[Newsletter],
    consent_note: str,
    dry_run: bool = False,
) -> ImportReport:
    """Import subscribers from CSV text with an "email" column and optional
    "newsletters" (slugs separated by ";") and "consent_at" columns. Each bad row
    is reported with its line number; the good rows are imported."""
    report = ImportReport()
    reader = csv.DictReader(lines)
    columns = [name.strip().lower() for name in (reader.fieldnames or [])]
    if "email" not in columns:
        report.errors.append('line 1: the first line must name an "email" column.')
        return report
    reader.fieldnames = columns
    by_slug = {n.slug: n for n in Newsletter.objects.all()}
    seen: dict[str, int] = {}
    good = []
    for row in reader:
        line = reader.line_num
        email = normalize_email(from_spreadsheet_safe(row.get("email") or ""))
        if not email:
            report.errors.append(f"line {line}: no email address.")
            continue
        try:
            validate_email(email)
        except ValidationError:
            report.errors.append(
                f"line {line}: {email!r} is not a valid email address."
            )
            continue
        if email in seen:
            report.errors.append(f"line {line}: {email} repeats line {seen[email]}.")
            continue
        chosen = list(newsletters)
        slugs = [s.strip() for s in (row.get("newsletters") or "").split(";")]
        unknown = [s for s in slugs if s and s not in by_slug]
        if unknown:
            report.errors.append(
                f"line {line}: unknown newsletter {', '.join(map(repr, unknown))}."
            )
            continue
        chosen += [by_slug[s] for s in slugs if s]
        if not chosen:
            report.errors.append(f"line {line}: no newsletter given for {email}.")
            continue
        try:
            consent_at = _parse_consent_time(row.get("consent_at") or "")
        except ValueError:
            report.errors.append(
                f"line {line}: consent_at {row.get('consent_at')!r} is not a date."
            )
            continue
        seen[email] = line
        good.append((line, email, chosen, consent_at))

    with transaction.atomic():
        existing = {
            s.email: s
            for s in Subscriber.objects.filter(email__in=[g[1] for g in good])
        }
        now = timezone.now()
        for line, email, chosen, consent_at in good:
            subscriber = existing.get(email)
            if subscriber is None:
                subscriber = Subscriber.objects.create(
                    email=email,
                    status=Subscriber.Status.CONFIRMED,
                    confirmed_at=now,
                    consent_at=consent_at or now,
                    consent_source=f"Import: {consent_note}"[:300],
                )
                report.created += 1
            elif subscriber.status in {
                Subscriber.Status.UNSUBSCRIBED,
                Subscriber.Status.BOUNCED,
                Subscriber.Status.COMPLAINED,
            }:
                report.skipped.append(
                    f"line {line}: {email} is {subscriber.get_status_display().lower()}"
                    "; not subscribed again."
                )
                continue
            else:
                if subscriber.status == Subscriber.Status.PENDING:
                    subscriber.status = Subscriber.Status.CONFIRMED
                    subscriber.confirmed_at = now
                    subscriber.consent_at = consent_at or now
                    subscriber.consent_source = f"Import: {consent_note}"[:300]
                    subscriber.save(
                        update_fields=[
                            "status",
                            "confirmed_at",
                            "consent_at",
                            "consent_source",
                        ]
                    )
                report.updated += 1
            subscriber.newsletters.add(*chosen)
        if dry_run:
            transaction.set_rollback(True)
    return report
