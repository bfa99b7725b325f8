"""Nothing is kept of the faces that do not match (issue 14): a video of three people who are
not on the watchlist runs through a deployment, and then the database (every row of every
table), the data directory and the temporary directory (every byte of every file) are
searched for anything derived from their faces:

* by template similarity: every 128 float32 values in a row anywhere in those files (at any
  byte offset) are compared with the people's templates;
* by image hash: every SHA-256-like text in the database that was not there before the run
  must be an audit chain hash;
* by file count: the data directory holds the same files before and after (the database's
  own), and the temporary and working directories stay empty.

Only counts remain: faces seen per deployment and hour (the watchlist's entries keep their
own photos, encrypted, from before the run; no file is added). The search is shown to work: once one
of the people is enrolled on purpose, it finds them by similarity and by hash.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import scenes
from conftest import enrol
from numpy.lib.stride_tricks import sliding_window_view
from shop import Shop, open_shop, stock
from sqlalchemy import select

from facedocket.service import EnrolItem
from facedocket.store.tables import Alert, Base, FaceCount, StoredImage
from facedocket.vision.models import WATCHLIST_MODEL_ID, default_threshold
from facedocket.vision.pipeline import FacePipeline

DIM = 128
SIMILAR = default_threshold()
"""A stored vector this close to a person's template would match them (the FMR 1e-3 threshold;
the same person's photo and video frames score about 0.95). Templates of other people, such
as the watchlist's, score below it."""
HASH = re.compile(r"\b[0-9a-f]{64}\b")
CHAIN_COLUMNS = {("audit_event", "hash"), ("audit_event", "prev_hash"), ("audit_head", "hash")}


def best_similarity(data: bytes, targets: np.ndarray) -> float:
    """The highest cosine similarity between any of ``targets`` (unit rows) and any run of
    128 float32 values in ``data`` whose norm is about 1 (a template), at any byte offset."""
    best = -1.0
    for offset in range(4):
        usable = (len(data) - offset) // 4 * 4
        if usable < DIM * 4:
            continue
        with np.errstate(all="ignore"):
            values = np.frombuffer(data, dtype="<f4", count=usable // 4, offset=offset).astype(np.float64)
            values[~np.isfinite(values) | (np.abs(values) > 1)] = 10.0  # such a run is no template
        energy = np.concatenate([[0.0], np.cumsum(values * values)])
        norms = energy[DIM:] - energy[:-DIM]
        starts = np.nonzero(np.abs(norms - 1.0) < 0.02)[0]
        if starts.size:
            windows = sliding_window_view(values, DIM)[starts]
            best = max(best, float((windows @ targets.T).max()))
    return best


def files_under(*roots: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


def database_texts(shop: Shop) -> list[tuple[str, str, str]]:
    """(table, column, text) of every value of every row (bytes excluded, JSON as text)."""
    found = []
    with shop.service.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                for column, value in row.items():
                    if value is not None and not isinstance(value, (bytes, memoryview)):
                        text = value if isinstance(value, str) else json.dumps(value, default=str)
                        found.append((table.name, column, text))
    return found


def new_hashes(shop: Shop, before: set[str]) -> set[str]:
    """SHA-256-like texts in the database that were not there ``before``, but chain hashes."""
    hashes = {h for table, column, text in database_texts(shop) if (table, column) not in CHAIN_COLUMNS
              for h in HASH.findall(text)}  # fmt: skip
    return hashes - before


@pytest.fixture
def strangers(dev_dir: Path, cast: scenes.Cast) -> list[str]:
    """Three development people who are neither in the cast nor on the watchlist."""
    people = [p for p in scenes.people_with_photos(dev_dir, 1) if p not in cast.video_photo]
    return people[101::173][:3]


def test_nothing_of_non_matching_people_is_kept(
    tmp_path: Path,
    pipeline: FacePipeline,
    cast: scenes.Cast,
    dev_dir: Path,
    strangers: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photos = {p: dev_dir / p / "1.jpg" for p in strangers}
    walks = (
        scenes.Appearance(strangers[0], photos[strangers[0]], 0.2, 4.2, (-70, 110), (710, 120), 150),
        scenes.Appearance(strangers[1], photos[strangers[1]], 0.8, 5.0, (710, 250), (-70, 240), 140, blur=1.0),
        scenes.Appearance(strangers[2], photos[strangers[2]], 2.0, 6.0, (-70, 250), (710, 250), 130),
    )
    video = scenes.render(scenes.Scene(640, 360, 25, 6.5, walks, seed=9, name="strangers"), tmp_path / "v.mp4")
    targets = np.stack([enrol(pipeline, photos[p]).vector for p in strangers]).astype(np.float64)

    home, temp, work = tmp_path / "home", tmp_path / "tmp", tmp_path / "cwd"
    for folder in (temp, work):
        folder.mkdir()
    monkeypatch.chdir(work)
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    shop = stock(open_shop(home, pipeline), cast)
    deployment = shop.deployment("entrance", video)
    files_before = files_under(home)
    hashes_before = {h for _t, _c, text in database_texts(shop) for h in HASH.findall(text)}
    with shop.service.sessions() as session:  # the entries' own photos, kept for the people who check alerts
        images_before = session.scalars(select(StoredImage.id)).all()
    assert images_before, "the watchlist keeps its entries' photos"

    summary = shop.service.watching.watch(shop.examiner, deployment.id)
    assert summary.faces == 3 and summary.alerts == [] and summary.frames > 150

    # only counts: faces seen per deployment and hour; no alert, no new image
    with shop.service.sessions() as session:
        assert sum(session.scalars(select(FaceCount.faces))) == 3
        assert session.scalars(select(Alert)).all() == []
        assert session.scalars(select(StoredImage.id)).all() == images_before
    # by file count: the same files in the data directory; nothing in temp or the working directory
    database = {str(home / f"facedocket.db{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}
    assert set(files_under(home)) - database == set(files_before) - database, "no file but the database's"
    assert files_under(temp, work) == {}
    # by template similarity: in every byte of every file of the data and temporary directories
    for path in files_under(home, temp):
        assert best_similarity(Path(path).read_bytes(), targets) < SIMILAR, path
    # by image hash: nothing new but the audit chain's own hashes
    assert new_hashes(shop, hashes_before) == set()

    # the search finds a derivative when there is one: enrol one of the people on purpose
    # (in a gallery of the targets' model, the watchlists': new galleries' own model is another)
    gallery = shop.service.galleries.create_gallery(
        shop.admin, "control", "test", "control", model_id=WATCHLIST_MODEL_ID
    )
    report = shop.service.enrolment.enroll(shop.admin, gallery.id, [EnrolItem(strangers[0], str(photos[strangers[0]]))])
    assert report.counts["enrolled"] == 1
    found = max(best_similarity(Path(p).read_bytes(), targets[:1]) for p in files_under(home))
    assert found > 0.99
    assert new_hashes(shop, hashes_before) >= {report.outcomes[0].sha256}
