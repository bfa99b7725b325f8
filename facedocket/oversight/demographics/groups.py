"""The figures of one group: its genuine and same-group impostor pairs, its 1:N searches, the
reliability rule, and the group as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facedocket.matching import metrics
from facedocket.oversight import evaluation as ev
from facedocket.oversight.demographics.rates import (
    FloatArray,
    GroupScores,
    IntArray,
    Rate,
    genuine_rate,
    impostor_rate,
    interval,
    pair_scores,
    r6,
    seeded_rng,
)

RULE_OF = 30


@dataclass(frozen=True)
class Context:
    """What every group of one analysis is measured against."""

    ex: ev.Extracted
    ident: IntArray  # identity index (into the sorted names) of every photo
    ga: IntArray  # first photo of every genuine pair
    genuine: FloatArray  # score of every genuine pair
    threshold: float
    search: ev.Searches
    mated_ident: IntArray  # identity of every mated search's probe
    nonmated_ident: IntArray  # identity of every non-mated search's probe
    cap: int  # most same-group impostor pairs
    seed: int
    replicates: int
    max_rank: int


@dataclass
class Group:
    column: str
    value: str
    identities: int
    images: int
    detection_failures: int
    fnmr: Rate
    fmr: Rate
    genuine_identities: int
    fnir: float | None
    fpir: float | None
    mated: int
    nonmated: int
    scores: GroupScores
    notes: list[str] = field(default_factory=list)
    reliable: dict[str, bool] = field(default_factory=dict)
    ratio: dict[str, float | None] = field(default_factory=dict)
    ratio_ci: dict[str, list[float | None] | None] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.column}={self.value}"

    def rate(self, kind: str) -> Rate:
        return self.fnmr if kind == "fnmr" else self.fmr


def one_group(ctx: Context, column: str, value: str, members: IntArray) -> Group:
    """Every figure of the group ``column=value`` whose identities (indexes) are ``members``."""
    local = np.full(int(ctx.ident.max()) + 1, -1, dtype=np.int64)
    local[members] = np.arange(members.size)
    photos = np.flatnonzero(local[ctx.ident] >= 0).astype(np.int64)
    # Mated pairs of the group's identities.
    in_group = local[ctx.ident[ctx.ga]] >= 0
    g_scores = ctx.genuine[in_group]
    fnmr = genuine_rate(
        g_scores < ctx.threshold,
        local[ctx.ident[ctx.ga[in_group]]],
        members.size,
        seeded_rng(ctx.seed, column, value, "fnmr"),
        ctx.replicates,
    )
    fmr, i_scores = _same_group_impostors(ctx, local, photos, members.size, seeded_rng(ctx.seed, column, value, "fmr"))
    mated, nonmated, fnir, fpir = _identification(ctx, local)
    return Group(
        column=column,
        value=value,
        identities=int(members.size),
        images=int(photos.size),
        detection_failures=int((~ctx.ex.found[photos]).sum()),
        fnmr=fnmr,
        fmr=fmr,
        genuine_identities=int(np.unique(ctx.ident[ctx.ga[in_group]]).size),
        fnir=fnir,
        fpir=fpir,
        mated=mated,
        nonmated=nonmated,
        scores=GroupScores(g_scores, i_scores),
    )


def _same_group_impostors(
    ctx: Context, local: IntArray, photos: IntArray, clusters: int, rng: np.random.Generator
) -> tuple[Rate, FloatArray]:
    """FMR over the group's impostor pairs (both photos in the group, two different identities) and their scores."""
    la, lb = ev.impostor_pairs([ctx.ex.labels[i] for i in photos], ctx.cap, ctx.seed)
    ia, ib = photos[la], photos[lb]
    i_scores = pair_scores(ctx.ex, ia, ib)
    fmr = impostor_rate(
        i_scores >= ctx.threshold, local[ctx.ident[ia]], local[ctx.ident[ib]], clusters, rng, ctx.replicates
    )
    return fmr, i_scores


def _identification(ctx: Context, local: IntArray) -> tuple[int, int, float | None, float | None]:
    """1:N at the same threshold: (mated searches, non-mated searches, FNIR, FPIR) of the group's probes."""
    search, threshold = ctx.search, ctx.threshold
    mated = np.flatnonzero(local[ctx.mated_ident] >= 0) if ctx.mated_ident.size else np.zeros(0, dtype=np.int64)
    nonmated = (
        np.flatnonzero(local[ctx.nonmated_ident] >= 0) if ctx.nonmated_ident.size else np.zeros(0, dtype=np.int64)
    )
    fnir = (
        metrics.fnir_at(
            [search.ranks[i] for i in mated], [search.mate_scores[i] for i in mated], threshold, ctx.max_rank
        )
        if mated.size
        else None
    )
    fpir = metrics.fpir_at([search.nonmated_top[i] for i in nonmated], threshold) if nonmated.size else None
    return int(mated.size), int(nonmated.size), fnir, fpir


def _ids(n: int) -> str:
    return f"{n} identity" if n == 1 else f"{n} identities"


def judge(g: Group, min_identities: int, fnmr_needed: int | None, fmr_needed: int, target_fmr: float) -> None:
    """Apply the reliability rule; say why a figure is missing or not reliable."""
    if g.fnmr.pairs == 0:
        g.notes.append("no FNMR: no identity of the group has two photos, so there are no genuine pairs")
    if g.fmr.pairs == 0:
        g.notes.append("no FMR: the group has fewer than two identities, so there are no same-group impostor pairs")
    problems = []
    if g.genuine_identities < min_identities:
        problems.append(f"{_ids(g.genuine_identities)} with genuine pairs (< {min_identities})")
    if fnmr_needed is None:
        problems.append("no false non-matches in the whole set, so no pair count is enough")
    elif g.fnmr.pairs < fnmr_needed:
        problems.append(f"{g.fnmr.pairs:,} genuine pairs (< {fnmr_needed:,} to expect {RULE_OF} errors)")
    g.reliable["fnmr"] = not problems and g.fnmr.pairs > 0
    if problems and g.fnmr.pairs:
        g.notes.append("FNMR not reliable: " + "; ".join(problems))
    problems = []
    if g.identities < min_identities:
        problems.append(f"{_ids(g.identities)} (< {min_identities})")
    if g.fmr.pairs < fmr_needed:
        problems.append(
            f"{g.fmr.pairs:,} same-group impostor pairs "
            f"(< {fmr_needed:,} to expect {RULE_OF} errors at FMR {target_fmr:g})"
        )
    g.reliable["fmr"] = not problems and g.fmr.pairs > 0
    if problems and g.fmr.pairs:
        g.notes.append("FMR not reliable: " + "; ".join(problems))


def group_dict(g: Group) -> dict[str, object]:
    """The group's figures as JSON."""

    def rate(r: Rate) -> float | None:
        return r6(r.rate) if r.rate is not None else None

    return {
        "identities": g.identities,
        "images": g.images,
        "detection_failures": g.detection_failures,
        "pairs": {"genuine": g.fnmr.pairs, "impostor": g.fmr.pairs},
        "errors": {"false_non_matches": g.fnmr.errors, "false_matches": g.fmr.errors},
        "fnmr": rate(g.fnmr),
        "fnmr_ci": interval(g.fnmr.replicates) if g.fnmr.pairs else None,
        "fnmr_ratio": g.ratio.get("fnmr"),
        "fnmr_ratio_ci": g.ratio_ci.get("fnmr"),
        "fmr": rate(g.fmr),
        "fmr_ci": interval(g.fmr.replicates) if g.fmr.pairs else None,
        "fmr_ratio": g.ratio.get("fmr"),
        "fmr_ratio_ci": g.ratio_ci.get("fmr"),
        "fnir": r6(g.fnir) if g.fnir is not None else None,
        "fpir": r6(g.fpir) if g.fpir is not None else None,
        "searches": {"mated": g.mated, "nonmated": g.nonmated},
        "reliable": dict(g.reliable),
        "notes": list(g.notes),
    }
