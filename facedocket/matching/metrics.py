"""Accuracy figures for verification (1:1) and identification (1:N). Pure NumPy, no I/O.

Scores are similarities: higher means more alike, and a comparison *matches* when its
score is at or above the threshold ``t``.

Verification (ISO/IEC 19795-1):

* ``FMR(t)``  = share of impostor (non-mated) scores ``>= t``;
* ``FNMR(t)`` = share of genuine (mated) scores ``< t``;
* the threshold for a target FMR ``f`` is the smallest ``t`` with ``FMR(t) <= f``: with
  ``k = floor(f * n)`` false matches allowed among ``n`` impostor scores, ``t`` is the
  smallest float above the ``(k+1)``-th highest impostor score, so ties at that score are
  all rejected together (an FMR is never exceeded because of ties);
* EER: over every candidate threshold, the ``t`` where ``|FMR - FNMR|`` is smallest; the
  EER is ``(FMR + FNMR) / 2`` there.

A comparison that could not be made (no face in one image) is scored ``-inf``: a genuine
pair then fails at every threshold, an impostor pair never matches.

Identification (ISO/IEC 19795-1, NIST FRVT 1:N):

* rank-k hit rate: share of mated searches whose mate is among the top ``k`` candidates;
* ``FPIR(t)``: share of non-mated searches with any candidate at or above ``t`` (that is,
  whose top score is ``>= t``);
* ``FNIR(t)``: share of mated searches whose mate is not returned, i.e. is ranked below
  ``max_rank`` or scores below ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Scores = npt.ArrayLike


def _array(scores: Scores) -> npt.NDArray[np.float64]:
    return np.asarray(scores, dtype=np.float64).ravel()


def fmr_at(impostor: Scores, threshold: float) -> float:
    """False-match rate at ``threshold``: share of impostor scores ``>= threshold``
    (``nan`` when there are none)."""
    imp = _array(impostor)
    return float(np.mean(imp >= threshold)) if imp.size else math.nan


def fnmr_at(genuine: Scores, threshold: float) -> float:
    """False non-match rate at ``threshold``: share of genuine scores ``< threshold``."""
    gen = _array(genuine)
    return float(np.mean(gen < threshold)) if gen.size else math.nan


def threshold_for_rate(negatives: Scores, target: float) -> float:
    """Smallest threshold whose false-positive rate on ``negatives`` is ``<= target``.

    Example: negatives ``[0.9, 0.8, 0.8, 0.1]`` and target 0.25 allow one false match, so
    the threshold is just above 0.8 (both 0.8s rejected): rate 0.25.
    """
    neg = np.sort(_array(negatives))[::-1]
    if neg.size == 0:
        return math.nan
    allowed = math.floor(target * neg.size + 1e-9)
    if allowed >= neg.size:
        return -math.inf
    return float(np.nextafter(neg[allowed], math.inf))


def fnmr_at_fmr(genuine: Scores, impostor: Scores, targets: Iterable[float]) -> dict[float, float]:
    """FNMR at the threshold of each target FMR."""
    return {f: fnmr_at(genuine, threshold_for_rate(impostor, f)) for f in targets}


@dataclass(frozen=True)
class DetPoint:
    threshold: float
    fmr: float
    fnmr: float


def det_curve(genuine: Scores, impostor: Scores, max_points: int | None = None) -> list[DetPoint]:
    """(threshold, FMR, FNMR) at every distinct score, highest threshold first.
    ``max_points`` thins the list evenly (keeping both ends)."""
    gen, imp = np.sort(_array(genuine)), np.sort(_array(impostor))
    thresholds = np.unique(np.concatenate([gen, imp]))[::-1]
    thresholds = thresholds[np.isfinite(thresholds)]
    if thresholds.size == 0 or gen.size == 0 or imp.size == 0:
        return []
    fmr = (imp.size - np.searchsorted(imp, thresholds, side="left")) / imp.size
    fnmr = np.searchsorted(gen, thresholds, side="left") / gen.size
    idx = np.arange(thresholds.size)
    if max_points and thresholds.size > max_points:
        idx = np.unique(np.linspace(0, thresholds.size - 1, max_points).round().astype(int))
    return [DetPoint(float(thresholds[i]), float(fmr[i]), float(fnmr[i])) for i in idx]


def eer(genuine: Scores, impostor: Scores) -> float:
    """Equal error rate (see module docstring); ``nan`` without both kinds of score."""
    points = det_curve(genuine, impostor)
    if not points:
        return math.nan
    best = min(points, key=lambda p: (abs(p.fmr - p.fnmr), p.fmr + p.fnmr))
    return (best.fmr + best.fnmr) / 2


def rank_hit_rate(mate_ranks: Sequence[int | None], k: int = 1) -> float:
    """Share of mated searches whose mate is at rank ``<= k`` (rank 1 = top;
    ``None`` = mate not found at all, e.g. no face in the probe)."""
    if len(mate_ranks) == 0:
        return math.nan
    return float(np.mean([r is not None and r <= k for r in mate_ranks]))


def fpir_at(nonmated_top: Scores, threshold: float) -> float:
    """Share of non-mated searches whose top candidate scores ``>= threshold``."""
    return fmr_at(nonmated_top, threshold)


def fnir_at(
    mate_ranks: Sequence[int | None], mate_scores: Scores, threshold: float, max_rank: int | None = None
) -> float:
    """Share of mated searches whose mate is missing, ranked past ``max_rank``, or below ``threshold``."""
    scores = _array(mate_scores)
    if len(mate_ranks) != scores.size:
        raise ValueError("mate_ranks and mate_scores differ in length")
    if scores.size == 0:
        return math.nan
    hits = [
        r is not None and (max_rank is None or r <= max_rank) and s >= threshold
        for r, s in zip(mate_ranks, scores, strict=True)
    ]
    return 1.0 - float(np.mean(hits))


def fnir_at_fpir(
    mate_ranks: Sequence[int | None],
    mate_scores: Scores,
    nonmated_top: Scores,
    targets: Iterable[float],
    max_rank: int | None = None,
) -> dict[float, float]:
    """FNIR at the threshold of each target FPIR."""
    return {f: fnir_at(mate_ranks, mate_scores, threshold_for_rate(nonmated_top, f), max_rank) for f in targets}
