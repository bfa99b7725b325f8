"""The faces of probe photos, kept in memory for a while.

A search or verification needs the probe's template: decoding the photo, detecting its
faces and computing each face's template (ten runs of the network with flip and jitter)
take a fifth of a second of CPU or more, and the soak test found them to be two thirds of
the server's work, which made searches queue for seconds under 30 concurrent clients. A
request is searched again and again (other galleries, thresholds, a second examiner), and
its probe never changes, so its faces are computed once and kept, by the photo's SHA-256,
for ``probe_cache_ttl_s`` at most and for at most ``probe_cache_size`` photos (the least
recently used go first). Only this process's memory holds them; nothing is written. Filing
a request computes its probe's faces already, with the default model of new galleries (it
decodes the probe to check it anyway), so a search soon after finds them.

The templates are biometric data: a purge of the request (denial, expiry) forgets its
probe's entry at once, and a retention run that deletes probe photos forgets them all.
Concurrent searches of the same probe compute it once (the others wait for it).

Each entry is kept per template model too (a search over galleries of two models embeds the
probe with each).

Example::

    probes = ProbeCache(size=1000, ttl=timedelta(minutes=15), clock=clock)
    analysed = probes.get((sha256, model_id), lambda: analyse(pipeline, data))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from facedocket.vision.pipeline import FacePipeline, FoundFace

Key = tuple[str, str]
"""(the probe photo's SHA-256, the template model's id)"""


@dataclass(frozen=True)
class AnalysedProbe:
    """A probe photo's decoded size and its faces (boxes, landmarks, chips and templates)."""

    width: int
    height: int
    faces: tuple[FoundFace, ...]


def analyse(pipeline: FacePipeline, data: bytes) -> AnalysedProbe:
    """Decode ``data`` with the limits (InvalidImage for what is not a safe image) and find its faces."""
    image = pipeline.load(data)
    return AnalysedProbe(image.width, image.height, tuple(pipeline.analyse(image)))


class ProbeCache:
    """A bounded, expiring map of (probe SHA-256, model) -> its faces (see the module docstring)."""

    def __init__(self, size: int, ttl: timedelta, clock: Callable[[], datetime]) -> None:
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[Key, tuple[datetime, AnalysedProbe]] = OrderedDict()
        self._making: dict[Key, threading.Lock] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Key, make: Callable[[], AnalysedProbe]) -> AnalysedProbe:
        """The faces of the probe ``key``: kept ones, or ``make()`` (kept when it returns;
        an error is raised to the caller and nothing is kept)."""
        if self.size <= 0:
            return make()
        with self._lock:
            if (found := self._fresh(key)) is not None:
                self.hits += 1
                return found
            making = self._making.setdefault(key, threading.Lock())
        with making:  # one computes, the others wait and then find it
            with self._lock:
                if (found := self._fresh(key)) is not None:
                    self.hits += 1
                    return found
                self.misses += 1
            try:
                faces = make()
            finally:
                with self._lock:
                    self._making.pop(key, None)
            with self._lock:
                self._entries[key] = (self.clock(), faces)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            return faces

    def forget(self, sha256: str) -> None:
        """Drop a probe's faces, with every model (its request was purged)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == sha256]:
                del self._entries[key]

    def clear(self) -> None:
        """Drop every probe's faces (probe photos were deleted)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _fresh(self, key: Key) -> AnalysedProbe | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        made, faces = entry
        if self.clock() - made > self.ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return faces
