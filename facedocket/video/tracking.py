"""Tracking faces between detections: which detection belongs to which person in view.

:class:`IouTracker` is the tracker the watcher uses. Each track remembers its last box and
the velocity of the box's centre; at the next detection frame the box is moved by that
velocity and detections are paired with predicted boxes greedily by overlap (IoU, highest
first; at most a handful of faces are in view, so the greedy pairing and the optimal one
agree in practice). Detections every Nth frame see a walking face move by most of its
width, and a new track has no velocity yet, so what overlap leaves unpaired is paired in a
second pass by centre distance: at most ``max_jump`` face widths, for boxes of similar
size (within ``max_scale`` either way). A detection left over starts a new track.
Tracks are never ended here: the watcher ends a track it has not seen for a while, and
calls :meth:`IouTracker.forget`.

It was chosen over ByteTrack (the ``trackers`` package, Kalman filter and two-stage
matching) by measurement on the composed videos of tests/video/scenes.py, detecting every
Nth frame: benchmarks/video.py records identity switches, fragmentation and time per update
for both (benchmarks/results/video.json, key ``trackers``; docs/video.md).

Example::

    tracker = IouTracker()
    tracker.update([Box(10, 10, 60, 60)], [0.99], time=0.0)   # -> [1]
    tracker.update([Box(14, 10, 64, 60)], [0.99], time=0.2)   # -> [1] (same face, moved)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from facedocket.types import Box


class Tracker(Protocol):
    """Assigns a track id to every detection of a detection frame."""

    def update(self, boxes: Sequence[Box], scores: Sequence[float], time: float) -> list[int]:
        """Track ids for ``boxes`` (same order); a new id for a face not seen before."""
        ...

    def forget(self, track_id: int) -> None:
        """Drop a track the caller has ended."""
        ...


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """IoU of every box in ``a`` with every box in ``b``, shape (len(a), len(b))."""
    if not a or not b:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    x = np.array([[q.left, q.top, q.right, q.bottom] for q in a], dtype=np.float64)[:, None, :]
    y = np.array([[q.left, q.top, q.right, q.bottom] for q in b], dtype=np.float64)[None, :, :]
    w = np.clip(np.minimum(x[..., 2], y[..., 2]) - np.maximum(x[..., 0], y[..., 0]), 0, None)
    h = np.clip(np.minimum(x[..., 3], y[..., 3]) - np.maximum(x[..., 1], y[..., 1]), 0, None)
    inter = w * h
    area_x = (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])
    area_y = (y[..., 2] - y[..., 0]) * (y[..., 3] - y[..., 1])
    result: np.ndarray = inter / np.maximum(area_x + area_y - inter, 1e-9)
    return result


@dataclass
class _Track:
    box: Box
    time: float
    vx: float = 0.0
    vy: float = 0.0

    def predicted(self, time: float) -> Box:
        dt = time - self.time
        dx, dy = self.vx * dt, self.vy * dt
        b = self.box
        return Box(b.left + dx, b.top + dy, b.right + dx, b.bottom + dy)

    def observe(self, box: Box, time: float, smoothing: float) -> None:
        dt = time - self.time
        if dt > 0:
            vx = ((box.left + box.right) - (self.box.left + self.box.right)) / 2 / dt
            vy = ((box.top + box.bottom) - (self.box.top + self.box.bottom)) / 2 / dt
            self.vx = smoothing * vx + (1 - smoothing) * self.vx
            self.vy = smoothing * vy + (1 - smoothing) * self.vy
        self.box, self.time = box, time


class IouTracker:
    """Greedy IoU tracker with a constant-velocity prediction (see the module docstring).

    ``min_iou``: overlap a detection needs with a track's predicted box to continue it.
    ``max_jump``, ``max_scale``: the second, distance-based pass (0 turns it off).
    ``smoothing``: weight of the newest velocity measurement (1 = last step only).
    """

    def __init__(
        self, min_iou: float = 0.2, max_jump: float = 1.5, max_scale: float = 1.5, smoothing: float = 0.6
    ) -> None:
        self.min_iou = min_iou
        self.max_jump = max_jump
        self.max_scale = max_scale
        self.smoothing = smoothing
        self._tracks: dict[int, _Track] = {}
        self._next_id = 1

    def update(self, boxes: Sequence[Box], scores: Sequence[float], time: float) -> list[int]:
        ids = list(self._tracks)
        predicted = [self._tracks[i].predicted(time) for i in ids]
        assigned = [-1] * len(boxes)
        self._pair(iou_matrix(predicted, boxes), self.min_iou, ids, boxes, assigned, time)
        self._pair(self._nearness(predicted, boxes), 1e-9, ids, boxes, assigned, time)
        for d, box in enumerate(boxes):
            if assigned[d] < 0:
                assigned[d] = self._next_id
                self._tracks[self._next_id] = _Track(box, time)
                self._next_id += 1
        return assigned

    def _pair(
        self, affinity: np.ndarray, floor: float, ids: list[int], boxes: Sequence[Box], assigned: list[int], time: float
    ) -> None:
        """Greedy pairing, highest affinity first, of tracks and detections still unpaired."""
        if not affinity.size:
            return
        affinity[[k for k, i in enumerate(ids) if i in assigned], :] = -1.0
        affinity[:, [d for d, i in enumerate(assigned) if i >= 0]] = -1.0
        while affinity.max() >= floor:
            t, d = (int(v) for v in np.unravel_index(int(np.argmax(affinity)), affinity.shape))
            assigned[d] = ids[t]
            self._tracks[ids[t]].observe(boxes[d], time, self.smoothing)
            affinity[t, :] = -1.0
            affinity[:, d] = -1.0

    def _nearness(self, predicted: Sequence[Box], boxes: Sequence[Box]) -> np.ndarray:
        """1 - centre distance / (``max_jump`` x face width) for boxes of similar size, else 0."""
        near = np.zeros((len(predicted), len(boxes)), dtype=np.float64)
        if self.max_jump <= 0:
            return near
        for t, p in enumerate(predicted):
            for d, b in enumerate(boxes):
                ratio = max(b.width, 1e-6) / max(p.width, 1e-6)
                if not 1 / self.max_scale <= ratio <= self.max_scale:
                    continue
                dx = (b.left + b.right - p.left - p.right) / 2
                dy = (b.top + b.bottom - p.top - p.bottom) / 2
                near[t, d] = max(0.0, 1.0 - float(np.hypot(dx, dy)) / (self.max_jump * max(p.width, b.width)))
        return near

    def forget(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)

    def __len__(self) -> int:
        return len(self._tracks)
