"""Failed sign-ins: throttled per client, and recorded in bounded numbers.

A client (the API's caller address) whose sign-ins failed ``limit`` times within
``window`` is refused without a look at its token (429, ``Retry-After``) until the oldest
of those failures is ``window`` old. A refused token is recorded as ``auth.refused`` once
per client per :data:`RECORD_EVERY`, and at most :data:`MAX_RECORDED` times in all per
that period; the refusals not recorded one by one are counted and recorded as one
``auth.refusals_counted`` event when the period ends (counts per client, the busiest
first). So however many random tokens a caller sends, the append-only audit log grows
by a bounded number of events, and the database is not asked at all once it is throttled.

Example::

    guard = SignInGuard(limit=20, window=timedelta(minutes=1))
    guard.check("203.0.113.9", now)   # TooManyRequests once 20 failures are within the minute
    guard.failed("203.0.113.9", now)
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from facedocket.errors import TooManyRequests

RECORD_EVERY = timedelta(minutes=10)
"""The period over which refused tokens are recorded one by one (per client, once) and counted."""
MAX_RECORDED = 100
"""Most ``auth.refused`` events one period records, over every client."""
MAX_CLIENTS = 10_000
"""Most clients whose recent failures are remembered (the least recently failed are forgotten)."""
TOP_CLIENTS = 20
"""Clients named one by one in a period's count; the others are summed."""


@dataclass
class _Period:
    start: datetime
    recorded: int = 0
    recorded_clients: set[str] = field(default_factory=set)
    counted: Counter[str] = field(default_factory=Counter)  # refusals not recorded one by one
    throttled: Counter[str] = field(default_factory=Counter)  # attempts refused without a look


class SignInGuard:
    """Per-client throttle and bounded recording of failed sign-ins (see the module docstring).
    Thread-safe; one per service (per process)."""

    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._period: _Period | None = None
        self._lock = threading.Lock()

    def check(self, client: str, now: datetime) -> None:
        """Raise :class:`TooManyRequests` when ``client`` failed ``limit`` times within the window."""
        with self._lock:
            recent = self._recent(client, now)
            if recent is None or len(recent) < self.limit:
                return
            wait = max(1, math.ceil((recent[0] + self.window - now).total_seconds()))
            self._current(now).throttled[client] += 1
        raise TooManyRequests(
            f"too many failed sign-ins from {client}; try again in {wait} s with a valid token", retry_after=wait
        )

    def failed(self, client: str, now: datetime) -> None:
        """Count a failed sign-in of ``client``."""
        with self._lock:
            recent = self._recent(client, now)
            if recent is None:
                recent = self._failures[client] = deque(maxlen=max(1, self.limit))
                while len(self._failures) > MAX_CLIENTS:
                    self._failures.popitem(last=False)
            recent.append(now)
            self._failures.move_to_end(client)

    def record_refusal(self, client: str | None, now: datetime) -> bool:
        """Whether this refused token is recorded as an event of its own (True) or only counted."""
        key = client or "local"
        with self._lock:
            period = self._current(now)
            if key not in period.recorded_clients and period.recorded < MAX_RECORDED:
                period.recorded_clients.add(key)
                period.recorded += 1
                return True
            period.counted[key] += 1
            return False

    def ended(self, now: datetime, force: bool = False) -> dict[str, Any] | None:
        """The counts of a period that has ended (or of the current one, with ``force``) for an
        ``auth.refusals_counted`` event, once; None when there is nothing to record."""
        with self._lock:
            period = self._period
            if period is None or (not force and now - period.start < RECORD_EVERY):
                return None
            self._period = None
        if not period.counted and not period.throttled:
            return None
        return {
            "from": period.start.isoformat(),
            "until": now.isoformat(),
            "refused_not_recorded": sum(period.counted.values()),
            "throttled": sum(period.throttled.values()),
            "clients": len(set(period.counted) | set(period.throttled)),
            "by_client": {
                client: {"refused": period.counted[client], "throttled": period.throttled[client]}
                for client, _n in (period.counted + period.throttled).most_common(TOP_CLIENTS)
            },
        }

    def _recent(self, client: str, now: datetime) -> deque[datetime] | None:
        recent = self._failures.get(client)
        if recent is None:
            return None
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        if not recent:
            del self._failures[client]
            return None
        return recent

    def _current(self, now: datetime) -> _Period:
        if self._period is None:
            self._period = _Period(now)
        return self._period
