"""The Jinja filters every document shares: dates, durations, percentages, confidence
intervals, ratios, counts and ``data:`` URIs. Plain functions, usable from Python too.

>>> pct(0.0123), ci((0.01, None)), ratio(1.5), thousands(12345)
('1.23 %', '1.00 % – unbounded', '1.50×', '12,345')
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

DASH = "—"
"""Shown for a date that is not set."""


def when(value: datetime | None) -> str:
    """A date and time in ISO 8601 (as stored, with its offset), or a dash when not set."""
    return value.isoformat() if value else DASH


def moment(value: datetime | None) -> str:
    """A date and time to the second in UTC, for tables and lists (``when`` keeps the stored
    precision and offset), or a dash when not set.

    >>> moment(datetime(2026, 12, 1, 18, 20, 35, 610943, tzinfo=UTC))
    '2026-12-01 18:20:35 UTC'
    """
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else DASH


def pct(rate: object) -> str:
    """A rate as a percentage: two decimals from 1 %, two significant digits below; ``n/a``
    for a missing or NaN rate."""
    if rate is None or not isinstance(rate, (int, float)) or math.isnan(rate):
        return "n/a"
    value = 100 * float(rate)
    if value == 0:
        return "0 %"
    return f"{value:.2f} %" if value >= 1 else f"{value:.2g} %"


def ci(interval: object, percent: bool = True) -> str:
    """A confidence interval ``(low, high)`` as ``low – high`` (percentages, or plain numbers
    with two decimals); a missing bound is ``unbounded``, anything else ``n/a``."""
    if not isinstance(interval, Sequence) or isinstance(interval, str) or len(interval) != 2:
        return "n/a"

    def bound(x: object) -> str:
        if x is None:
            return "unbounded"
        return pct(x) if percent else f"{float(x):.2f}"  # type: ignore[arg-type]

    return f"{bound(interval[0])} – {bound(interval[1])}"


def ratio(value: object) -> str:
    """A ratio with two decimals and a multiplication sign, or ``n/a``."""
    return "n/a" if value is None else f"{float(value):.2f}×"  # type: ignore[arg-type]


def thousands(value: int) -> str:
    """A count with thousands separated by commas."""
    return f"{value:,}"


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    """``data:`` URI of ``data``, so a document carries its images inside."""
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def duration(seconds: float | None) -> str:
    """A length of time for reading: days and hours (from three days), hours and minutes,
    minutes, or seconds.

    >>> duration(4 * 86400 + 3 * 3600), duration(47 * 3600 + 720), duration(90), duration(None)
    ('4 d 3 h', '47 h 12 min', '1 min 30 s', '—')
    """
    if seconds is None:
        return DASH
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 72:
        return f"{hours // 24} d {hours % 24} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def spaced(name: str) -> str:
    """A field name for reading: underscores as spaces."""
    return name.replace("_", " ")


FILTERS: dict[str, Callable[..., str]] = {
    "when": when,
    "moment": moment,
    "pct": pct,
    "ci": ci,
    "ratio": ratio,
    "thousands": thousands,
    "data_uri": data_uri,
    "spaced": spaced,
    "duration": duration,
}
"""Every filter, by the name templates use."""

__all__ = ["DASH", "FILTERS", "ci", "data_uri", "duration", "moment", "pct", "ratio", "spaced", "thousands", "when"]
