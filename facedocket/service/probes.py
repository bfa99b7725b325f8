"""The faces of probe photos, kept in memory for a while.

A search or verification needs the probe's template: decoding the photo, detecting its
faces and computing each face's template (ten runs of the network with flip and jitter)
take a fifth of a second of CPU or more, and the soak test found them to be two thirds of
the server's work, which made searches queue for seconds under 30 concurrent clients. A
request is searched again and again (other galleries, thresholds, a second examiner), and
its probe never changes, so its faces are computed once and kept, by the photo's SHA-256,
for ``probe_cache_ttl_s`` at most and for at most ``probe_cache_size`` photos (the least
recently used go first). Only this process's memory holds them; nothing is written. Filing
a request computes its probe's faces already (it decodes the probe to check it anyway), so
a search soon after finds them.

The templates are biometric data: a purge of the request (denial, expiry) forgets its
probe's entry at once, and a retention run that deletes probe photos forgets them all.
Concurrent searches of the same probe compute it once (the others wait for it).

Example::

    probes = ProbeFaces(size=1000, ttl=timedelta(minutes=15), clock=clock)
    found = probes.get(sha256, lambda: pipeline.analyse(pipeline.load(data)))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from facedocket.vision.pipeline import FoundFace

Faces = Sequence[FoundFace]


class ProbeFaces:
    """A bounded, expiring map of probe SHA-256 -> its faces (see the module docstring)."""

    def __init__(self, size: int, ttl: timedelta, clock: Callable[[], datetime]) -> None:
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[str, tuple[datetime, Faces]] = OrderedDict()
        self._making: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, sha256: str, make: Callable[[], Faces]) -> Faces:
        """The faces of the probe ``sha256``: kept ones, or ``make()`` (kept when it returns;
        an error is raised to the caller and nothing is kept)."""
        if self.size <= 0:
            return make()
        with self._lock:
            if (found := self._fresh(sha256)) is not None:
                self.hits += 1
                return found
            making = self._making.setdefault(sha256, threading.Lock())
        with making:  # one computes, the others wait and then find it
            with self._lock:
                if (found := self._fresh(sha256)) is not None:
                    self.hits += 1
                    return found
                self.misses += 1
            try:
                faces = tuple(make())
            finally:
                with self._lock:
                    self._making.pop(sha256, None)
            with self._lock:
                self._entries[sha256] = (self.clock(), faces)
                self._entries.move_to_end(sha256)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            return faces

    def forget(self, sha256: str) -> None:
        """Drop a probe's faces (its request was purged)."""
        with self._lock:
            self._entries.pop(sha256, None)

    def clear(self) -> None:
        """Drop every probe's faces (probe photos were deleted)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _fresh(self, sha256: str) -> Faces | None:
        entry = self._entries.get(sha256)
        if entry is None:
            return None
        made, faces = entry
        if self.clock() - made > self.ttl:
            del self._entries[sha256]
            return None
        self._entries.move_to_end(sha256)
        return faces
