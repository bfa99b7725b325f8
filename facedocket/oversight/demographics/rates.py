"""Pair scores, error rates and their cluster-bootstrap replicates and intervals. Pure NumPy."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from facedocket.oversight import evaluation as ev

_CHUNK = 50_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class GroupScores:
    """Genuine and impostor scores of one group (or of the whole set)."""

    genuine: FloatArray
    impostor: FloatArray


def overall_scores(ex: ev.Extracted, max_impostor_pairs: int, seed: int) -> GroupScores:
    """The evaluation's genuine scores and (sampled) impostor scores."""
    ga, gb = ev.genuine_pairs(ex.labels)
    ia, ib = ev.impostor_pairs(ex.labels, max_impostor_pairs, seed)
    return GroupScores(pair_scores(ex, ga, gb), pair_scores(ex, ia, ib))


def pair_scores(ex: ev.Extracted, a: IntArray, b: IntArray) -> FloatArray:
    """Pair scores in chunks (no pairs x dims copy of the whole list); ``-inf`` where a photo had no face."""
    out = np.empty(a.size, dtype=np.float64)
    for start in range(0, a.size, _CHUNK):
        sa, sb = a[start : start + _CHUNK], b[start : start + _CHUNK]
        out[start : start + _CHUNK] = np.einsum("ij,ij->i", ex.templates[sa], ex.templates[sb])
    out[~(ex.found[a] & ex.found[b])] = -np.inf
    return out


def seeded_rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded by ``seed`` and the names in ``parts`` (one stream per group and rate)."""
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])


def _draws(rng: np.random.Generator, clusters: int, replicates: int) -> IntArray:
    """replicates x clusters draw counts: each row resamples ``clusters`` identities with replacement."""
    counts: IntArray = rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=replicates).astype(np.int64)
    return counts


def interval(values: FloatArray) -> list[float | None] | None:
    """2.5th-97.5th percentile (inverted CDF) of the finite-or-infinite replicates; ``None`` bound = unbounded."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return None
    low, high = np.quantile(kept, [0.025, 0.975], method="inverted_cdf")
    return [r6(float(low)), r6(float(high)) if math.isfinite(high) else None]


def r6(x: float) -> float:
    """``x`` rounded to 6 decimals, as every reported rate is."""
    return round(x, 6)


@dataclass
class Rate:
    """A rate, its errors and pairs, and its bootstrap replicates."""

    errors: int
    pairs: int
    replicates: FloatArray

    @property
    def rate(self) -> float | None:
        return self.errors / self.pairs if self.pairs else None


def genuine_rate(
    failed: npt.NDArray[np.bool_], cluster: IntArray, clusters: int, rng: np.random.Generator, replicates: int
) -> Rate:
    """FNMR of genuine pairs (``failed`` per pair, ``cluster`` = the pair's identity) with its replicates."""
    errors = np.bincount(cluster, weights=failed.astype(np.float64), minlength=clusters)
    pairs = np.bincount(cluster, minlength=clusters).astype(np.float64)
    used = pairs > 0
    errors, pairs = errors[used], pairs[used]
    if pairs.size < 2:  # one identity: resampling it tells nothing about the spread
        return Rate(int(failed.sum()), int(failed.size), np.full(replicates, np.nan))
    w = _draws(rng, pairs.size, replicates).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ errors) / (w @ pairs)
    return Rate(int(failed.sum()), int(failed.size), reps)


def impostor_rate(
    matched: npt.NDArray[np.bool_],
    ca: IntArray,
    cb: IntArray,
    clusters: int,
    rng: np.random.Generator,
    replicates: int,
) -> Rate:
    """FMR of impostor pairs (``matched`` per pair, ``ca``/``cb`` = its two identities) with its replicates."""
    if matched.size == 0 or clusters < 2:
        return Rate(int(matched.sum()), int(matched.size), np.full(replicates, np.nan))
    errors = np.zeros((clusters, clusters))
    pairs = np.zeros((clusters, clusters))
    np.add.at(errors, (ca, cb), matched.astype(np.float64))
    np.add.at(pairs, (ca, cb), 1.0)
    errors, pairs = errors + errors.T, pairs + pairs.T
    w = _draws(rng, clusters, replicates).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = ((w @ errors) * w).sum(axis=1) / ((w @ pairs) * w).sum(axis=1)
    return Rate(int(matched.sum()), int(matched.size), reps)
