"""The analysis: one global threshold, every group of every column measured and judged at it,
the columns compared, and the protocol that says how."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from facedocket.errors import InvalidInput
from facedocket.matching import metrics
from facedocket.oversight import evaluation as ev
from facedocket.oversight.demographics.findings import compare, pct
from facedocket.oversight.demographics.groups import RULE_OF, Context, group_dict, judge, one_group
from facedocket.oversight.demographics.labels import GroupLabels
from facedocket.oversight.demographics.rates import GroupScores, IntArray, overall_scores, r6

DEFAULT_TARGET_FMR = 1e-3
DEFAULT_BOOTSTRAP = 1000
DEFAULT_MAX_GROUP_IMPOSTOR_PAIRS = 1_000_000
MIN_IDENTITIES = 10


@dataclass
class Differentials:
    """The JSON-ready figures (``result``, merged into the evaluation's) and the raw scores
    the report draws its DET curves from."""

    result: dict[str, object]
    threshold: float
    overall: GroupScores
    scores: dict[str, dict[str, GroupScores]]


@dataclass(frozen=True)
class _Options:
    """The keyword arguments of :func:`analyse`."""

    target_fmr: float
    max_impostor_pairs: int
    max_group_impostor_pairs: int
    seed: int
    max_rank: int
    bootstrap: int
    min_identities: int


def analyse(
    ex: ev.Extracted,
    labels: GroupLabels,
    *,
    target_fmr: float = DEFAULT_TARGET_FMR,
    max_impostor_pairs: int = 100_000,
    max_group_impostor_pairs: int = DEFAULT_MAX_GROUP_IMPOSTOR_PAIRS,
    seed: int = 0,
    max_rank: int = 50,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    min_identities: int = MIN_IDENTITIES,
) -> Differentials:
    """Per-group FNMR, FMR, FNIR and FPIR at one global threshold; see the package docstring."""
    if not 0 < target_fmr < 1:
        raise InvalidInput(f"target FMR {target_fmr} must be between 0 and 1, e.g. 0.001")
    if bootstrap < 1:
        raise InvalidInput("bootstrap replicates must be at least 1, e.g. 1000")
    opts = _Options(target_fmr, max_impostor_pairs, max_group_impostor_pairs, seed, max_rank, bootstrap, min_identities)
    overall = overall_scores(ex, max_impostor_pairs, seed)
    threshold = ev.round_up(metrics.threshold_for_rate(overall.impostor, target_fmr))
    if not math.isfinite(threshold):
        raise InvalidInput("too few impostor pairs to set a threshold; evaluate at least two identities")
    overall_fnmr = metrics.fnmr_at(overall.genuine, threshold)
    names = sorted(set(ex.labels))
    ctx = _context(ex, names, overall, threshold, opts)
    fnmr_needed = math.ceil(RULE_OF / overall_fnmr) if overall_fnmr > 0 else None
    fmr_needed = math.ceil(RULE_OF / target_fmr - 1e-9)

    groups: dict[str, dict[str, object]] = {}
    summaries: dict[str, object] = {}
    findings: list[str] = []
    all_scores: dict[str, dict[str, GroupScores]] = {}
    for column in labels.columns:
        made = [one_group(ctx, column, value, members) for value, members in _members(names, labels, column)]
        for g in made:
            judge(g, min_identities, fnmr_needed, fmr_needed, target_fmr)
        summary, column_findings = compare(column, made)
        summary["labelled_identities"] = sum(g.identities for g in made)
        summary["unlabelled_identities"] = len(names) - sum(g.identities for g in made)
        summaries[column] = summary
        findings.extend(column_findings)
        groups[column] = {g.value: group_dict(g) for g in made}
        all_scores[column] = {g.value: g.scores for g in made}

    protocol = _protocol(ctx, overall, labels, opts, overall_fnmr, fnmr_needed, fmr_needed)
    result: dict[str, object] = {
        "groups": groups,
        "group_summary": summaries,
        "findings": [_headline(overall, threshold, target_fmr, overall_fnmr), *findings],
        "group_protocol": protocol,
    }
    return Differentials(result, threshold, overall, all_scores)


def _context(ex: ev.Extracted, names: list[str], overall: GroupScores, threshold: float, opts: _Options) -> Context:
    """The evaluation's searches, identity indexes and genuine pairs that every group is cut from."""
    search = ev.searches(ex, opts.seed)
    ident: IntArray = np.searchsorted(np.array(names), np.array(ex.labels)).astype(np.int64)
    ga, _gb = ev.genuine_pairs(ex.labels)
    return Context(
        ex=ex,
        ident=ident,
        ga=ga,
        genuine=overall.genuine,
        threshold=threshold,
        search=search,
        mated_ident=ident[np.array(search.mated_probes, dtype=np.int64)],
        nonmated_ident=ident[np.array(search.nonmated_probes, dtype=np.int64)],
        cap=opts.max_group_impostor_pairs,
        seed=opts.seed,
        replicates=opts.bootstrap,
        max_rank=opts.max_rank,
    )


def _members(names: list[str], labels: GroupLabels, column: str) -> list[tuple[str, IntArray]]:
    """(value, identity indexes) of every group of ``column``, by value."""
    by_value: dict[str, list[int]] = {}
    for k, name in enumerate(names):
        value = labels.value(name, column)
        if value is not None:
            by_value.setdefault(value, []).append(k)
    return [(value, np.array(by_value[value], dtype=np.int64)) for value in sorted(by_value)]


def _headline(overall: GroupScores, threshold: float, target_fmr: float, overall_fnmr: float) -> str:
    overall_fmr = metrics.fmr_at(overall.impostor, threshold)
    return (
        f"All figures are at one threshold, {threshold:.6f}, set for an overall FMR of {target_fmr:g} on "
        f"{overall.impostor.size:,} impostor pairs. There the whole set has FNMR {pct(overall_fnmr)} and "
        f"FMR {pct(overall_fmr)}."
    )


def _protocol(
    ctx: Context,
    overall: GroupScores,
    labels: GroupLabels,
    opts: _Options,
    overall_fnmr: float,
    fnmr_needed: int | None,
    fmr_needed: int,
) -> dict[str, object]:
    """How the figures were made: threshold, overall figures, labels, sampling, bootstrap, reliability."""
    return {
        "threshold": ctx.threshold,
        "target_fmr": opts.target_fmr,
        "threshold_rule": (
            f"smallest score threshold whose FMR on the evaluation's {overall.impostor.size} impostor pairs "
            f"(seed {opts.seed}) is at most {opts.target_fmr:g}, rounded up to 6 decimals"
        ),
        "overall": _overall(ctx, overall, overall_fnmr),
        "labels": {
            "file": labels.source,
            "sha256": labels.sha256,
            "identity_column": labels.identity_column,
            "columns": labels.columns,
            "skipped_columns": labels.skipped,
        },
        "same_group_impostors": (
            f"every pair of photos of two different identities of the group, or a seeded sample of "
            f"{opts.max_group_impostor_pairs} where there are more"
        ),
        "max_group_impostor_pairs": opts.max_group_impostor_pairs,
        "bootstrap": {
            "replicates": opts.bootstrap,
            "seed": opts.seed,
            "method": (
                "cluster bootstrap: the group's identities resampled with replacement; a genuine pair weighs its "
                "identity's draw count, an impostor pair the product of its two identities' draw counts; "
                "95 % interval = 2.5th and 97.5th percentile (inverted CDF) of the replicate rates"
            ),
        },
        "reliability": _reliability(opts.min_identities, fnmr_needed, fmr_needed),
        "max_rank": opts.max_rank,
    }


def _overall(ctx: Context, overall: GroupScores, overall_fnmr: float) -> dict[str, object]:
    """The whole set's figures at the threshold."""
    search, threshold = ctx.search, ctx.threshold
    fnir = metrics.fnir_at(search.ranks, search.mate_scores, threshold, ctx.max_rank) if search.ranks else None
    fpir = metrics.fpir_at(search.nonmated_top, threshold) if search.nonmated_top else None
    return {
        "fnmr": r6(overall_fnmr),
        "fmr": r6(metrics.fmr_at(overall.impostor, threshold)),
        "fnir": r6(fnir) if fnir is not None else None,
        "fpir": r6(fpir) if fpir is not None else None,
        "pairs": {"genuine": int(overall.genuine.size), "impostor": int(overall.impostor.size)},
        "searches": {"mated": len(search.ranks), "nonmated": len(search.nonmated_top)},
    }


def _reliability(min_identities: int, fnmr_needed: int | None, fmr_needed: int) -> dict[str, object]:
    """The reliability rule in words and numbers."""
    return {
        "min_identities": min_identities,
        "rule": (
            f"FNMR reliable with >= {min_identities} identities with genuine pairs and >= {RULE_OF} / overall "
            f"FNMR genuine pairs ({fnmr_needed if fnmr_needed else 'unreachable: no false non-matches overall'}); "
            f"FMR reliable with >= {min_identities} identities and >= {RULE_OF} / target FMR "
            f"same-group impostor pairs ({fmr_needed})"
        ),
        "fnmr_pairs_needed": fnmr_needed,
        "fmr_pairs_needed": fmr_needed,
    }
