"""The evaluation protocol on small synthetic template sets with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from facedocket.errors import InvalidInput
from facedocket.oversight import evaluation as ev


def _extracted(labels: list[str], vectors: list[list[float]], found: list[bool] | None = None) -> ev.Extracted:
    t = np.array(vectors, dtype=np.float32)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    ok = np.array(found if found is not None else [True] * len(labels))
    return ev.Extracted([Path(f"{i}.jpg") for i in range(len(labels))], labels, t, ok, np.ones(len(labels)), 2.0)


def test_list_identities_natural_order_and_limit(tmp_path: Path) -> None:
    for person in ("b", "a", "c"):
        (tmp_path / person).mkdir()
        for name in ("10.jpg", "2.jpg", "notes.txt"):
            (tmp_path / person / name).write_bytes(b"x")
    found = ev.list_identities(tmp_path, max_identities=2)
    assert list(found) == ["a", "b"]
    assert [p.name for p in found["a"]] == ["2.jpg", "10.jpg"]
    with pytest.raises(InvalidInput):
        ev.list_identities(tmp_path / "a" / "2.jpg")


def test_pairs() -> None:
    labels = ["a", "a", "a", "b", "c", "c"]
    ga, gb = ev.genuine_pairs(labels)
    assert sorted(zip(ga.tolist(), gb.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2), (4, 5)]
    ia, _ib = ev.impostor_pairs(labels, limit=1000, seed=0)
    assert len(ia) == 15 - 4  # all pairs minus genuine ones
    sa, sb = ev.impostor_pairs(labels, limit=5, seed=3)
    again = ev.impostor_pairs(labels, limit=5, seed=3)
    assert len(sa) == 5 and np.array_equal(sa, again[0]) and np.array_equal(sb, again[1])
    assert all(labels[i] != labels[j] for i, j in zip(sa, sb, strict=True))


def test_split_is_deterministic_halves() -> None:
    names = [f"p{i}" for i in range(11)]
    enrolled, other = ev.split_identities(names, seed=0)
    assert len(enrolled) == 5 and len(other) == 6 and not set(enrolled) & set(other)
    assert ev.split_identities(list(reversed(names)), seed=0) == (enrolled, other)


def test_detection_failure_fails_its_genuine_pairs() -> None:
    # Two identities, well separated; one photo of "a" had no face.
    ex = _extracted(
        ["a", "a", "a", "b", "b"],
        [[1, 0.01, 0], [1, 0.02, 0], [1, 0, 0.01], [0, 1, 0], [0.01, 1, 0]],
        found=[True, True, False, True, True],
    )
    result = ev.evaluate(ex, max_impostor_pairs=100)
    assert result["detection_failures"] == 1
    ver = result["verification"]
    assert isinstance(ver, dict)
    assert ver["genuine_pairs"] == 4
    # 2 of a's 3 genuine pairs include the failed photo: FNMR 2/4 at any threshold.
    assert ver["fnmr_at_fmr"]["0.01"] == pytest.approx(0.5)
    assert result["images_per_second"] == pytest.approx(2.5)


def test_identification_rank1_and_thresholds() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 16))
    labels, vectors = [], []
    for i, c in enumerate(centres):
        for _ in range(3):
            labels.append(f"p{i}")
            vectors.append((c + 0.05 * rng.normal(size=16)).tolist())
    result = ev.evaluate(_extracted(labels, vectors), max_impostor_pairs=1000)
    ident = result["identification"]
    assert isinstance(ident, dict)
    assert ident["enrolled"] == 4 and ident["mated_searches"] == 8 and ident["nonmated_searches"] == 12
    assert ident["rank1"] == 1.0
    ver = result["verification"]
    assert isinstance(ver, dict)
    assert ver["eer"] == 0.0


def test_thresholds_round_up_never_down() -> None:
    assert ev._round_up(0.1234561) == pytest.approx(0.123457)
    assert ev._round_up(0.123456) == pytest.approx(0.123456)
    assert ev._round_up(-math.inf) == -math.inf
