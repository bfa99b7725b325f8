"""Reporting periods: a year (``2026``), a quarter (``2026Q3``) or a month (``2026-07``),
each the bounds ``[start, end)`` in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from facedocket.errors import InvalidInput

_PERIOD = re.compile(r"^(?P<year>\d{4})(?:-?[Qq](?P<quarter>[1-4])|-(?P<month>\d{2}))?$")


@dataclass(frozen=True)
class Period:
    """A reporting period: ``label`` (canonical: ``2026``, ``2026Q3``, ``2026-07``), its kind
    (``year``, ``quarter``, ``month``) and its bounds ``[start, end)`` in UTC."""

    label: str
    kind: str
    start: datetime
    end: datetime


def period_of(text: str) -> Period:
    """The :class:`Period` ``text`` names; :class:`InvalidInput` for anything else.

    >>> period_of("2026q3").label, period_of("2026q3").end.month
    ('2026Q3', 10)
    """
    match = _PERIOD.match((text or "").strip())
    if match is None:
        raise InvalidInput(
            f"period {text!r} is not one we read: give a year (2026), a quarter (2026Q3) or a month (2026-07)"
        )
    year = int(match["year"])
    if not 1970 <= year <= 9998:
        raise InvalidInput(f"period {text!r}: the year must be between 1970 and 9998")
    if match["quarter"]:
        quarter = int(match["quarter"])
        start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
        end = datetime(year + 1, 1, 1, tzinfo=UTC) if quarter == 4 else datetime(year, 3 * quarter + 1, 1, tzinfo=UTC)
        return Period(f"{year}Q{quarter}", "quarter", start, end)
    if match["month"]:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise InvalidInput(f"period {text!r}: the month must be 01 to 12")
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
        return Period(f"{year}-{month:02d}", "month", start, end)
    return Period(str(year), "year", datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))


def parse_period(text: str) -> tuple[datetime, datetime]:
    """``"2026Q3"`` → (2026-07-01, 2026-10-01), ``"2026"`` → the year, ``"2026-07"`` → the
    month: the bounds ``[start, end)`` as UTC datetimes. Anything else is InvalidInput."""
    period = period_of(text)
    return period.start, period.end


__all__ = ["Period", "parse_period", "period_of"]
