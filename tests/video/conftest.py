"""Fixtures for the video tests: a cast from the development photos, composed videos with
their ground truth, and a watchlist made from the listed people's *other* photo."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import scenes
from streams import TsServer

from facedocket.types import Template
from facedocket.video.watchlist import Watchlist
from facedocket.vision.models import default_threshold
from facedocket.vision.pipeline import FacePipeline

# Three people, chosen once by seed from the dev identities with two or more photos; two
# are on the watchlist, one is not.
CAST_SEED = 14


@pytest.fixture(scope="session")
def cast(dev_dir: Path) -> scenes.Cast:
    return scenes.pick_cast(dev_dir, 3, listed_share=2 / 3, seed=CAST_SEED)


def enrol(pipeline: FacePipeline, photo: Path) -> Template:
    """The template of the largest face in ``photo`` (the subject of a portrait)."""
    found = pipeline.analyse(pipeline.load(photo))
    return max(found, key=lambda f: f.face.box.area).template


@pytest.fixture(scope="session")
def watchlist_people(cast: scenes.Cast, dev_dir: Path) -> list[str]:
    """Entry i of the test watchlist is this person: the listed cast, then 20 other dev
    people who never appear in a video."""
    others = [p for p in scenes.people_with_photos(dev_dir, 1) if p not in cast.video_photo][::30][:20]
    return sorted(cast.listed) + others


@pytest.fixture(scope="session")
def watchlist(pipeline: FacePipeline, cast: scenes.Cast, dev_dir: Path, watchlist_people: list[str]) -> Watchlist:
    photos = [cast.enrol_photo.get(p, dev_dir / p / "1.jpg") for p in watchlist_people]
    templates = [enrol(pipeline, photo) for photo in photos]
    return Watchlist(list(range(len(templates))), templates, default_threshold())


@pytest.fixture(scope="session")
def walk_scene(cast: scenes.Cast) -> scenes.Scene:
    """960x540, 25 fps, 9 s: a listed person crosses left to right (0.4-5.4 s); an unlisted
    person, blurred, crosses right to left meanwhile (1.0-6.5 s); the second listed person,
    smaller and blurred, walks in from the left and stops short of the right edge (4.0-9.0 s,
    still in view at the end)."""
    first, second = sorted(cast.listed)
    other = next(p for p in cast.video_photo if p not in cast.listed)
    a = scenes.Appearance(first, cast.video_photo[first], 0.4, 5.4, (-80, 150), (1040, 170), 180)
    b = scenes.Appearance(other, cast.video_photo[other], 1.0, 6.5, (1040, 390), (-80, 380), 170, blur=1.5)
    c = scenes.Appearance(second, cast.video_photo[second], 4.0, 9.01, (-70, 300), (700, 280), 140, blur=1.0)
    return scenes.Scene(960, 540, 25, 9.0, (a, b, c), seed=3, name="walk")


@pytest.fixture(scope="session")
def walk_video(walk_scene: scenes.Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scenes.render(walk_scene, tmp_path_factory.mktemp("video") / "walk.mp4")


@pytest.fixture
def ts_server(walk_scene: scenes.Scene, tmp_path: Path) -> Iterator[TsServer]:
    """A live camera: the walk scene as MPEG-TS over HTTP from 127.0.0.1, cut after two
    fifths on the first connection (tests/video/streams.py)."""
    path = scenes.render(walk_scene, tmp_path / "walk.ts", codec="mpeg2video", gop=12)
    data = path.read_bytes()
    server = TsServer(data, cut=len(data) * 2 // 5 // 188 * 188)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
