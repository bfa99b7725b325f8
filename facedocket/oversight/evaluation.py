"""Accuracy evaluation on a labelled folder-per-identity data set.

Protocol (the same for FaceDocket and for any other template extractor, so the figures
compare):

* identities are the sub-folders of ``DATA_DIR`` in sorted order (``max_identities`` takes
  the first N); an identity's photos are its image files in natural order (2.jpg before
  10.jpg);
* each photo gives one template, from its largest face; a photo with no face found is a
  *detection failure* and fails every comparison it is in (score ``-inf``);
* verification: every genuine pair (two photos of one identity), and every impostor pair
  (photos of two identities) or, where there are more, a deterministic sample of
  ``max_impostor_pairs`` drawn with ``seed``; FNMR at FMR 1e-2, 1e-3, 1e-4 and the EER;
  an ``fmr_table`` gives the threshold of each FMR from 1e-1 down to 1e-5 that the impostor
  pairs can measure (an FMR below ``1 / impostor_pairs`` cannot be, and is left out);
* identification: a deterministic half of the identities (sorted names shuffled with
  ``seed``) is enrolled by its first photo; their other photos are mated searches, and
  every photo of the other half is a non-mated search; rank-1 hit rate and FNIR at
  FPIR 1e-2 (a mate is returned when it is within the top ``max_rank`` candidates and at
  or above the threshold);
* quality: genuine pairs are split by the lower quality score of their two faces, and the
  FNMR at the FMR-1e-3 threshold is reported per band, with the rank correlation between
  quality and failure;
* the data set's fingerprint is the SHA-256 of the lines ``<file sha256>  <relative path>``
  of every photo used, sorted by relative path (see :func:`fingerprint`).

Per-group (demographic) figures are computed from the same templates by
:mod:`facedocket.oversight.demographics`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facedocket.errors import InvalidInput
from facedocket.matching import metrics
from facedocket.vision.models import Calibration
from facedocket.vision.pipeline import FacePipeline

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
FMR_TARGETS = (0.01, 0.001, 0.0001)
FPIR_TARGETS = (0.01,)
FMR_TABLE_RATES = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5)
QUALITY_BANDS = (0.0, 0.25, 0.5, 0.75, 1.0001)


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def list_identities(data_dir: str | Path, max_identities: int | None = None) -> dict[str, list[Path]]:
    """Identity name -> its photo paths, per the protocol's ordering rules."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder; give a folder with one sub-folder per identity")
    identities: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if photos:
            identities[folder.name] = sorted(photos, key=lambda p: _natural_key(p.name))
        if max_identities is not None and len(identities) >= max_identities:
            break
    if not identities:
        raise InvalidInput(f"{root} has no identity folders with photos in them")
    return identities


@dataclass
class Extracted:
    """Templates for a data set: one row per photo, ``found`` False where no face was found."""

    paths: list[Path]
    labels: list[str]
    templates: npt.NDArray[np.float32]
    found: npt.NDArray[np.bool_]
    quality: npt.NDArray[np.float64]
    seconds: float
    extra: dict[str, object] = field(default_factory=dict)


def fingerprint(data_dir: str | Path, paths: Sequence[Path]) -> dict[str, object]:
    """SHA-256 over the sorted lines ``<file sha256>  <path relative to data_dir>`` of ``paths``.

    The same files under another root give the same fingerprint; any changed, added,
    removed or renamed photo changes it.
    """
    root = Path(data_dir)
    lines = []
    for path in paths:
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
        lines.append((rel, hashlib.sha256(path.read_bytes()).hexdigest()))
    digest = hashlib.sha256()
    for rel, sha in sorted(lines):
        digest.update(f"{sha}  {rel}\n".encode())
    return {
        "sha256": digest.hexdigest(),
        "files": len(lines),
        "method": "sha256 of the lines '<file sha256>  <relative path>\\n', sorted by relative path",
    }


def _pair_scores(t: npt.NDArray[np.float32], ok: npt.NDArray[np.bool_], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    scores: np.ndarray = np.einsum("ij,ij->i", t[a], t[b]).astype(np.float64)
    scores[~(ok[a] & ok[b])] = -np.inf
    return scores


def genuine_pairs(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) of photos with the same label."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(labels):
        groups.setdefault(name, []).append(i)
    a, b = [], []
    for members in groups.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a.append(members[x])
                b.append(members[y])
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)


def impostor_pairs(labels: Sequence[str], limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i < j) with different labels, or a seeded sample of ``limit`` of them."""
    lab = np.unique(np.asarray(labels), return_inverse=True)[1]
    n = len(labels)
    i_all, j_all = np.triu_indices(n, k=1)
    different = lab[i_all] != lab[j_all]
    i_all, j_all = i_all[different], j_all[different]
    if i_all.size > limit:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(i_all.size, size=limit, replace=False))
        i_all, j_all = i_all[pick], j_all[pick]
    return i_all.astype(np.int64), j_all.astype(np.int64)


def _key(rate: float) -> str:
    return f"{rate:g}" if rate >= 0.001 else f"{rate:.4f}"


def _rounded(values: dict[float, float]) -> dict[str, float]:
    return {_key(k): round(v, 6) for k, v in values.items()}


def round_up(threshold: float) -> float:
    """A threshold rounded up to 6 decimals, so rounding never lets in another false match."""
    return math.ceil(threshold * 1e6) / 1e6 if math.isfinite(threshold) else threshold


_round_up = round_up


def verification(ex: Extracted, max_impostor_pairs: int, seed: int) -> dict[str, object]:
    """Genuine and impostor scores, FNMR at the target FMRs, EER, thresholds and quality bands."""
    ga, gb = genuine_pairs(ex.labels)
    ia, ib = impostor_pairs(ex.labels, max_impostor_pairs, seed)
    genuine = _pair_scores(ex.templates, ex.found, ga, gb)
    impostor = _pair_scores(ex.templates, ex.found, ia, ib)
    threshold = metrics.threshold_for_rate(impostor, 0.001)
    table = fmr_table(genuine, impostor)
    result: dict[str, object] = {
        "genuine_pairs": int(genuine.size),
        "impostor_pairs": int(impostor.size),
        "fnmr_at_fmr": _rounded(metrics.fnmr_at_fmr(genuine, impostor, FMR_TARGETS)),
        "eer": round(metrics.eer(genuine, impostor), 6),
        "threshold_at_fmr": {_key(f): _round_up(metrics.threshold_for_rate(impostor, f)) for f in FMR_TARGETS},
        "fmr_table": table,
    }
    quality = _quality_bands(ex, ga, gb, genuine, threshold)
    return {**result, "quality": quality}


def fmr_table(genuine: np.ndarray, impostor: np.ndarray) -> list[dict[str, float]]:
    """Threshold (rounded up) and FNMR there for each of ``FMR_TABLE_RATES`` that ``impostor``
    can measure: rates below ``1 / len(impostor)`` are left out."""
    rows: list[dict[str, float]] = []
    for rate in FMR_TABLE_RATES:
        if impostor.size == 0 or rate * impostor.size < 1 - 1e-9:
            continue
        threshold = _round_up(metrics.threshold_for_rate(impostor, rate))
        if not math.isfinite(threshold):
            continue
        rows.append({"fmr": rate, "threshold": threshold, "fnmr": round(metrics.fnmr_at(genuine, threshold), 6)})
    return rows


def checked_fmr_table(verification: dict[str, Any]) -> list[dict[str, float]]:
    """An evaluation's ``fmr_table``, checked: FMR falling, threshold rising, and every rate
    one that its impostor pairs can measure. InvalidInput names what is wrong."""
    if "fmr_table" not in verification:
        raise InvalidInput("the evaluation has no verification.fmr_table; run `facedocket evaluate --json` again")
    rows = [{"fmr": float(r["fmr"]), "threshold": float(r["threshold"]), "fnmr": float(r["fnmr"])}
            for r in verification["fmr_table"]]  # fmt: skip
    pairs = int(verification["impostor_pairs"])
    for a, b in itertools.pairwise(rows):
        if not (a["fmr"] > b["fmr"] and a["threshold"] <= b["threshold"]):
            raise InvalidInput(f"fmr_table is not monotone at FMR {a['fmr']:g} -> {b['fmr']:g}")
    if any(r["fmr"] * pairs < 1 - 1e-9 for r in rows):
        raise InvalidInput(f"fmr_table has a rate below 1/{pairs}, which {pairs} impostor pairs cannot measure")
    return rows


def impostor_pair_count(identities: dict[str, list[Path]], max_impostor_pairs: int) -> int:
    """How many impostor pairs :func:`verification` will use on ``identities`` (every pair of
    photos of two identities, at most ``max_impostor_pairs``), known before any photo is read."""
    sizes = [len(photos) for photos in identities.values()]
    total = sum(sizes)
    return min(max_impostor_pairs, total * (total - 1) // 2 - sum(n * (n - 1) // 2 for n in sizes))


def check_measurable(target_fmr: float, impostor_pairs: int) -> None:
    """InvalidInput unless ``target_fmr`` is one of the FMR table's rates and ``impostor_pairs``
    can measure it (at least 1/rate pairs)."""
    if not any(abs(rate - target_fmr) <= target_fmr * 1e-9 for rate in FMR_TABLE_RATES) or (
        target_fmr * impostor_pairs < 1 - 1e-9
    ):
        need = math.ceil(1 / target_fmr)
        raise InvalidInput(
            f"an FMR of {target_fmr:g} cannot be calibrated here: it needs one of the FMR table's rates "
            f"({', '.join(f'{r:g}' for r in FMR_TABLE_RATES)}) and at least {need:,} impostor pairs (this data set "
            f"gives {impostor_pairs:,}); use more identities or photos, or a larger rate"
        )


def calibration_of(result: dict[str, Any], data: str, target_fmr: float, date: str) -> Calibration:
    """The model-card calibration an evaluation result gives: the threshold for
    ``target_fmr`` with the FNMR there, the FMR table, and the data (``data``, a description,
    with the result's photo and identity counts), detector, flip and ``date`` it came from.
    ``benchmarks/calibrate.py`` writes it into a shipped card; ``facedocket calibrate``
    stores it with a registered model.

    Raises InvalidInput when the target rate is one the impostor pairs cannot measure.
    """
    ver = result["verification"]
    table = checked_fmr_table(ver)
    pairs = int(ver["impostor_pairs"])
    check_measurable(target_fmr, pairs)
    row = next((r for r in table if abs(r["fmr"] - target_fmr) <= target_fmr * 1e-9), None)
    if row is None:  # every genuine score was -inf (no face found anywhere): no finite threshold
        raise InvalidInput(f"the evaluation measured no threshold for FMR {target_fmr:g}; check its photos")
    key = _key(target_fmr)
    threshold = float(ver.get("threshold_at_fmr", {}).get(key, row["threshold"]))
    fnmr = float(ver.get("fnmr_at_fmr", {}).get(key, row["fnmr"]))
    return Calibration(
        threshold=round(threshold, 6), target_fmr=float(target_fmr),
        data=f"{data}: {result['images']} photos of {result['identities']} people",
        genuine_pairs=int(ver["genuine_pairs"]), impostor_pairs=pairs, fnmr_at_threshold=fnmr,
        detector=str(result["detector"]), flip=bool(result["flip"]), date=date, fmr_table=table,
    )  # fmt: skip


def _quality_bands(
    ex: Extracted, ga: np.ndarray, gb: np.ndarray, genuine: np.ndarray, threshold: float
) -> dict[str, object]:
    both = ex.found[ga] & ex.found[gb]
    q = np.minimum(ex.quality[ga], ex.quality[gb])[both]
    failed = (genuine < threshold)[both]
    bands = []
    for low, high in itertools.pairwise(QUALITY_BANDS):
        inside = (q >= low) & (q < high)
        bands.append(
            {
                "quality": f"{low:.2f}-{min(high, 1.0):.2f}",
                "pairs": int(inside.sum()),
                "fnmr": round(float(failed[inside].mean()), 6) if inside.any() else None,
            }
        )
    return {"bands": bands, "spearman_quality_vs_failure": _spearman(q, failed.astype(float))}


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return None
    rx, ry = _ranks(x), _ranks(y)
    return round(float(np.corrcoef(rx, ry)[0, 1]), 4)


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.arange(values.size, dtype=np.float64)
    for value in np.unique(values):
        same = values == value
        ranks[same] = ranks[same].mean()
    return ranks


def split_identities(names: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
    """(enrolled half, non-enrolled half), a seeded shuffle of the sorted names."""
    ordered = sorted(names)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ordered))
    half = len(ordered) // 2
    enrolled = sorted(ordered[i] for i in perm[:half])
    return enrolled, sorted(set(ordered) - set(enrolled))


@dataclass
class Searches:
    """Every 1:N search of the protocol: mated ones (probe of an enrolled identity, not its
    enrolment photo) and non-mated ones (every photo of a non-enrolled identity)."""

    enrolled: int
    mated_probes: list[int]
    ranks: list[int | None]
    mate_scores: list[float]
    nonmated_probes: list[int]
    nonmated_top: list[float]


def searches(ex: Extracted, seed: int) -> Searches:
    """Run the protocol's searches: the seeded half of identities enrolled by their first photo."""
    enrolled, _other = split_identities(sorted(set(ex.labels)), seed)
    enrolled_set = set(enrolled)
    first: dict[str, int] = {}
    for i, name in enumerate(ex.labels):
        first.setdefault(name, i)
    gallery_idx = [first[name] for name in enrolled if ex.found[first[name]]]
    gallery_labels = [ex.labels[i] for i in gallery_idx]
    gallery = ex.templates[gallery_idx]
    out = Searches(len(gallery_idx), [], [], [], [], [])
    for i, name in enumerate(ex.labels):
        if name in enrolled_set and i == first[name]:
            continue
        scores = gallery @ ex.templates[i] if ex.found[i] and len(gallery_idx) else np.zeros(0)
        if name in enrolled_set:
            rank, score = _mate(scores, gallery_labels, name, bool(ex.found[i]))
            out.mated_probes.append(i)
            out.ranks.append(rank)
            out.mate_scores.append(score)
        else:
            out.nonmated_probes.append(i)
            out.nonmated_top.append(float(scores.max()) if scores.size else -math.inf)
    return out


def identification(ex: Extracted, seed: int, max_rank: int) -> dict[str, object]:
    s = searches(ex, seed)
    return {
        "enrolled": s.enrolled,
        "mated_searches": len(s.ranks),
        "nonmated_searches": len(s.nonmated_top),
        "rank1": round(metrics.rank_hit_rate(s.ranks, 1), 6),
        "fnir_at_fpir": _rounded(metrics.fnir_at_fpir(s.ranks, s.mate_scores, s.nonmated_top, FPIR_TARGETS, max_rank)),
        "max_rank": max_rank,
    }


def _mate(scores: np.ndarray, labels: list[str], name: str, found: bool) -> tuple[int | None, float]:
    if not found or name not in labels:
        return None, -math.inf
    j = labels.index(name)
    rank = int(np.sum(scores > scores[j])) + 1
    return rank, float(scores[j])


def evaluate(ex: Extracted, max_impostor_pairs: int = 100_000, seed: int = 0, max_rank: int = 50) -> dict[str, object]:
    """Run the protocol over extracted templates; returns the JSON-ready result."""
    ver = verification(ex, max_impostor_pairs, seed)
    quality = ver.pop("quality")
    return {
        "images": len(ex.paths),
        "identities": len(set(ex.labels)),
        "detection_failures": int((~ex.found).sum()),
        "failed_images": [str(p) for p, ok in zip(ex.paths, ex.found, strict=True) if not ok],
        "verification": ver,
        "identification": identification(ex, seed, max_rank),
        "quality": quality,
        "images_per_second": round(len(ex.paths) / ex.seconds, 3) if ex.seconds > 0 else None,
        **ex.extra,
    }


def extract(
    pipeline: FacePipeline,
    identities: dict[str, list[Path]],
    progress: Callable[[int], None] | None = None,
) -> Extracted:
    """Run the pipeline over every photo; the best (largest) face of each gives its template."""
    paths = [p for photos in identities.values() for p in photos]
    labels = [name for name, photos in identities.items() for _ in photos]
    templates = np.zeros((len(paths), pipeline.model.card.dimensions), dtype=np.float32)
    found = np.zeros(len(paths), dtype=bool)
    quality = np.zeros(len(paths), dtype=np.float64)
    start = time.perf_counter()
    for i, result in enumerate(pipeline.run_many(paths, progress=progress)):
        best = result.best
        if best is not None:
            templates[i], found[i], quality[i] = best.template.vector, True, best.template.quality
    seconds = time.perf_counter() - start
    extra = {
        "model": pipeline.model_id,
        "detector": pipeline.detector.name,
        "runtime": pipeline.options.runtime,
        "flip": pipeline.options.flip,
        "jitter": pipeline.jitter,
    }
    return Extracted(paths, labels, templates, found, quality, seconds, extra)
