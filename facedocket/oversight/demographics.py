"""Demographic differentials: accuracy per group, in the manner of NIST IR 8280. Pure NumPy.

Given the templates of an evaluation (:class:`~facedocket.oversight.evaluation.Extracted`)
and a CSV of group labels per identity, this measures how error rates differ between
groups *at one operating threshold*, the way a deployed system runs:

* **threshold**: one global threshold for a target overall FMR (default 1e-3), set on the
  same impostor pairs as the overall verification (every impostor pair, or the seeded
  sample of ``max_impostor_pairs``), rounded up to 6 decimals as the evaluation does;
* **FNMR** of a group: the share of its mated (genuine) pairs scoring below the threshold;
* **FMR** of a group: the share of its *same-group* non-mated pairs (both photos of the
  group, of two different identities) scoring at or above it; every such pair is used, or
  a seeded sample of ``max_group_impostor_pairs`` where there are more;
* **FNIR / FPIR** of a group at the same threshold, from the evaluation's 1:N split (a mixed
  gallery of the enrolled half): mated searches grouped by the probe's identity, non-mated
  searches by the probe's identity;
* **95 % confidence intervals** by a cluster bootstrap: the group's identities are
  resampled with replacement (``bootstrap`` replicates, seeded per group); a genuine pair
  counts as often as its identity was drawn, an impostor pair as the product of its two
  identities' draw counts (pairs of an identity with a copy of itself are not impostor
  pairs and count zero); the interval is the 2.5th and 97.5th percentile of the replicate
  rates (inverted-CDF, so every bound is an observed replicate value); replicates with no
  pairs are dropped, and a rate from a single identity gets no interval (``None``);
* **ratios**: each group's rate over the lowest rate among the *compared* groups (the
  reliable ones; all groups with a rate where none is reliable); groups are disjoint sets of
  identities with independent replicates, so the ratio's interval is the percentile
  interval of the replicate ratios (upper bound ``None`` = unbounded, where the reference
  group had replicates without errors);
* **reliability** (NIST-style caution, Doddington's rule of 30): a group's FNMR is reliable
  when it comes from at least ``min_identities`` identities with genuine pairs and has
  enough genuine pairs to expect 30 false non-matches at the overall FNMR; its FMR is
  reliable when it has at least ``min_identities`` identities and enough same-group
  impostor pairs to expect 30 false matches at the target FMR (30 / 1e-3 = 30,000 pairs).
  Figures that fail the rule are still reported, flagged, and named in the findings.

Group values are taken verbatim from the CSV (``african;caucasian`` is its own group);
merge values in the CSV to group them differently.
"""

from __future__ import annotations

import csv
import hashlib
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from facedocket.errors import InvalidInput
from facedocket.matching import metrics
from facedocket.oversight import evaluation as ev

DEFAULT_TARGET_FMR = 1e-3
DEFAULT_BOOTSTRAP = 1000
DEFAULT_MAX_GROUP_IMPOSTOR_PAIRS = 1_000_000
MIN_IDENTITIES = 10
RULE_OF = 30
_CHUNK = 50_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class GroupLabels:
    """Group attributes per identity, read from a CSV."""

    source: str
    sha256: str
    identity_column: str
    columns: list[str]
    values: dict[str, dict[str, str]]
    skipped: dict[str, str] = field(default_factory=dict)

    def value(self, identity: str, column: str) -> str | None:
        return self.values.get(identity, {}).get(column) or None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_groups(path: str | Path, columns: Sequence[str] | None = None) -> GroupLabels:
    """Read a groups CSV: the column named ``identity`` (else the first column) names the
    identity (its folder name), every other column is a group attribute; an empty cell is
    unknown. Without ``columns``, columns whose every value is a number (counts, ages) are
    skipped and listed in ``skipped``; name them in ``columns`` to use them anyway."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"group labels file {p} not found; give a CSV with an identity column and group columns")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"group labels file {p} is not UTF-8 text; save it as a UTF-8 CSV") from None
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InvalidInput(f"group labels file {p} is empty; it needs a header row such as identity,sex,race")
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    id_col = lowered.index("identity") if "identity" in lowered else 0
    if not header[id_col]:
        raise InvalidInput(f"group labels file {p} has no identity column: name the first column 'identity'")
    attributes = [h for i, h in enumerate(header) if i != id_col and h]
    if not attributes:
        raise InvalidInput(f"group labels file {p} has no group columns besides {header[id_col]!r}")
    if len(rows) < 2:
        raise InvalidInput(f"group labels file {p} has a header but no rows")
    values: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row] + [""] * (len(header) - len(row))
        name = cells[id_col]
        if not name:
            raise InvalidInput(f"group labels file {p}, row {line}: the identity cell is empty")
        entry = {h: cells[i] for i, h in enumerate(header) if i != id_col and h and cells[i]}
        if name in values and values[name] != entry:
            raise InvalidInput(f"group labels file {p}: identity {name!r} appears twice with different values")
        values[name] = entry
    skipped: dict[str, str] = {}
    if columns:
        unknown = [c for c in columns if c not in attributes]
        if unknown:
            raise InvalidInput(
                f"group column {unknown[0]!r} is not in {p}; its group columns are: {', '.join(attributes)}"
            )
        chosen = list(columns)
    else:
        chosen = []
        for column in attributes:
            seen = [v[column] for v in values.values() if column in v]
            if seen and all(_is_number(s) for s in seen):
                skipped[column] = "every value is a number (a count or measurement, not a group); name it to use it"
            else:
                chosen.append(column)
    return GroupLabels(str(p), hashlib.sha256(raw).hexdigest(), header[id_col], chosen, values, skipped)


@dataclass
class GroupScores:
    """Genuine and impostor scores of one group (or of the whole set)."""

    genuine: FloatArray
    impostor: FloatArray


@dataclass
class Differentials:
    """The JSON-ready figures (``result``, merged into the evaluation's) and the raw scores
    the report draws its DET curves from."""

    result: dict[str, object]
    threshold: float
    overall: GroupScores
    scores: dict[str, dict[str, GroupScores]]


def overall_scores(ex: ev.Extracted, max_impostor_pairs: int, seed: int) -> GroupScores:
    """The evaluation's genuine scores and (sampled) impostor scores."""
    ga, gb = ev.genuine_pairs(ex.labels)
    ia, ib = ev.impostor_pairs(ex.labels, max_impostor_pairs, seed)
    return GroupScores(_scores(ex, ga, gb), _scores(ex, ia, ib))


def _scores(ex: ev.Extracted, a: IntArray, b: IntArray) -> FloatArray:
    """Pair scores in chunks (no pairs x dims copy of the whole list); ``-inf`` where a photo had no face."""
    out = np.empty(a.size, dtype=np.float64)
    for start in range(0, a.size, _CHUNK):
        sa, sb = a[start : start + _CHUNK], b[start : start + _CHUNK]
        out[start : start + _CHUNK] = np.einsum("ij,ij->i", ex.templates[sa], ex.templates[sb])
    out[~(ex.found[a] & ex.found[b])] = -np.inf
    return out


def _rng(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])


def _draws(rng: np.random.Generator, clusters: int, replicates: int) -> IntArray:
    """replicates x clusters draw counts: each row resamples ``clusters`` identities with replacement."""
    counts: IntArray = rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=replicates).astype(np.int64)
    return counts


def _interval(values: FloatArray) -> list[float | None] | None:
    """2.5th-97.5th percentile (inverted CDF) of the finite-or-infinite replicates; ``None`` bound = unbounded."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return None
    low, high = np.quantile(kept, [0.025, 0.975], method="inverted_cdf")
    return [_r6(float(low)), _r6(float(high)) if math.isfinite(high) else None]


def _r6(x: float) -> float:
    return round(x, 6)


@dataclass
class _Rate:
    """A rate, its errors and pairs, and its bootstrap replicates."""

    errors: int
    pairs: int
    replicates: FloatArray

    @property
    def rate(self) -> float | None:
        return self.errors / self.pairs if self.pairs else None


def _genuine_rate(
    failed: npt.NDArray[np.bool_], cluster: IntArray, clusters: int, rng: np.random.Generator, replicates: int
) -> _Rate:
    errors = np.bincount(cluster, weights=failed.astype(np.float64), minlength=clusters)
    pairs = np.bincount(cluster, minlength=clusters).astype(np.float64)
    used = pairs > 0
    errors, pairs = errors[used], pairs[used]
    if pairs.size < 2:  # one identity: resampling it tells nothing about the spread
        return _Rate(int(failed.sum()), int(failed.size), np.full(replicates, np.nan))
    w = _draws(rng, pairs.size, replicates).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ errors) / (w @ pairs)
    return _Rate(int(failed.sum()), int(failed.size), reps)


def _impostor_rate(
    matched: npt.NDArray[np.bool_],
    ca: IntArray,
    cb: IntArray,
    clusters: int,
    rng: np.random.Generator,
    replicates: int,
) -> _Rate:
    if matched.size == 0 or clusters < 2:
        return _Rate(int(matched.sum()), int(matched.size), np.full(replicates, np.nan))
    errors = np.zeros((clusters, clusters))
    pairs = np.zeros((clusters, clusters))
    np.add.at(errors, (ca, cb), matched.astype(np.float64))
    np.add.at(pairs, (ca, cb), 1.0)
    errors, pairs = errors + errors.T, pairs + pairs.T
    w = _draws(rng, clusters, replicates).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = ((w @ errors) * w).sum(axis=1) / ((w @ pairs) * w).sum(axis=1)
    return _Rate(int(matched.sum()), int(matched.size), reps)


def _pct(rate: float | None) -> str:
    if rate is None:
        return "n/a"
    value = 100 * rate
    if value == 0:
        return "0 %"
    return f"{value:.1f} %" if value >= 1 else f"{value:.2g} %"


def _ci_text(ci: list[float | None] | None) -> str:
    if ci is None:
        return "95 % CI n/a"
    low, high = ci
    return f"95 % CI {_pct(low)} to {_pct(high) if high is not None else 'unbounded'}"


@dataclass
class _Group:
    column: str
    value: str
    identities: int
    images: int
    detection_failures: int
    fnmr: _Rate
    fmr: _Rate
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

    def rate(self, kind: str) -> _Rate:
        return self.fnmr if kind == "fnmr" else self.fmr


_WORDS = {"fnmr": ("FNMR", "false non-matches", "genuine pairs"), "fmr": ("FMR", "false matches", "impostor pairs")}


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
    """Per-group FNMR, FMR, FNIR and FPIR at one global threshold; see the module docstring."""
    if not 0 < target_fmr < 1:
        raise InvalidInput(f"target FMR {target_fmr} must be between 0 and 1, e.g. 0.001")
    if bootstrap < 1:
        raise InvalidInput("bootstrap replicates must be at least 1, e.g. 1000")
    overall = overall_scores(ex, max_impostor_pairs, seed)
    threshold = ev.round_up(metrics.threshold_for_rate(overall.impostor, target_fmr))
    if not math.isfinite(threshold):
        raise InvalidInput("too few impostor pairs to set a threshold; evaluate at least two identities")
    overall_fnmr = metrics.fnmr_at(overall.genuine, threshold)
    search = ev.searches(ex, seed)
    names = sorted(set(ex.labels))
    ident: IntArray = np.searchsorted(np.array(names), np.array(ex.labels)).astype(np.int64)
    ga, _gb = ev.genuine_pairs(ex.labels)
    genuine = overall.genuine
    mated_ident = ident[np.array(search.mated_probes, dtype=np.int64)]
    nonmated_ident = ident[np.array(search.nonmated_probes, dtype=np.int64)]
    fnmr_needed = math.ceil(RULE_OF / overall_fnmr) if overall_fnmr > 0 else None
    fmr_needed = math.ceil(RULE_OF / target_fmr - 1e-9)

    groups: dict[str, dict[str, object]] = {}
    summaries: dict[str, object] = {}
    findings: list[str] = []
    all_scores: dict[str, dict[str, GroupScores]] = {}
    for column in labels.columns:
        by_value: dict[str, list[int]] = {}
        for k, name in enumerate(names):
            value = labels.value(name, column)
            if value is not None:
                by_value.setdefault(value, []).append(k)
        made: list[_Group] = []
        for value in sorted(by_value):
            members = np.array(by_value[value], dtype=np.int64)
            made.append(
                _one_group(
                    ex,
                    column,
                    value,
                    members,
                    ident,
                    ga,
                    genuine,
                    threshold,
                    search,
                    mated_ident,
                    nonmated_ident,
                    max_group_impostor_pairs,
                    seed,
                    bootstrap,
                    max_rank,
                )
            )
        for g in made:
            _judge(g, min_identities, fnmr_needed, fmr_needed, target_fmr)
        summary, column_findings = _compare(column, made)
        summary["labelled_identities"] = sum(g.identities for g in made)
        summary["unlabelled_identities"] = len(names) - sum(g.identities for g in made)
        summaries[column] = summary
        findings.extend(column_findings)
        groups[column] = {g.value: _group_dict(g) for g in made}
        all_scores[column] = {g.value: g.scores for g in made}

    overall_fmr = metrics.fmr_at(overall.impostor, threshold)
    fnir = metrics.fnir_at(search.ranks, search.mate_scores, threshold, max_rank) if search.ranks else None
    fpir = metrics.fpir_at(search.nonmated_top, threshold) if search.nonmated_top else None
    headline = (
        f"All figures are at one threshold, {threshold:.6f}, set for an overall FMR of {target_fmr:g} on "
        f"{overall.impostor.size:,} impostor pairs. There the whole set has FNMR {_pct(overall_fnmr)} and "
        f"FMR {_pct(overall_fmr)}."
    )
    protocol = {
        "threshold": threshold,
        "target_fmr": target_fmr,
        "threshold_rule": (
            f"smallest score threshold whose FMR on the evaluation's {overall.impostor.size} impostor pairs "
            f"(seed {seed}) is at most {target_fmr:g}, rounded up to 6 decimals"
        ),
        "overall": {
            "fnmr": _r6(overall_fnmr),
            "fmr": _r6(overall_fmr),
            "fnir": _r6(fnir) if fnir is not None else None,
            "fpir": _r6(fpir) if fpir is not None else None,
            "pairs": {"genuine": int(genuine.size), "impostor": int(overall.impostor.size)},
            "searches": {"mated": len(search.ranks), "nonmated": len(search.nonmated_top)},
        },
        "labels": {
            "file": labels.source,
            "sha256": labels.sha256,
            "identity_column": labels.identity_column,
            "columns": labels.columns,
            "skipped_columns": labels.skipped,
        },
        "same_group_impostors": (
            f"every pair of photos of two different identities of the group, or a seeded sample of "
            f"{max_group_impostor_pairs} where there are more"
        ),
        "max_group_impostor_pairs": max_group_impostor_pairs,
        "bootstrap": {
            "replicates": bootstrap,
            "seed": seed,
            "method": (
                "cluster bootstrap: the group's identities resampled with replacement; a genuine pair weighs its "
                "identity's draw count, an impostor pair the product of its two identities' draw counts; "
                "95 % interval = 2.5th and 97.5th percentile (inverted CDF) of the replicate rates"
            ),
        },
        "reliability": {
            "min_identities": min_identities,
            "rule": (
                f"FNMR reliable with >= {min_identities} identities with genuine pairs and >= {RULE_OF} / overall "
                f"FNMR genuine pairs ({fnmr_needed if fnmr_needed else 'unreachable: no false non-matches overall'}); "
                f"FMR reliable with >= {min_identities} identities and >= {RULE_OF} / target FMR "
                f"same-group impostor pairs ({fmr_needed})"
            ),
            "fnmr_pairs_needed": fnmr_needed,
            "fmr_pairs_needed": fmr_needed,
        },
        "max_rank": max_rank,
    }
    result: dict[str, object] = {
        "groups": groups,
        "group_summary": summaries,
        "findings": [headline, *findings],
        "group_protocol": protocol,
    }
    return Differentials(result, threshold, overall, all_scores)


def _one_group(
    ex: ev.Extracted,
    column: str,
    value: str,
    members: IntArray,
    ident: IntArray,
    ga: IntArray,
    genuine: FloatArray,
    threshold: float,
    search: ev.Searches,
    mated_ident: IntArray,
    nonmated_ident: IntArray,
    cap: int,
    seed: int,
    replicates: int,
    max_rank: int,
) -> _Group:
    local = np.full(int(ident.max()) + 1, -1, dtype=np.int64)
    local[members] = np.arange(members.size)
    photos = np.flatnonzero(local[ident] >= 0).astype(np.int64)
    # Mated pairs of the group's identities.
    in_group = local[ident[ga]] >= 0
    g_scores = genuine[in_group]
    fnmr = _genuine_rate(
        g_scores < threshold, local[ident[ga[in_group]]], members.size, _rng(seed, column, value, "fnmr"), replicates
    )
    # Same-group impostor pairs: both photos in the group, two different identities.
    la, lb = ev.impostor_pairs([ex.labels[i] for i in photos], cap, seed)
    ia, ib = photos[la], photos[lb]
    i_scores = _scores(ex, ia, ib)
    fmr = _impostor_rate(
        i_scores >= threshold,
        local[ident[ia]],
        local[ident[ib]],
        members.size,
        _rng(seed, column, value, "fmr"),
        replicates,
    )
    # 1:N at the same threshold.
    mated = np.flatnonzero(local[mated_ident] >= 0) if mated_ident.size else np.zeros(0, dtype=np.int64)
    nonmated = np.flatnonzero(local[nonmated_ident] >= 0) if nonmated_ident.size else np.zeros(0, dtype=np.int64)
    fnir = (
        metrics.fnir_at([search.ranks[i] for i in mated], [search.mate_scores[i] for i in mated], threshold, max_rank)
        if mated.size
        else None
    )
    fpir = metrics.fpir_at([search.nonmated_top[i] for i in nonmated], threshold) if nonmated.size else None
    genuine_identities = int(np.unique(ident[ga[in_group]]).size)
    return _Group(
        column=column,
        value=value,
        identities=int(members.size),
        images=int(photos.size),
        detection_failures=int((~ex.found[photos]).sum()),
        fnmr=fnmr,
        fmr=fmr,
        genuine_identities=genuine_identities,
        fnir=fnir,
        fpir=fpir,
        mated=int(mated.size),
        nonmated=int(nonmated.size),
        scores=GroupScores(g_scores, i_scores),
    )


def _ids(n: int) -> str:
    return f"{n} identity" if n == 1 else f"{n} identities"


def _judge(g: _Group, min_identities: int, fnmr_needed: int | None, fmr_needed: int, target_fmr: float) -> None:
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


def _compare(column: str, made: list[_Group]) -> tuple[dict[str, object], list[str]]:
    """Ratios to the best group, the column summary and the plain-language findings.

    The reference (best) group is the lowest rate among the reliable groups (among all
    measured groups where none is reliable). The worst group is the highest rate among the
    reliable groups where at least two are reliable, else among all measured groups, and
    ``{kind}_comparison_reliable`` says which."""
    summary: dict[str, object] = {"groups": len(made)}
    lines: list[tuple[int, str]] = []
    for kind in ("fnmr", "fmr"):
        name, errors_word, pairs_word = _WORDS[kind]
        measured = [g for g in made if g.rate(kind).rate is not None]
        reliable = [g for g in measured if g.reliable[kind]]
        for g in made:
            g.ratio[kind], g.ratio_ci[kind] = None, None
        summary[f"{kind}_comparison_reliable"] = len(reliable) >= 2
        if len(measured) < 2:
            summary.update({f"best_{kind}_group": None, f"worst_{kind}_group": None, f"max_min_{kind}_ratio": None})
            summary[f"{kind}_note"] = f"fewer than two groups of {column} have an {name}; nothing to compare"
            lines.append((3, f"{name} cannot be compared across {column}: fewer than two groups have {pairs_word}."))
            continue

        def rate_of(g: _Group, kind: str = kind) -> float:
            r = g.rate(kind).rate
            return r if r is not None else math.inf

        best = min(reliable or measured, key=lambda g: (rate_of(g), -g.rate(kind).pairs, g.value))
        worst = max(reliable if len(reliable) >= 2 else measured, key=lambda g: (rate_of(g), g.rate(kind).pairs))
        best_rate, worst_rate = rate_of(best), rate_of(worst)
        summary[f"best_{kind}_group"] = best.value
        summary[f"worst_{kind}_group"] = worst.value
        if len(reliable) < 2:
            summary[f"{kind}_note"] = (
                f"{len(reliable)} group(s) of {column} have a reliable {name}; best and worst are taken over all "
                f"measured groups, so the comparison is not reliable"
            )
        worse = sorted((g for g in measured if rate_of(g) > best_rate), key=rate_of, reverse=True)
        if best_rate == 0:
            why = (
                f"the lowest-{name} group ({best.label}) had no {errors_word} in {best.rate(kind).pairs:,} "
                f"{pairs_word}, so ratios to it are undefined; compare the rates and their intervals"
            )
            summary[f"max_min_{kind}_ratio"] = None
            summary[f"{kind}_note"] = why
            for g in measured:
                g.notes.append(f"no {name} ratio: {why}")
            for g in worse:
                r = g.rate(kind)
                text = (
                    f"{name} for {g.label} is {_pct(r.rate)} ({r.errors:,} of {r.pairs:,} {pairs_word}; "
                    f"{_ci_text(_interval(r.replicates))}), while {best.label} had no {errors_word} in "
                    f"{best.rate(kind).pairs:,} {pairs_word}, so no ratio can be given."
                )
                lines.append(_flag(text, g, best, kind, significant=False))
            continue
        summary[f"max_min_{kind}_ratio"] = round(worst_rate / best_rate, 4)
        base = best.rate(kind).replicates
        for g in measured:
            g.ratio[kind] = round(rate_of(g) / best_rate, 4)
            if g is not best:
                with np.errstate(invalid="ignore", divide="ignore"):
                    g.ratio_ci[kind] = _ratio_interval(g.rate(kind).replicates / base)
        for g in worse:
            ratio, ci, r = g.ratio[kind], g.ratio_ci[kind], g.rate(kind)
            assert ratio is not None
            chance = ci is None or ci[0] is None or ci[0] <= 1
            if ci is None:
                caveat = " There is no interval: one of the two groups has a single identity."
            elif chance:
                caveat = " The interval includes 1, so the difference may be chance."
            else:
                caveat = ""
            text = (
                f"{name} for {g.label} is {ratio:.2f} times that of {best.label}"
                + ("" if ci is None else f" (95 % CI of the ratio {_num(ci[0])} to {_num(ci[1])})")
                + f": {_pct(r.rate)} against {_pct(best_rate)} ({r.errors:,} of {r.pairs:,} {pairs_word} against "
                f"{best.rate(kind).errors:,} of {best.rate(kind).pairs:,})." + caveat
            )
            lines.append(_flag(text, g, best, kind, significant=not chance))
        rest = [g for g in measured if g is not best and rate_of(g) <= best_rate]
        if rest:
            listed = ", ".join(f"{g.label} ({_pct(g.rate(kind).rate)})" for g in rest)
            text = f"{name} at or below that of {best.label} ({_pct(best_rate)}): {listed}."
            weak = [g for g in rest if not g.reliable[kind]]
            if weak:
                text += f" Not reliable for {', '.join(g.label for g in weak)}: too few identities or pairs."
            lines.append((2 if weak else 1, text))
    for g in made:
        if g.fnmr.pairs == 0 and g.fmr.pairs == 0:
            lines.append(
                (3, f"{g.label} has no genuine and no impostor pairs ({g.identities} identities): no figures.")
            )
    return summary, [text for _, text in sorted(lines, key=lambda item: item[0])]


def _num(x: float | None) -> str:
    return "unbounded" if x is None else f"{x:.2f}"


def _ratio_interval(values: FloatArray) -> list[float | None] | None:
    ci = _interval(values)
    if ci is None:
        return None
    return [round(ci[0], 4) if ci[0] is not None else None, round(ci[1], 4) if ci[1] is not None else None]


def _flag(text: str, g: _Group, best: _Group, kind: str, significant: bool) -> tuple[int, str]:
    """The finding with its sort priority: 0 reliable and beyond chance, 1 reliable, 2 not reliable."""
    weak = [x.label for x in (g, best) if not x.reliable[kind]]
    if not weak:
        return (0 if significant else 1, text)
    return 2, text + f" Not reliable: too few identities or pairs for {' and '.join(weak)} (see the reliability rule)."


def _group_dict(g: _Group) -> dict[str, object]:
    def rate(r: _Rate) -> float | None:
        return _r6(r.rate) if r.rate is not None else None

    return {
        "identities": g.identities,
        "images": g.images,
        "detection_failures": g.detection_failures,
        "pairs": {"genuine": g.fnmr.pairs, "impostor": g.fmr.pairs},
        "errors": {"false_non_matches": g.fnmr.errors, "false_matches": g.fmr.errors},
        "fnmr": rate(g.fnmr),
        "fnmr_ci": _interval(g.fnmr.replicates) if g.fnmr.pairs else None,
        "fnmr_ratio": g.ratio.get("fnmr"),
        "fnmr_ratio_ci": g.ratio_ci.get("fnmr"),
        "fmr": rate(g.fmr),
        "fmr_ci": _interval(g.fmr.replicates) if g.fmr.pairs else None,
        "fmr_ratio": g.ratio.get("fmr"),
        "fmr_ratio_ci": g.ratio_ci.get("fmr"),
        "fnir": _r6(g.fnir) if g.fnir is not None else None,
        "fpir": _r6(g.fpir) if g.fpir is not None else None,
        "searches": {"mated": g.mated, "nonmated": g.nonmated},
        "reliable": dict(g.reliable),
        "notes": list(g.notes),
    }
