"""What retention makes due: given records (id, time, what holds them), periods and legal holds.

Periods come from the owning agency's policy profile (a gallery may set its own template
period) and are bounded by :data:`~facedocket.vocab.MAX_RETENTION_DAYS`. A record is due when
it is older than its period; a due record that a live legal hold covers is kept and counted
as held. The audit log has a minimum period only: nothing purges it. Pure: the service
reads the rows, asks :func:`due`, and deletes what it says in one transaction per agency.

Example::

    split = due([(7, created, case_id)], now, days=30, held={case_id})
    split.deleted, split.held   # ([], [7])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from facedocket.errors import InvalidInput
from facedocket.vocab import MAX_RETENTION_DAYS

_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)

ENROLMENT_PHOTOS_NOTE = "Enrolment photos are not kept: only the templates made from them and the photos' SHA-256."
"""What FaceDocket keeps of enrolment photos: `policy show` and the subject access export say
exactly this (one truth, one place)."""


def check_period(days: int | None, what: str = "a retention period") -> int | None:
    """``days`` if it is a period FaceDocket accepts (0 to MAX_RETENTION_DAYS, or None: until
    erased); else InvalidInput."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"{what} is 0 to {MAX_RETENTION_DAYS} days (or none: kept until erased)")
    return days


def cutoff(now: datetime, days: int | None) -> datetime | None:
    """The time before which records ``days`` old are due; None when nothing can be due
    (no period, or one longer than the calendar goes back)."""
    if days is None:
        return None
    try:
        moment = now - timedelta(days=days)
    except OverflowError:
        return None
    return None if moment < _EARLIEST else moment


@dataclass
class Due:
    """Record ids a period makes due: to delete, and kept by a legal hold."""

    deleted: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)


def due(records: Iterable[tuple[int, datetime, int | None]], now: datetime, days: int | None,
        held: set[int]) -> Due:  # fmt: skip
    """Split ``records`` — (id, time, the id a hold would name or None) — into the due ones to
    delete and the due ones a hold keeps. Records within their period are in neither."""
    split = Due()
    limit = cutoff(now, days)
    if limit is None:
        return split
    for record_id, moment, holder in records:
        if moment <= limit:
            (split.held if holder is not None and holder in held else split.deleted).append(record_id)
    return split


def template_days(gallery_days: int | None, profile_days: int | None) -> int | None:
    """A gallery's own template period wins over its profile's."""
    return gallery_days if gallery_days is not None else profile_days


def consent_live(given: datetime, expires: datetime | None, withdrawn: datetime | None, now: datetime) -> bool:
    """Whether a consent holds at ``now``."""
    return withdrawn is None and given <= now and (expires is None or expires > now)
