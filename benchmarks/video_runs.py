"""The work of benchmarks/video.py's child processes: the watcher and the naive approach
over the rendered videos, returning what happened (hits, tracks, per-frame times)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from facedocket.types import Box, Image, Template
from facedocket.video.events import Hit, TrackEnded
from facedocket.video.source import SourceItem, VideoFrame, VideoReader
from facedocket.video.tracking import IouTracker
from facedocket.video.watch import Watcher, WatchOptions
from facedocket.video.watchlist import Watchlist
from facedocket.vision.models import TEMPLATE_MODEL_ID, default_threshold
from facedocket.vision.pipeline import FacePipeline


class RecordingTracker:
    """Our tracker, recording what it was given (for the tracker comparison)."""

    def __init__(self) -> None:
        self.inner = IouTracker()
        self.log: list[dict[str, Any]] = []

    def update(self, boxes: Sequence[Box], scores: Sequence[float], time: float) -> list[int]:
        self.log.append({"time": time, "boxes": [b.as_list() for b in boxes], "scores": [round(s, 4) for s in scores]})
        return self.inner.update(boxes, scores, time)

    def forget(self, track_id: int) -> None:
        self.inner.forget(track_id)


def load_watchlist(job: dict[str, Any]) -> Watchlist:
    data = np.load(job["watchlist"])
    templates = [Template(v.astype(np.float32), TEMPLATE_MODEL_ID) for v in data["vectors"]]
    return Watchlist(list(range(len(templates))), templates, default_threshold())


def _warm(pipeline: FacePipeline) -> None:
    pipeline.detector.detect(np.zeros((360, 640, 3), dtype=np.uint8))


def _stamped(items: Iterable[SourceItem], stamps: list[float]) -> Iterator[SourceItem]:
    for item in items:
        stamps.append(time.perf_counter())
        yield item


def _costs(start: float, stamps: list[float], end: float) -> list[float]:
    """Seconds each frame took: from its arrival to the next frame's (decode included)."""
    points = [*stamps, end]
    costs = [points[i + 1] - points[i] for i in range(len(stamps))]
    if costs:
        costs[0] += stamps[0] - start
    return [round(c, 5) for c in costs]


def _hit(ev: Hit) -> dict[str, Any]:
    return {
        "hit_id": ev.hit_id, "track": ev.track_id, "entry": ev.entry_id, "score": round(ev.score, 5),
        "time": ev.time, "first_seen": ev.first_seen, "box": ev.best.face.box.as_list(), "best_time": ev.best.time,
        "repeat_of": ev.repeat_of,
    }  # fmt: skip


def watch(job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    pipeline = FacePipeline()
    watchlist = load_watchlist(job)
    _warm(pipeline)
    videos = []
    for video in job["videos"]:
        tracker = RecordingTracker()
        watcher = Watcher(pipeline, watchlist, WatchOptions(**options), tracker=tracker)
        hits, tracks, stamps = [], [], []
        start = time.perf_counter()
        for ev in watcher.run(_stamped(VideoReader(video["path"]), stamps)):
            if isinstance(ev, Hit):
                hits.append(_hit(ev))
            elif isinstance(ev, TrackEnded):
                tracks.append({"track": ev.track_id, "first_seen": ev.first_seen, "last_seen": ev.last_seen,
                               "detections": ev.detections, "templates": ev.templates,
                               "matched": ev.matched})  # fmt: skip
        end = time.perf_counter()
        videos.append({
            "wall_s": end - start, "frames": len(stamps), "costs": _costs(start, stamps, end), "hits": hits,
            "tracks": tracks, "stats": asdict(watcher.stats), "detections": tracker.log,
        })  # fmt: skip
    return {"videos": videos, "threshold": watchlist.threshold}


def naive(job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Detect (full size) and make a template of every face in every frame; each match is a
    hit, merged into an earlier one for the same entry within 60 s (as the watcher merges)."""
    pipeline = FacePipeline()
    watchlist = load_watchlist(job)
    _warm(pipeline)
    video = job["videos"][0]
    hits: list[dict[str, Any]] = []
    first_for: dict[int, int] = {}
    stamps: list[float] = []
    start = time.perf_counter()
    for frame in _stamped(VideoReader(video["path"]), stamps):
        assert isinstance(frame, VideoFrame)
        if frame.time >= options["seconds"]:
            stamps.pop()
            break
        for found in pipeline.analyse(Image(frame.rgb(), "", "video")):
            matches = watchlist.match(found.template)
            if matches:
                entry = matches[0].entry_id
                hit_id = len(hits) + 1
                hits.append({"hit_id": hit_id, "track": None, "entry": entry, "score": round(matches[0].score, 5),
                             "time": frame.time, "first_seen": frame.time, "box": found.face.box.as_list(),
                             "best_time": frame.time, "repeat_of": first_for.get(entry)})  # fmt: skip
                first_for.setdefault(entry, hit_id)
    end = time.perf_counter()
    return {
        "videos": [{"wall_s": end - start, "frames": len(stamps), "costs": _costs(start, stamps, end), "hits": hits,
                    "tracks": [], "stats": {}, "detections": []}],
        "threshold": watchlist.threshold,
    }  # fmt: skip
