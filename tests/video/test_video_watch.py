"""The watcher on composed videos: the right people tracked at the right times, one template
per track, hits for listed people only, and nothing of anyone written anywhere."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import scenes

from facedocket.errors import InvalidInput, ModelMismatch
from facedocket.types import Template
from facedocket.video.events import FacesCounted, Hit, TrackEnded, TrackStarted
from facedocket.video.source import VideoReader
from facedocket.video.watch import Watcher, WatchOptions
from facedocket.video.watchlist import Watchlist
from facedocket.vision.pipeline import FacePipeline

STEP = 5 / 25  # seconds between detection frames at the default options


def _run(pipeline: FacePipeline, watchlist: Watchlist, video: Path) -> list[object]:
    return list(Watcher(pipeline, watchlist).run(VideoReader(video)))


@pytest.fixture(scope="module")
def walk_events(pipeline: FacePipeline, watchlist: Watchlist, walk_video: Path) -> list[object]:
    return _run(pipeline, watchlist, walk_video)


def _who(scene: scenes.Scene, ended: TrackEnded, started: TrackStarted) -> str:
    """The person whose face box holds the centre of the track's first box."""
    box = started.box
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    for a in scene.appearances:
        left, top, right, bottom = a.sprite_box(started.time)
        if a.enter <= started.time < a.leave and left <= cx <= right and top <= cy <= bottom:
            return a.identity
    raise AssertionError(f"track {ended.track_id} at {box} is nobody in the scene")


def test_tracks_are_the_right_people_at_the_right_times(walk_scene: scenes.Scene, walk_events: list[object]) -> None:
    started = {e.track_id: e for e in walk_events if isinstance(e, TrackStarted)}
    ended = [e for e in walk_events if isinstance(e, TrackEnded)]
    assert len(ended) == len(started) == len(walk_scene.appearances), "one track per person"
    by_person = {_who(walk_scene, e, started[e.track_id]): e for e in ended}
    assert set(by_person) == walk_scene.identities()
    for a in walk_scene.appearances:
        track = by_person[a.identity]
        first = walk_scene.first_seen(a)
        assert first is not None
        assert first - 0.3 <= track.first_seen <= first + 2 * STEP, (a.identity, track.first_seen, first)
        last_in_view = max(t / 25 for t in range(walk_scene.frame_count) if walk_scene.in_view(a, t / 25))
        assert last_in_view - 2 * STEP <= track.last_seen <= min(a.leave, walk_scene.duration), a.identity


def test_one_template_per_track_and_hits_only_for_listed_people(
    walk_scene: scenes.Scene, walk_events: list[object], watchlist_people: list[str], cast: scenes.Cast
) -> None:
    started = {e.track_id: e for e in walk_events if isinstance(e, TrackStarted)}
    ended = {e.track_id: e for e in walk_events if isinstance(e, TrackEnded)}
    hits = [e for e in walk_events if isinstance(e, Hit)]
    assert all(e.templates == 1 for e in ended.values())
    hit_people = {_who(walk_scene, ended[h.track_id], started[h.track_id]): h for h in hits}
    assert len(hits) == len(hit_people), "at most one hit per track"
    assert set(hit_people) == cast.listed
    for person, hit in hit_people.items():
        assert watchlist_people[hit.entry_id] == person
        assert hit.score >= 0.930103
        assert hit.best.template.model_id == "dlib-resnet-v1"
        assert hit.best.crop.ndim == 3 and hit.best.crop.size > 0
        assert hit.latency_s <= 1.0
        assert ended[hit.track_id].matched and ended[hit.track_id].best is hit.best
    for track in ended.values():
        if not track.matched:
            assert track.best is None, "nothing of a face that did not match is handed on"


def test_faces_are_counted_per_hour(walk_events: list[object]) -> None:
    counts = [e for e in walk_events if isinstance(e, FacesCounted)]
    assert len(counts) in (1, 2)  # the run may straddle a clock hour
    assert sum(c.faces for c in counts) == 3
    assert isinstance(walk_events[-1], FacesCounted)


def test_nothing_is_written_anywhere(
    pipeline: FacePipeline, watchlist: Watchlist, walk_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run in an empty working directory with an empty temp directory: both stay empty."""
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    video_before = walk_video.stat()
    events = _run(pipeline, watchlist, walk_video)
    assert any(isinstance(e, Hit) for e in events)
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []
    assert sorted(os.listdir(walk_video.parent)) == ["walk.mp4"]
    assert walk_video.stat().st_mtime == video_before.st_mtime


def test_watchlist_refuses_other_models_and_bad_input(watchlist: Watchlist) -> None:
    vec = np.zeros(128, dtype=np.float32)
    vec[0] = 1
    with pytest.raises(ModelMismatch):
        watchlist.match(Template(vec, "sface"))
    with pytest.raises(ModelMismatch):
        Watchlist([1, 2], [Template(vec, "a"), Template(vec, "b")], 0.9)
    with pytest.raises(InvalidInput):
        Watchlist([1, 1], [Template(vec, "a"), Template(vec, "a")], 0.9)
    with pytest.raises(InvalidInput):
        WatchOptions(detect_every=0)


def test_watchlist_matches_at_its_threshold() -> None:
    a, b = np.eye(2, 128, dtype=np.float32)
    mixed = (a * 0.95 + b * np.sqrt(1 - 0.95**2)).astype(np.float32)
    wl = Watchlist([7, 9], [Template(a, "m"), Template(b, "m")], threshold=0.94)
    assert [(m.entry_id, round(m.score, 3)) for m in wl.match(Template(mixed, "m"))] == [(7, 0.95)]
    assert wl.match(Template(mixed, "m"), threshold=0.96) == []
    assert Watchlist([], [], 0.9).match(Template(mixed, "m")) == []


def test_a_person_seen_twice_gives_a_repeat_hit(
    pipeline: FacePipeline, watchlist: Watchlist, cast: scenes.Cast, tmp_path: Path
) -> None:
    """Two crossings 1.5 s apart are two tracks; the second hit names the first (merge)."""
    person = sorted(cast.listed)[0]
    photo = cast.video_photo[person]
    there = scenes.Appearance(person, photo, 0.3, 3.3, (-70, 180), (710, 180), 160)
    back = scenes.Appearance(person, photo, 4.8, 7.8, (710, 170), (-70, 190), 160)
    scene = scenes.Scene(640, 360, 25, 8.0, (there, back), seed=5, name="twice")
    events = _run(pipeline, watchlist, scenes.render(scene, tmp_path / "twice.mp4"))
    hits = [e for e in events if isinstance(e, Hit)]
    assert len({e.track_id for e in events if isinstance(e, TrackStarted)}) == 2
    assert [h.repeat_of for h in hits] == [None, hits[0].hit_id]
    assert hits[0].entry_id == hits[1].entry_id and hits[0].track_id != hits[1].track_id
