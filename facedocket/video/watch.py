"""Watching a video for watchlist faces: frames in, events out.

For every ``detect_every``-th frame the watcher detects faces on a copy of the frame
reduced to ``detect_side`` pixels (longest side), maps them back to full size and lets the
tracker assign each to a track. For every track that still needs a template it aligns the
face on the full-size frame and rates it (vision/quality.py, without the template's
symmetry, which costs a template); the best-rated face so far is kept. A track gets its
template as soon as its best face reaches ``min_quality``, or once it has been in view for
``patience_s`` (then from its best face so far), or when it ends: one template per track
(``max_templates`` allows re-trying with a clearly better face while no hit was found).
The template is made by the pipeline's template model with its usual views (flip, jitter),
so the model card's calibrated thresholds hold, and matched against the watchlist.

Nothing of a face that does not match is kept: the package writes no files at all, crops,
chips and templates live in memory only while their track is in view, and when a track
ends without a hit they are zeroed and dropped before :class:`TrackEnded` (``best=None``) is
made. Only counts leave the watcher for those faces (:class:`FacesCounted`).

Example::

    watcher = Watcher(FacePipeline(), Watchlist(ids, templates, threshold=0.93))
    for event in watcher.run(VideoReader("rtsp://camera/stream")):
        if isinstance(event, Hit):
            print(event.entry_id, event.score, event.latency_s)
"""

from __future__ import annotations

import time as _time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from facedocket.errors import InvalidInput
from facedocket.types import Box, Face, RGBArray, Template
from facedocket.video.events import BestFace, Event, FaceCounts, Hit, TrackEnded, TrackStarted
from facedocket.video.source import SourceItem, VideoFrame
from facedocket.video.tracking import IouTracker, Tracker
from facedocket.video.watchlist import Watchlist
from facedocket.vision.pipeline import FacePipeline


@dataclass(frozen=True)
class WatchOptions:
    """How often to detect, at what size, and when a track's face is good enough to match.

    ``min_quality``: a face this good is matched at once; otherwise the track's best face is
    matched after ``patience_s`` in view, or when the track ends, if its quality reaches
    ``floor_quality``. The floor is 0 (always match the best face there is): blurred faces
    that the quality score rates near 0 still matched correctly on the composed videos:
    with a floor of 0.1, 3 more of the 30 listed people were never matched (alert recall
    0.73 against 0.83). A policy that wants a floor on alerts filters on
    ``Hit.best.face.quality``.
    The defaults were chosen by measurement on composed videos (benchmarks/video.py,
    docs/video.md)."""

    detect_every: int = 5
    detect_side: int = 640
    min_quality: float = 0.5
    floor_quality: float = 0.0
    patience_s: float = 0.6
    max_templates: int = 1
    retry_margin: float = 0.15
    end_after_s: float = 1.0
    merge_window_s: float = 60.0
    crop_margin: float = 0.3

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.detect_side < 64 or self.max_templates < 1:
            raise InvalidInput("detect_every and max_templates must be >= 1 and detect_side >= 64")


@dataclass
class WatchStats:
    """Work done so far (for benchmarks and status pages)."""

    frames: int = 0
    detection_frames: int = 0
    faces_detected: int = 0
    templates: int = 0
    detect_s: float = 0.0
    align_s: float = 0.0
    embed_s: float = 0.0


@dataclass
class _Candidate:
    face: Face
    chip: RGBArray
    crop: RGBArray
    time: float
    frame_index: int
    quality: float

    def forget(self) -> None:
        self.chip.fill(0)
        self.crop.fill(0)


@dataclass
class _Track:
    track_id: int
    first_seen: float
    last_seen: float
    detections: int = 0
    templates: int = 0
    candidate: _Candidate | None = None  # best face not yet made into a template
    matched_with: _Candidate | None = None  # face of the last template
    template: Template | None = None
    hit: Hit | None = None
    used_quality: float = field(default=-1.0)

    def wants_faces(self, max_templates: int) -> bool:
        return self.hit is None and self.templates < max_templates

    def forget(self) -> None:
        """Zero and drop everything of the face (called for tracks that did not match)."""
        for c in (self.candidate, self.matched_with):
            if c is not None:
                c.forget()
        if self.template is not None:
            self.template.vector.fill(0)
        self.candidate = self.matched_with = self.template = None


class Watcher:
    """Runs detection, tracking, templates and watchlist matching over frames.

    ``origin`` is the wall-clock time of the stream's start (for hourly counts; default:
    when :meth:`run` starts). ``tracker`` defaults to :class:`IouTracker`.
    """

    def __init__(
        self,
        pipeline: FacePipeline,
        watchlist: Watchlist,
        options: WatchOptions | None = None,
        *,
        tracker: Tracker | None = None,
        origin: datetime | None = None,
    ) -> None:
        if len(watchlist) and watchlist.model_id != pipeline.model_id:
            raise InvalidInput(
                f"the watchlist holds {watchlist.model_id} templates but the pipeline makes {pipeline.model_id}"
            )
        self.pipeline = pipeline
        self.watchlist = watchlist
        self.options = options or WatchOptions()
        self.tracker = tracker or IouTracker()
        self.origin = origin
        self.stats = WatchStats()
        self.counts = FaceCounts(origin or datetime.now(UTC))
        self._tracks: dict[int, _Track] = {}
        self._hits = 0
        self._last_hit_for: dict[int, tuple[int, float]] = {}

    def run(self, items: Iterable[SourceItem]) -> Iterator[Event]:
        """Events for a stream of frames (and source events, passed through), in time order.
        At the end of the stream every open track ends."""
        if self.origin is None:
            self.counts = FaceCounts(datetime.now(UTC))
        last = 0.0
        for item in items:
            if not isinstance(item, VideoFrame):
                yield item
                continue
            self.stats.frames += 1
            last = item.time
            yield from self.counts.advance(item.time)
            if item.index % self.options.detect_every == 0:
                yield from self._on_detection_frame(item)
        for track in list(self._tracks.values()):
            yield from self._end(track, last)
        yield from self.counts.close()

    # --- one detection frame ------------------------------------------------------------

    def _on_detection_frame(self, frame: VideoFrame) -> Iterator[Event]:
        self.stats.detection_frames += 1
        faces = self._detect(frame)
        ids = self.tracker.update([f.box for f in faces], [f.score for f in faces], frame.time)
        pixels: RGBArray | None = None
        for face, track_id in zip(faces, ids, strict=True):
            track = self._tracks.get(track_id)
            if track is None:
                track = self._tracks[track_id] = _Track(track_id, frame.time, frame.time)
                self.counts.add(frame.time)
                yield TrackStarted(track_id, frame.time, face.box)
            track.last_seen = frame.time
            track.detections += 1
            if track.wants_faces(self.options.max_templates):
                pixels = frame.rgb() if pixels is None else pixels
                self._consider(track, face, pixels, frame)
        due = [t for t in self._tracks.values() if self._due(t, frame.time)]
        yield from self._match(due, frame.time)
        for track in [t for t in self._tracks.values() if frame.time - t.last_seen > self.options.end_after_s]:
            yield from self._end(track, frame.time)

    def _detect(self, frame: VideoFrame) -> list[Face]:
        started = _time.perf_counter()
        scale = min(1.0, self.options.detect_side / max(frame.width, frame.height))
        width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
        small = frame.scaled(width, height)
        found = self.pipeline.detector.detect(small)
        sx, sy = frame.width / width, frame.height / height
        faces = [_rescale(face, sx, sy) for face in found]
        self.stats.detect_s += _time.perf_counter() - started
        self.stats.faces_detected += len(faces)
        return faces

    def _consider(self, track: _Track, face: Face, pixels: RGBArray, frame: VideoFrame) -> None:
        """Rate ``face`` and keep it if it beats the track's best face so far. A face cut by
        the frame's edge (entering or leaving) is never a candidate: its chip is partial."""
        box = face.box
        if box.left < 0 or box.top < 0 or box.right > frame.width or box.bottom > frame.height:
            return
        started = _time.perf_counter()
        chip = self.pipeline.aligner.align(pixels, face, self.pipeline.detector.name)
        rated = self.pipeline.rate(face, chip)
        self.stats.align_s += _time.perf_counter() - started
        best = track.candidate.quality if track.candidate else -1.0
        needed = track.used_quality + self.options.retry_margin if track.templates else best
        if rated.score <= max(best, needed):
            return
        if track.candidate is not None:
            track.candidate.forget()
        crop = _crop(pixels, face.box, self.options.crop_margin)
        track.candidate = _Candidate(replace(face, quality=rated), chip, crop, frame.time, frame.index, rated.score)

    def _due(self, track: _Track, now: float, ending: bool = False) -> bool:
        c = track.candidate
        if c is None or not track.wants_faces(self.options.max_templates):
            return False
        if c.quality < self.options.floor_quality:
            return False
        return ending or c.quality >= self.options.min_quality or now - track.first_seen >= self.options.patience_s

    # --- templates and matching ---------------------------------------------------------

    def _match(self, tracks: list[_Track], now: float) -> Iterator[Event]:
        if not tracks:
            return
        started = _time.perf_counter()
        chosen = [t.candidate for t in tracks if t.candidate is not None]
        vectors, symmetry = self.pipeline.embed_chips([c.chip for c in chosen])
        self.stats.embed_s += _time.perf_counter() - started
        self.stats.templates += len(chosen)
        for track, candidate, vector, sym in zip(tracks, chosen, vectors, symmetry, strict=True):
            rated = self.pipeline.rate(candidate.face, candidate.chip, float(sym))
            face = replace(candidate.face, quality=rated)
            template = Template(vector, self.pipeline.model_id, rated.score, "", face)
            if track.matched_with is not None:
                track.matched_with.forget()
            if track.template is not None:
                track.template.vector.fill(0)
            track.candidate, track.matched_with, track.template = None, candidate, template
            track.templates += 1
            track.used_quality = candidate.quality
            if rated.score >= self.options.floor_quality:
                yield from self._hit(track, candidate, template, now)

    def _hit(self, track: _Track, candidate: _Candidate, template: Template, now: float) -> Iterator[Hit]:
        matches = self.watchlist.match(template)
        if not matches:
            return
        self._hits += 1
        earlier = self._last_hit_for.get(matches[0].entry_id)
        repeat_of = earlier[0] if earlier and now - earlier[1] <= self.options.merge_window_s else None
        self._last_hit_for[matches[0].entry_id] = (repeat_of or self._hits, now)
        best = BestFace(
            template.face or candidate.face, candidate.time, candidate.frame_index, candidate.crop, template
        )
        track.hit = Hit(self._hits, track.track_id, now, track.first_seen, tuple(matches), best, repeat_of)
        yield track.hit

    def _end(self, track: _Track, now: float) -> Iterator[Event]:
        """End ``track``: a last chance to match if it never got a template, then
        :class:`TrackEnded`; a track without a hit is forgotten (zeroed) first."""
        if track.templates == 0 and self._due(track, now, ending=True):
            yield from self._match([track], now)
        self.tracker.forget(track.track_id)
        del self._tracks[track.track_id]
        best = track.hit.best if track.hit is not None else None
        if track.hit is None:
            track.forget()
        yield TrackEnded(
            track.track_id, track.first_seen, track.last_seen, track.detections, track.templates, best is not None, best
        )


def _rescale(face: Face, sx: float, sy: float) -> Face:
    b = face.box
    box = Box(b.left * sx, b.top * sy, b.right * sx, b.bottom * sy)
    marks = tuple((x * sx, y * sy) for x, y in face.landmarks)
    return Face(box, face.score, marks)


def _crop(pixels: RGBArray, box: Box, margin: float) -> RGBArray:
    """A copy of the face's box widened by ``margin`` of its size on each side."""
    h, w = pixels.shape[:2]
    mx, my = box.width * margin, box.height * margin
    top, bottom = max(0, int(box.top - my)), min(h, int(np.ceil(box.bottom + my)))
    left, right = max(0, int(box.left - mx)), min(w, int(np.ceil(box.right + mx)))
    return np.ascontiguousarray(pixels[top:bottom, left:right]).copy()
