"""What the watcher reports: the events of :meth:`facedocket.video.watch.Watcher.run`.

Times (``time``, ``first_seen``) are seconds from the start of the stream, on the video's
own clock (frame timestamps; an outage of a live source adds its length).

* :class:`TrackStarted`: a face came into view (a new track).
* :class:`Hit`: a track's template matched watchlist entries at the threshold. One per
  track at most; ``repeat_of`` names an earlier hit for the same top entry within the merge
  window (the same person tracked twice), so a consumer can merge them into one alert.
* :class:`TrackEnded`: a face left the view. ``best`` (the face crop and template) is set
  only when the track hit; a track that did not match ends with ``best=None``, and its
  crops and template are dropped by the watcher before this event is made.
* :class:`FacesCounted`: how many faces (tracks) started in one clock hour; emitted when
  the hour closes and, for the open hour, when the stream ends. The only thing the watcher
  reports about faces that did not match.
* :class:`~facedocket.video.source.SourceDropped`, :class:`~facedocket.video.source.SourceReconnected`:
  passed through from the reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from facedocket.types import Box, Face, RGBArray, Template
from facedocket.video.source import SourceDropped, SourceReconnected
from facedocket.video.watchlist import WatchlistMatch


@dataclass(frozen=True)
class BestFace:
    """The face a track was matched with: the face (box, landmarks, quality) in the frame
    at ``time``, a crop of that frame around it (RGB, the face plus a margin) and its
    template (which records the model)."""

    face: Face
    time: float
    frame_index: int
    crop: RGBArray = field(repr=False)
    template: Template = field(repr=False)


@dataclass(frozen=True)
class TrackStarted:
    """A new face in view."""

    track_id: int
    time: float
    box: Box


@dataclass(frozen=True)
class Hit:
    """A track matched the watchlist: ``matches`` best first (entry id and score)."""

    hit_id: int
    track_id: int
    time: float
    first_seen: float
    matches: tuple[WatchlistMatch, ...]
    best: BestFace
    repeat_of: int | None = None

    @property
    def entry_id(self) -> int:
        return self.matches[0].entry_id

    @property
    def score(self) -> float:
        return self.matches[0].score

    @property
    def latency_s(self) -> float:
        """Video seconds from the track's first detection to this hit."""
        return self.time - self.first_seen


@dataclass(frozen=True)
class TrackEnded:
    """A face left the view (not detected for the watcher's ``end_after_s``).

    ``best`` is ``None`` unless the track hit: nothing of a face that did not match is
    handed on, only that it was there (``detections``, times, ``templates`` made)."""

    track_id: int
    first_seen: float
    last_seen: float
    detections: int
    templates: int
    matched: bool
    best: BestFace | None = None


@dataclass(frozen=True)
class FacesCounted:
    """Faces (tracks) that started in the clock hour beginning at ``hour`` (UTC)."""

    hour: datetime
    faces: int


Event = TrackStarted | Hit | TrackEnded | FacesCounted | SourceDropped | SourceReconnected


class FaceCounts:
    """Faces seen per clock hour; hours are ``origin`` + stream time, floored to the hour."""

    def __init__(self, origin: datetime) -> None:
        self.origin = origin
        self.by_hour: dict[datetime, int] = {}
        self._open: datetime | None = None

    def hour_of(self, time: float) -> datetime:
        at = self.origin + timedelta(seconds=time)
        return at.replace(minute=0, second=0, microsecond=0)

    def add(self, time: float) -> None:
        hour = self.hour_of(time)
        self.by_hour[hour] = self.by_hour.get(hour, 0) + 1

    def advance(self, time: float) -> Iterator[FacesCounted]:
        """Counts of the hours that closed before ``time`` (every hour, zero counts too)."""
        hour = self.hour_of(time)
        if self._open is None:
            self._open = hour
        while self._open < hour:
            yield FacesCounted(self._open, self.by_hour.get(self._open, 0))
            self._open += timedelta(hours=1)

    def close(self) -> Iterator[FacesCounted]:
        """The count of the hour still open (at the end of the stream)."""
        if self._open is not None:
            yield FacesCounted(self._open, self.by_hour.get(self._open, 0))
            self._open = None
