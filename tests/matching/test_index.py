"""The vector index layer: exact and HNSW kinds, their semantics and their file format."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from facedocket.matching.exact import ExactIndex
from facedocket.matching.hnsw import HnswIndex
from facedocket.matching.index import (
    FORMAT_VERSION,
    MAGIC,
    Generation,
    IndexCorrupt,
    VectorIndex,
    choose_kind,
    content_checksum,
    create_index,
    index_checksum,
    load_index,
    rebuild,
    save_index,
    sweep_tmp,
    tmp_prefix,
)

DIM = 128
KINDS = ["exact", "hnsw"]


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_templates(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return _normalise(rng.standard_normal((n, DIM)))


def clustered(identities: int, per_identity: int, probes: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    """Identity centres uniform on the sphere, noisy templates around them (same-person
    cosine about 0.83), and probes near a centre. Returns templates, labels, probes,
    probe labels."""
    rng = np.random.default_rng(seed)
    centres = _normalise(rng.standard_normal((identities, DIM)))
    labels = np.repeat(np.arange(identities), per_identity)
    noise = 0.45 / np.sqrt(DIM)
    templates = _normalise(centres[labels] + noise * rng.standard_normal((len(labels), DIM)))
    probe_labels = rng.choice(identities, probes, replace=False)
    probe = _normalise(centres[probe_labels] + noise * rng.standard_normal((probes, DIM)))
    return templates, labels, probe, probe_labels


# Small HNSW indexes search their graph (exact_below=0) and build it faster than the
# default efConstruction would; the recall test uses the defaults.
SMALL_HNSW = {"exact_below": 0, "ef_construction": 64}


def make_index(kind: str, **options: object) -> VectorIndex:
    """An index of ``kind``; a small HNSW one gets ``SMALL_HNSW``."""
    if kind == "hnsw":
        options = {**SMALL_HNSW, **options}
    return create_index(kind, DIM, **options)


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray]:
    vectors = random_templates(3000)
    ids = np.arange(3000, dtype=np.int64) * 7 + 1
    return ids, vectors


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, ...]:
    return clustered(identities=4000, per_identity=5, probes=200)


@pytest.fixture(scope="module")
def face_indexes(faces: tuple[np.ndarray, ...]) -> tuple[VectorIndex, VectorIndex]:
    templates = faces[0]
    ids = np.arange(len(templates), dtype=np.int64)
    return rebuild("exact", ids, templates), rebuild("hnsw", ids, templates)


# --- exact search -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_exact_search_equals_brute_force(small: tuple[np.ndarray, np.ndarray], backend: str) -> None:
    ids, vectors = small
    index = ExactIndex(DIM, backend=backend)
    index.add(ids, vectors)
    queries = random_templates(25, seed=5)
    scores, found = index.search(queries, k=10)
    brute = queries @ vectors.T
    order = np.argsort(-brute, axis=1)[:, :10]
    assert found.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(found, ids[order])
    np.testing.assert_allclose(scores, np.take_along_axis(brute, order, axis=1), atol=1e-5)


def test_exact_growth_keeps_rows_after_many_single_adds() -> None:
    index = ExactIndex(DIM)
    vectors = random_templates(3000, seed=2)
    for i, vector in enumerate(vectors):
        index.add(np.array([i]), vector[None, :])
    assert len(index) == 3000
    np.testing.assert_array_equal(index.vectors_for([0, 1234, 2999]), vectors[[0, 1234, 2999]])
    assert index.remove(np.arange(0, 3000, 2)) == 1500
    np.testing.assert_array_equal(index.ids(), np.arange(1, 3000, 2))
    np.testing.assert_array_equal(index.vectors_for([1, 2999]), vectors[[1, 2999]])


# --- add / replace / remove, both kinds ---------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_add_replaces_a_present_id(kind: str, small: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = small
    index = make_index(kind)
    index.add(ids, vectors)
    fresh = random_templates(1, seed=9)
    index.add(ids[[10]], fresh)
    assert len(index) == len(ids)
    np.testing.assert_array_equal(index.vectors_for([ids[10]]), fresh)
    scores, found = index.search(fresh, k=3)
    assert found[0, 0] == ids[10] and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    _, old = index.search(vectors[[10]], k=1)
    assert old[0, 0] != ids[10]


@pytest.mark.parametrize("kind", KINDS)
def test_duplicate_ids_in_one_batch_keep_the_last(kind: str) -> None:
    index = make_index(kind)
    vectors = random_templates(3)
    index.add(np.array([5, 6, 5]), vectors)
    assert len(index) == 2
    np.testing.assert_array_equal(index.vectors_for([5, 6]), vectors[[2, 1]])


@pytest.mark.parametrize("kind", KINDS)
def test_remove_counts_present_ids_and_hides_them(kind: str, small: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = small
    index = make_index(kind)
    index.add(ids, vectors)
    gone = ids[:100]
    assert index.remove([*gone.tolist(), 999_999, int(gone[0])]) == 100
    assert index.remove(gone) == 0
    assert len(index) == len(ids) - 100
    np.testing.assert_array_equal(index.ids(), np.sort(ids[100:]))
    _, found = index.search(vectors[:100], k=10)
    assert not np.isin(found, gone).any()
    with pytest.raises(KeyError):
        index.vectors_for([int(gone[0])])


def test_hnsw_compacts_when_tombstones_pass_the_ratio(small: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = small
    index = HnswIndex(DIM, **SMALL_HNSW)
    index.add(ids, vectors)
    index.remove(ids[:500])
    assert index.dead_slots == 500
    index.remove(ids[500:700])
    assert index.dead_slots == 0 and len(index) == len(ids) - 700
    _, found = index.search(vectors[700:720], k=1)
    np.testing.assert_array_equal(found[:, 0], ids[700:720])


def test_hnsw_removal_of_most_ids_still_finds_the_rest(small: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = small
    index = HnswIndex(DIM, rebuild_ratio=1.0, **SMALL_HNSW)
    index.add(ids, vectors)
    index.remove(ids[5:])
    scores, found = index.search(vectors[:2], k=10)
    assert sorted(found[0, :5].tolist()) == sorted(ids[:5].tolist())
    assert (found[:, 5:] == -1).all() and np.isneginf(scores[:, 5:]).all()


# --- recall -------------------------------------------------------------------------------


def test_hnsw_recall_at_10_on_clustered_templates(
    faces: tuple[np.ndarray, ...], face_indexes: tuple[VectorIndex, VectorIndex]
) -> None:
    _, labels, probes, probe_labels = faces
    exact, approx = face_indexes
    _, truth = exact.search(probes, k=10)
    scores, found = approx.search(probes, k=10)
    recall = np.mean([len(np.intersect1d(a, e)) / 10 for a, e in zip(found, truth, strict=True)])
    assert recall >= 0.99
    assert (labels[found[:, 0]] == probe_labels).mean() >= 0.99
    assert (np.diff(scores, axis=1) <= 0).all()


# --- padding ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_empty_index_returns_padding(kind: str) -> None:
    scores, found = make_index(kind).search(random_templates(2), k=4)
    assert scores.shape == found.shape == (2, 4)
    assert np.isneginf(scores).all() and (found == -1).all()


@pytest.mark.parametrize("kind", KINDS)
def test_k_larger_than_count_pads_the_tail(kind: str) -> None:
    index = make_index(kind)
    vectors = random_templates(3)
    index.add(np.array([1, 2, 3]), vectors)
    scores, found = index.search(vectors[:1], k=5)
    assert found[0, 0] == 1 and sorted(found[0, :3].tolist()) == [1, 2, 3]
    assert (found[0, 3:] == -1).all() and np.isneginf(scores[0, 3:]).all()
    assert (np.diff(scores[0, :3]) <= 0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_is_refused(kind: str) -> None:
    index = make_index(kind)
    with pytest.raises(ValueError):
        index.add(np.array([1]), np.zeros((1, DIM - 1), np.float32))
    with pytest.raises(ValueError):
        index.add(np.array([1, 2]), random_templates(1))
    with pytest.raises(ValueError):
        index.search(random_templates(1), k=0)


# --- persistence --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind: str, small: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    ids, vectors = small
    index = make_index(kind)
    index.add(ids, vectors)
    index.remove(ids[:50])
    path = tmp_path / "gallery.fdindex"
    index.save(path, generation=42)
    loaded, generation = load_index(path)
    assert generation == 42 and loaded.kind == kind and len(loaded) == len(index)
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    queries = random_templates(20, seed=3)
    for a, b in zip(index.search(queries, 10), loaded.search(queries, 10), strict=True):
        np.testing.assert_array_equal(a, b)
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("kind", KINDS)
def test_empty_index_round_trips(kind: str, tmp_path: Path) -> None:
    index = make_index(kind)
    index.add(np.array([1]), random_templates(1))
    index.remove([1])
    index.save(tmp_path / "empty.fdindex", generation=3)
    loaded, generation = load_index(tmp_path / "empty.fdindex")
    assert generation == 3 and len(loaded) == 0 and loaded.ids().size == 0
    assert (loaded.search(random_templates(1), k=2)[1] == -1).all()


def test_save_replaces_the_file_atomically(small: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    ids, vectors = small
    path = tmp_path / "gallery.fdindex"
    rebuild("exact", ids, vectors).save(path, generation=1)
    rebuild("exact", ids[:10], vectors[:10]).save(path, generation=2)
    loaded, generation = load_index(path)
    assert generation == 2 and len(loaded) == 10
    assert list(tmp_path.iterdir()) == [path]


@pytest.fixture
def saved(tmp_path: Path, small: tuple[np.ndarray, np.ndarray]) -> Path:
    ids, vectors = small
    path = tmp_path / "gallery.fdindex"
    rebuild("exact", ids[:200], vectors[:200]).save(path, generation=7)
    return path


def _rewrite(path: Path, offset: int, new: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(new)] = new
    path.write_bytes(bytes(data))


def test_missing_file_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(IndexCorrupt, match="rebuild"):
        load_index(tmp_path / "nothing.fdindex")


@pytest.mark.parametrize("keep", [0, 40, 100, 5000])
def test_truncated_file_is_corrupt(saved: Path, keep: int) -> None:
    saved.write_bytes(saved.read_bytes()[:keep])
    with pytest.raises(IndexCorrupt):
        load_index(saved)


@pytest.mark.parametrize("where", ["payload", "generation"])
def test_flipped_byte_is_corrupt(saved: Path, where: str) -> None:
    offset = saved.stat().st_size - 10 if where == "payload" else 8 + 4 + 16 + 4 + 8
    byte = saved.read_bytes()[offset]
    _rewrite(saved, offset, bytes([byte ^ 0x01]))
    with pytest.raises(IndexCorrupt, match="checksum"):
        load_index(saved)


def test_wrong_magic_is_corrupt(saved: Path) -> None:
    _rewrite(saved, 0, b"NOTANIDX")
    with pytest.raises(IndexCorrupt, match="magic"):
        load_index(saved)


def test_other_format_version_is_corrupt(saved: Path) -> None:
    _rewrite(saved, len(MAGIC), struct.pack("<I", FORMAT_VERSION + 1))
    with pytest.raises(IndexCorrupt, match="version"):
        load_index(saved)


# --- rebuild ------------------------------------------------------------------------------


def test_rebuild_equals_incremental_adds_exact(small: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = small
    incremental = create_index("exact")
    for start in range(0, len(ids), 250):
        incremental.add(ids[start : start + 250], vectors[start : start + 250])
    built = rebuild("exact", ids, vectors)
    queries = random_templates(30, seed=4)
    for a, b in zip(incremental.search(queries, 10), built.search(queries, 10), strict=True):
        np.testing.assert_array_equal(a, b)


def test_rebuild_equals_incremental_adds_hnsw(small: tuple[np.ndarray, np.ndarray]) -> None:
    ids, vectors = small
    incremental = make_index("hnsw")
    for start in range(0, len(ids), 500):
        incremental.add(ids[start : start + 500], vectors[start : start + 500])
    built = rebuild("hnsw", ids, vectors, **SMALL_HNSW)
    np.testing.assert_array_equal(incremental.ids(), built.ids())
    np.testing.assert_array_equal(incremental.vectors_for(ids[::97]), built.vectors_for(ids[::97]))
    _, a = incremental.search(vectors[:50], 1)
    _, b = built.search(vectors[:50], 1)
    np.testing.assert_array_equal(a, b)


def test_choose_kind_and_create_index() -> None:
    assert choose_kind(49_999) == "exact" and choose_kind(50_000) == "hnsw"
    assert choose_kind(10, threshold=5) == "hnsw"
    assert isinstance(create_index("hnsw", 16), HnswIndex)
    assert isinstance(rebuild("auto", [1], random_templates(1)), ExactIndex)
    with pytest.raises(ValueError, match="unknown index kind"):
        create_index("ivf")


def test_an_hnsw_file_of_the_float32_format_is_rebuilt_not_read(
    small: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    """Files written before the 8-bit graph (no ``format`` in their metadata) are refused
    as corrupt, which makes the service rebuild them from the database."""
    from facedocket.matching.index import write_index_file

    ids, vectors = small
    index = rebuild("hnsw", ids[:300], vectors[:300], exact_below=0, ef_construction=64)
    path = tmp_path / "old.fdindex"
    meta = {"options": {"m": index.m}, "slots": len(ids[:300])}  # type: ignore[attr-defined]
    write_index_file(path, kind="hnsw", dim=DIM, count=300, generation=3, meta=meta, body=[ids[:300], b"graph"])
    with pytest.raises(IndexCorrupt, match="older format"):
        load_index(path)


# --- content checksum, epoch and temporary files -------------------------------------------


def test_content_checksum_names_the_templates_not_their_order() -> None:
    vectors = random_templates(50)
    ids = np.arange(100, 150)
    base = content_checksum(ids, vectors)
    shuffled = np.random.default_rng(3).permutation(50)
    assert content_checksum(ids[shuffled], vectors[shuffled]) == base
    other_vector = vectors.copy()
    other_vector[7, 3] = np.nextafter(other_vector[7, 3], 2)  # one float, one step
    assert content_checksum(ids, other_vector) != base
    swapped = ids.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # the same ids and vectors, paired differently
    assert content_checksum(swapped, vectors) != base
    assert len(base) == 64 and content_checksum([], np.zeros((0, DIM), np.float32)) != base


@pytest.mark.parametrize("kind", KINDS)
def test_file_names_the_epoch_and_the_content_checksum(
    kind: str, small: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    ids, vectors = small
    index = make_index(kind)
    index.add(ids, vectors)
    index.remove(ids[:40])
    written = save_index(index, tmp_path / "g.fdindex", 9, epoch="5e" * 16)
    loaded, stamp = load_index(tmp_path / "g.fdindex")
    assert isinstance(stamp, Generation) and stamp == 9 and stamp.epoch == "5e" * 16
    assert stamp.checksum == written.checksum == content_checksum(ids[40:], vectors[40:])
    assert index_checksum(loaded) == stamp.checksum
    index.save(tmp_path / "plain.fdindex", generation=9)  # a plain int: nothing named
    _, plain = load_index(tmp_path / "plain.fdindex")
    assert (plain, plain.epoch, plain.checksum) == (9, "", "")


def test_generation_compares_states() -> None:
    a = Generation(4, epoch="aa" * 16)
    assert a == 4 and a.same_state(Generation(4, epoch="aa" * 16)) and a.same_state(4)
    assert not a.same_state(Generation(4, epoch="bb" * 16)) and not a.same_state(5)


def test_a_file_of_format_1_is_rebuilt_not_read(saved: Path) -> None:
    _rewrite(saved, len(MAGIC), struct.pack("<I", 1))
    with pytest.raises(IndexCorrupt, match="version 1"):
        load_index(saved)


def test_temporary_files_are_0600_and_held_while_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: tuple[np.ndarray, np.ndarray]
) -> None:
    seen: list[tuple[int, bool, list[Path]]] = []
    real_fsync = os.fsync

    def look(fd: int) -> None:  # called while the temporary file is written, before it is moved
        tmp = next(tmp_path.glob(".gallery-1.fdindex.*.tmp"), None)
        if tmp is None:  # the folder's fsync, after the move
            return real_fsync(fd)
        other = os.open(tmp, os.O_RDONLY)
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = False
        except BlockingIOError:
            locked = True
        finally:
            os.close(other)
        seen.append((tmp.stat().st_mode & 0o777, locked, sweep_tmp(tmp_path)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", look)
    rebuild("exact", *small).save(tmp_path / "gallery-1.fdindex", 1)
    assert seen == [(0o600, True, [])]  # private, locked, and left alone by a sweep
    assert (tmp_path / "gallery-1.fdindex").stat().st_mode & 0o777 == 0o600
    assert list(tmp_path.glob("*.tmp")) == []


_KILLED_WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from pathlib import Path
    from facedocket.matching.index import rebuild
    os.replace = lambda *a: os._exit(9)  # killed after writing, before moving into place
    v = np.eye(128, dtype=np.float32)[:5]
    rebuild("exact", [1, 2, 3, 4, 5], v).save(Path(sys.argv[1]), 3)
    """
)


def test_a_killed_writers_temporary_file_is_swept(tmp_path: Path) -> None:
    target = tmp_path / "gallery-7.fdindex"
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target)], check=False)
    assert done.returncode == 9
    orphans = list(tmp_path.glob(".gallery-7.fdindex.*.tmp"))
    assert len(orphans) == 1 and np.eye(128, dtype=np.float32)[2].tobytes() in orphans[0].read_bytes()
    other = tmp_path / ".gallery-70.fdindex.abc.tmp"
    other.write_bytes(b"another gallery's")
    assert sweep_tmp(tmp_path, tmp_prefix(target)) == orphans  # only gallery 7's
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name]
