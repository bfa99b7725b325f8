"""Time windows: when a deployment may match faces. Pure: text in, times out.

A window is written ``DAYS HH:MM-HH:MM`` in the deployment's time zone: ``DAYS`` is ``daily``,
one day (``mon``), a range (``mon-fri``) or a list (``sat,sun``); the end may be ``24:00``,
and an end before the start runs past midnight (``fri 22:00-06:00`` ends on Saturday
morning; its day is the day it starts). A deployment matches only while one of its windows
is open; the policy gate checks it at the start and again whenever a window opens or closes
(:func:`next_change`).

Example::

    windows = parse_windows(["mon-fri 08:00-20:00", "sat 10:00-16:00"])
    is_open(windows, datetime(2026, 12, 5, 9, 0, tzinfo=UTC), "Europe/London")  # a Saturday: False
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facedocket.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")
MAX_WINDOWS = 50
"""Most windows a deployment may list."""


@dataclass(frozen=True)
class Window:
    """Days of the week (0 = Monday) on which the window opens, its start and end in minutes
    after midnight (end may be 1440; an end at or before the start runs past midnight)."""

    days: frozenset[int]
    start: int
    end: int
    text: str

    @property
    def minutes(self) -> int:
        """How long the window stays open."""
        return self.end - self.start if self.end > self.start else self.end + 1440 - self.start


def _minutes(text: str, what: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidInput(f"time window {what}: {text} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes


def _days(text: str, window: str) -> frozenset[int]:
    if text in ("daily", "every-day"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAYS for e in ends):
            raise InvalidInput(
                f"time window {window!r}: days are daily, mon..sun, a range (mon-fri) or a list (sat,sun)"
            )
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        days.update(range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)])
    return frozenset(days)


def parse_window(text: str) -> Window:
    """One window from its text; InvalidInput says how to write it.

    >>> parse_window("Mon-Fri 08:00-20:00").minutes
    720
    """
    cleaned = " ".join((text or "").lower().split())
    match = _WINDOW.match(cleaned)
    if match is None:
        raise InvalidInput(
            f"time window {text!r} is not DAYS HH:MM-HH:MM (e.g. mon-fri 08:00-20:00, daily 00:00-24:00)"
        )
    start, end = _minutes(match["start"], cleaned), _minutes(match["end"], cleaned)
    if start == 1440 or start == end:
        raise InvalidInput(f"time window {text!r} opens and closes at the same time; use daily 00:00-24:00 for all day")
    return Window(_days(match["days"], cleaned), start, end, cleaned)


def parse_windows(texts: Iterable[str]) -> list[Window]:
    """Every window of a deployment; at least one, at most :data:`MAX_WINDOWS`."""
    windows = [parse_window(t) for t in texts]
    if not windows:
        raise InvalidInput("a deployment needs at least one time window (e.g. daily 00:00-24:00)")
    if len(windows) > MAX_WINDOWS:
        raise InvalidInput(f"a deployment lists at most {MAX_WINDOWS} time windows")
    return windows


def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` (IANA, e.g. Europe/London); InvalidInput for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/London") from None


def _spans(
    windows: Sequence[Window], moment: datetime, tz: ZoneInfo, days: range
) -> Iterator[tuple[datetime, datetime]]:
    """(opens, closes) of each window on the local days around ``moment``."""
    today = moment.astimezone(tz).date()
    for offset in days:
        day = today + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        for w in windows:
            if day.weekday() in w.days:
                opens = midnight + timedelta(minutes=w.start)
                yield opens, opens + timedelta(minutes=w.minutes)


def is_open(windows: Sequence[Window], moment: datetime, tz_name: str = "UTC") -> bool:
    """Whether one of ``windows`` is open at ``moment`` (an aware datetime)."""
    tz = zone(tz_name)
    return any(opens <= moment < closes for opens, closes in _spans(windows, moment, tz, range(-1, 1)))


def next_change(windows: Sequence[Window], moment: datetime, tz_name: str = "UTC") -> datetime | None:
    """The first time after ``moment`` at which a window opens or closes (within 8 days), or
    None when nothing changes in that time (a window open around the clock)."""
    tz = zone(tz_name)
    spans = list(_spans(windows, moment, tz, range(-1, 9)))
    now_open = is_open(windows, moment, tz_name)
    later = sorted({t for span in spans for t in span if t > moment})
    for t in later:
        if is_open(windows, t, tz_name) != now_open:
            return t
    return None


__all__ = ["DAYS", "MAX_WINDOWS", "Window", "is_open", "next_change", "parse_window", "parse_windows", "zone"]
