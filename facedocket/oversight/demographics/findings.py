"""Comparing the groups of one column: ratios to the best group, the column summary, and the
findings in plain language, most certain first."""

from __future__ import annotations

import math

import numpy as np

from facedocket.oversight.demographics.groups import Group
from facedocket.oversight.demographics.rates import FloatArray, interval

_WORDS = {"fnmr": ("FNMR", "false non-matches", "genuine pairs"), "fmr": ("FMR", "false matches", "impostor pairs")}

Finding = tuple[int, str]
"""A finding with its sort priority: 0 reliable and beyond chance, 1 reliable, 2 not reliable, 3 no figures."""


def pct(rate: float | None) -> str:
    """A rate as a percentage with sensible precision (``n/a`` for none)."""
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
    return f"95 % CI {pct(low)} to {pct(high) if high is not None else 'unbounded'}"


def _num(x: float | None) -> str:
    return "unbounded" if x is None else f"{x:.2f}"


def _ratio_interval(values: FloatArray) -> list[float | None] | None:
    ci = interval(values)
    if ci is None:
        return None
    return [round(ci[0], 4) if ci[0] is not None else None, round(ci[1], 4) if ci[1] is not None else None]


def _flag(text: str, g: Group, best: Group, kind: str, significant: bool) -> Finding:
    """The finding with its sort priority: 0 reliable and beyond chance, 1 reliable, 2 not reliable."""
    weak = [x.label for x in (g, best) if not x.reliable[kind]]
    if not weak:
        return (0 if significant else 1, text)
    return 2, text + f" Not reliable: too few identities or pairs for {' and '.join(weak)} (see the reliability rule)."


def _rate_of(g: Group, kind: str) -> float:
    r = g.rate(kind).rate
    return r if r is not None else math.inf


def compare(column: str, made: list[Group]) -> tuple[dict[str, object], list[str]]:
    """Ratios to the best group, the column summary and the plain-language findings.

    The reference (best) group is the lowest rate among the reliable groups (among all
    measured groups where none is reliable). The worst group is the highest rate among the
    reliable groups where at least two are reliable, else among all measured groups, and
    ``{kind}_comparison_reliable`` says which."""
    summary: dict[str, object] = {"groups": len(made)}
    lines: list[Finding] = []
    for kind in ("fnmr", "fmr"):
        lines.extend(_compare_kind(column, made, kind, summary))
    for g in made:
        if g.fnmr.pairs == 0 and g.fmr.pairs == 0:
            lines.append(
                (3, f"{g.label} has no genuine and no impostor pairs ({g.identities} identities): no figures.")
            )
    return summary, [text for _, text in sorted(lines, key=lambda item: item[0])]


def _compare_kind(column: str, made: list[Group], kind: str, summary: dict[str, object]) -> list[Finding]:
    """One rate (``fnmr`` or ``fmr``) across the groups: fills ``summary`` and the groups' ratios."""
    name, _errors_word, pairs_word = _WORDS[kind]
    measured = [g for g in made if g.rate(kind).rate is not None]
    reliable = [g for g in measured if g.reliable[kind]]
    for g in made:
        g.ratio[kind], g.ratio_ci[kind] = None, None
    summary[f"{kind}_comparison_reliable"] = len(reliable) >= 2
    if len(measured) < 2:
        summary.update({f"best_{kind}_group": None, f"worst_{kind}_group": None, f"max_min_{kind}_ratio": None})
        summary[f"{kind}_note"] = f"fewer than two groups of {column} have an {name}; nothing to compare"
        return [(3, f"{name} cannot be compared across {column}: fewer than two groups have {pairs_word}.")]
    best = min(reliable or measured, key=lambda g: (_rate_of(g, kind), -g.rate(kind).pairs, g.value))
    worst = max(reliable if len(reliable) >= 2 else measured, key=lambda g: (_rate_of(g, kind), g.rate(kind).pairs))
    best_rate, worst_rate = _rate_of(best, kind), _rate_of(worst, kind)
    summary[f"best_{kind}_group"] = best.value
    summary[f"worst_{kind}_group"] = worst.value
    if len(reliable) < 2:
        summary[f"{kind}_note"] = (
            f"{len(reliable)} group(s) of {column} have a reliable {name}; best and worst are taken over all "
            f"measured groups, so the comparison is not reliable"
        )
    worse = sorted(
        (g for g in measured if _rate_of(g, kind) > best_rate), key=lambda g: _rate_of(g, kind), reverse=True
    )
    if best_rate == 0:
        return _without_ratios(kind, best, measured, worse, summary)
    summary[f"max_min_{kind}_ratio"] = round(worst_rate / best_rate, 4)
    base = best.rate(kind).replicates
    for g in measured:
        g.ratio[kind] = round(_rate_of(g, kind) / best_rate, 4)
        if g is not best:
            with np.errstate(invalid="ignore", divide="ignore"):
                g.ratio_ci[kind] = _ratio_interval(g.rate(kind).replicates / base)
    lines = [_ratio_finding(g, best, kind) for g in worse]
    rest = [g for g in measured if g is not best and _rate_of(g, kind) <= best_rate]
    if rest:
        lines.append(_at_or_below(rest, best, kind))
    return lines


def _without_ratios(
    kind: str, best: Group, measured: list[Group], worse: list[Group], summary: dict[str, object]
) -> list[Finding]:
    """The best group had no errors: no ratios, and each worse group's rate against that."""
    name, errors_word, pairs_word = _WORDS[kind]
    why = (
        f"the lowest-{name} group ({best.label}) had no {errors_word} in {best.rate(kind).pairs:,} "
        f"{pairs_word}, so ratios to it are undefined; compare the rates and their intervals"
    )
    summary[f"max_min_{kind}_ratio"] = None
    summary[f"{kind}_note"] = why
    for g in measured:
        g.notes.append(f"no {name} ratio: {why}")
    lines = []
    for g in worse:
        r = g.rate(kind)
        text = (
            f"{name} for {g.label} is {pct(r.rate)} ({r.errors:,} of {r.pairs:,} {pairs_word}; "
            f"{_ci_text(interval(r.replicates))}), while {best.label} had no {errors_word} in "
            f"{best.rate(kind).pairs:,} {pairs_word}, so no ratio can be given."
        )
        lines.append(_flag(text, g, best, kind, significant=False))
    return lines


def _ratio_finding(g: Group, best: Group, kind: str) -> Finding:
    """How many times the best group's rate ``g`` has, with the ratio's interval and what it allows one to say."""
    name, _errors_word, pairs_word = _WORDS[kind]
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
        + f": {pct(r.rate)} against {pct(_rate_of(best, kind))} ({r.errors:,} of {r.pairs:,} {pairs_word} against "
        f"{best.rate(kind).errors:,} of {best.rate(kind).pairs:,})." + caveat
    )
    return _flag(text, g, best, kind, significant=not chance)


def _at_or_below(rest: list[Group], best: Group, kind: str) -> Finding:
    """The groups (other than the best) whose rate is no higher than the best group's."""
    name = _WORDS[kind][0]
    listed = ", ".join(f"{g.label} ({pct(g.rate(kind).rate)})" for g in rest)
    text = f"{name} at or below that of {best.label} ({pct(_rate_of(best, kind))}): {listed}."
    weak = [g for g in rest if not g.reliable[kind]]
    if weak:
        text += f" Not reliable for {', '.join(g.label for g in weak)}: too few identities or pairs."
    return (2 if weak else 1, text)
