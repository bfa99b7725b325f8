"""The evaluation report: DET curves per group as PNG, and one self-contained HTML file.

The HTML has no external assets: CSS is inline, every figure is a PNG embedded as a
``data:`` URI, and every piece of text (identity labels, group values, paths) is escaped.
It puts the findings first, in plain language, then the threshold and how it was set, the
overall figures, the per-group tables with their 95 % intervals and ratios, and the data
set's fingerprint, model and detector.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facedocket.matching import metrics
from facedocket.oversight.demographics import Differentials, GroupScores

FloatArray = npt.NDArray[np.float64]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f0f0f0; } td.l, th.l { text-align: left; }
tr.unreliable td { color: #666; font-style: italic; }
.findings li { margin: 0.35em 0; } .note { color: #555; font-size: 0.9em; }
.caveat { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.5em 1em; }
code { background: #f4f4f4; padding: 0 0.2em; } img { max-width: 100%; }
"""


def det_points(genuine: npt.ArrayLike, impostor: npt.ArrayLike, points: int = 200) -> tuple[FloatArray, FloatArray]:
    """(FMR, FNMR) at up to ``points`` thresholds spaced evenly in log FMR, from one false
    match up to all impostors; thresholds follow :func:`metrics.threshold_for_rate` (ties
    rejected together). Points with FMR 0 are left out (they cannot be drawn on a log axis)."""
    gen = np.sort(np.asarray(genuine, dtype=np.float64).ravel())
    imp = np.sort(np.asarray(impostor, dtype=np.float64).ravel())
    if gen.size == 0 or imp.size == 0:
        return np.zeros(0), np.zeros(0)
    # k false matches allowed: the threshold is just above the (k+1)-th highest impostor score.
    allowed = np.unique(np.floor(np.logspace(0, math.log10(imp.size), points)).astype(np.int64))
    allowed = allowed[(allowed >= 1) & (allowed < imp.size)]
    thresholds = np.nextafter(imp[::-1][allowed], math.inf)
    fmr = (imp.size - np.searchsorted(imp, thresholds, side="left")) / imp.size
    fnmr = np.searchsorted(gen, thresholds, side="left") / gen.size
    keep = fmr > 0
    return fmr[keep], fnmr[keep]


def det_png(
    curves: Mapping[str, GroupScores],
    threshold: float | None,
    title: str,
    reliable: Mapping[str, bool] | None = None,
) -> bytes:
    """A DET plot (FMR against FNMR, both log) with one curve per entry of ``curves``; the
    operating point at ``threshold`` is marked on each. Curves marked unreliable are dashed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.0), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    low = 1.0
    for i, (name, scores) in enumerate(curves.items()):
        fmr, fnmr = det_points(scores.genuine, scores.impostor)
        if fmr.size == 0:
            continue
        dashed = reliable is not None and not reliable.get(name, True)
        label = f"{name} ({scores.genuine.size:,} gen / {scores.impostor.size:,} imp)" + (" *" if dashed else "")
        colour = "#444444" if name == "all" else f"C{i % 10}"
        (line,) = ax.plot(fmr, np.maximum(fnmr, 1e-4), linestyle="--" if dashed else "-", color=colour, label=label)
        low = min(low, float(fmr.min()))
        if threshold is not None:
            at_fmr = metrics.fmr_at(scores.impostor, threshold)
            at_fnmr = metrics.fnmr_at(scores.genuine, threshold)
            if at_fmr > 0:
                ax.plot([at_fmr], [max(at_fnmr, 1e-4)], marker="o", color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(max(low, 1e-7) / 1.5, 1.0)
    ax.set_ylim(1e-4 / 1.5, 1.05)
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7, loc="lower left")
    note = "dots: the operating threshold; dashed (*): not reliable; FNMR 0 drawn at 1e-4"
    fig.text(0.01, 0.01, note, fontsize=7, color="#555555")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(rate: object) -> str:
    if rate is None or not isinstance(rate, (int, float)) or math.isnan(rate):
        return "n/a"
    value = 100 * float(rate)
    if value == 0:
        return "0 %"
    return f"{value:.2f} %" if value >= 1 else f"{value:.2g} %"


def _ci(ci: object, percent: bool = True) -> str:
    if not isinstance(ci, Sequence) or len(ci) != 2:
        return "n/a"
    low, high = ci

    def fmt(x: object) -> str:
        if x is None:
            return "unbounded"
        return _pct(x) if percent else f"{float(x):.2f}"  # type: ignore[arg-type]

    return f"{fmt(low)} – {fmt(high)}"


def _ratio(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.2f}×"  # type: ignore[arg-type]


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, classes: Sequence[str] = ()) -> str:
    """A table; cells are escaped here. The first ``left`` columns are left-aligned."""
    th = "".join(f'<th class="l">{_e(h)}</th>' if i < left else f"<th>{_e(h)}</th>" for i, h in enumerate(head))
    body = []
    for r, row in enumerate(rows):
        cls = f' class="{_e(classes[r])}"' if r < len(classes) and classes[r] else ""
        tds = "".join(f'<td class="l">{_e(c)}</td>' if i < left else f"<td>{_e(c)}</td>" for i, c in enumerate(row))
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


def render_html(result: Mapping[str, Any], figures: Mapping[str, bytes] | None = None) -> str:
    """The report as one HTML string. ``figures``: ``"all"`` and column names -> PNG bytes."""
    figures = figures or {}
    ver, ident = result.get("verification", {}), result.get("identification", {})
    protocol = result.get("group_protocol")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>FaceDocket accuracy evaluation</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>FaceDocket accuracy evaluation</h1>",
        f'<p class="note">Data: {_e(result.get("data_dir", "?"))}; {_e(result.get("images"))} photos of '
        f"{_e(result.get('identities'))} identities. Model {_e(result.get('model'))}, detector "
        f"{_e(result.get('detector'))}.</p>",
    ]
    parts.append("<h2>Findings</h2>")
    findings = result.get("findings")
    if findings:
        parts.append('<ul class="findings">' + "".join(f"<li>{_e(f)}</li>" for f in findings) + "</ul>")
        parts.append(
            '<p class="caveat">Rates are measured on this data set only. A group marked <em>not reliable</em> has '
            "too few identities or pairs for its figure to be trusted (rule below); absence of a measured "
            "difference is not evidence that there is none.</p>"
        )
    else:
        parts.append("<p>No group labels were given (<code>--groups</code>), so no per-group findings.</p>")

    parts.append("<h2>Threshold</h2>")
    if protocol:
        parts.append(
            f"<p>Every per-group figure is at one global threshold, <strong>{_e(protocol['threshold'])}</strong>: "
            f"the {_e(protocol['threshold_rule'])}.</p>"
        )
    thresholds = ver.get("threshold_at_fmr", {})
    if thresholds:
        parts.append(
            "<p>Overall thresholds for target FMRs (the smallest score threshold whose FMR on the impostor pairs is "
            "at most the target, rounded up to 6 decimals):</p>"
        )
        parts.append(_table(["target FMR", "threshold"], [[k, f"{v}"] for k, v in thresholds.items()]))

    parts.append("<h2>Overall figures</h2>")
    rows = [
        ["photos", str(result.get("images"))],
        ["identities", str(result.get("identities"))],
        ["detection failures", str(result.get("detection_failures"))],
        ["genuine pairs", str(ver.get("genuine_pairs"))],
        ["impostor pairs", str(ver.get("impostor_pairs"))],
        *[[f"FNMR at FMR {k}", _pct(v)] for k, v in ver.get("fnmr_at_fmr", {}).items()],
        ["EER", _pct(ver.get("eer"))],
        ["rank-1 (1:N)", _pct(ident.get("rank1"))],
        *[[f"FNIR at FPIR {k} (1:N)", _pct(v)] for k, v in ident.get("fnir_at_fpir", {}).items()],
    ]
    if protocol:
        o = protocol["overall"]
        rows += [
            [f"FNMR at the threshold {protocol['threshold']}", _pct(o["fnmr"])],
            [f"FMR at the threshold {protocol['threshold']}", _pct(o["fmr"])],
            [f"FNIR at the threshold {protocol['threshold']}", _pct(o["fnir"])],
            [f"FPIR at the threshold {protocol['threshold']}", _pct(o["fpir"])],
        ]
    parts.append(_table(["figure", "value"], rows))
    table = ver.get("fmr_table")
    if table:
        parts.append("<h3>FMR table</h3>")
        parts.append(
            _table(
                ["FMR", "threshold", "FNMR there"],
                [[f"{r['fmr']:g}", f"{r['threshold']}", _pct(r.get("fnmr"))] for r in table],
                left=0,
            )
        )
    if "all" in figures:
        parts.append(_img(figures["all"], "DET curve of the whole data set"))

    groups = result.get("groups") or {}
    summary = result.get("group_summary") or {}
    if groups:
        parts.append("<h2>Per-group figures</h2>")
    for column, values in groups.items():
        parts.append(f"<h3>{_e(column)}</h3>")
        s = summary.get(column, {})
        worst_fnmr, worst_fmr = s.get("worst_fnmr_group"), s.get("worst_fmr_group")
        parts.append(
            f"<p>Worst FNMR: {_e(f'{column}={worst_fnmr}' if worst_fnmr is not None else 'n/a')}, max/min FNMR ratio "
            f"{_ratio(s.get('max_min_fnmr_ratio'))}. "
            f"Worst FMR: {_e(f'{column}={worst_fmr}' if worst_fmr is not None else 'n/a')}, max/min "
            f"FMR ratio {_ratio(s.get('max_min_fmr_ratio'))}. Labelled identities {_e(s.get('labelled_identities'))}, "
            f"unlabelled {_e(s.get('unlabelled_identities'))}.</p>"
        )
        for key in ("fnmr_note", "fmr_note"):
            if s.get(key):
                parts.append(f'<p class="note">{_e(s[key])}</p>')
        head = [
            "group", "identities", "photos", "genuine pairs", "FNMR", "FNMR 95 % CI", "FNMR ratio", "ratio CI",
            "impostor pairs", "FMR", "FMR 95 % CI", "FMR ratio", "ratio CI", "FNIR (mated)", "FPIR (non-mated)",
            "reliable",
        ]  # fmt: skip
        rows, classes, notes = [], [], []
        for value, g in values.items():
            rel = g["reliable"]
            rows.append(
                [
                    f"{column}={value}",
                    str(g["identities"]),
                    str(g["images"]),
                    f"{g['pairs']['genuine']:,}",
                    _pct(g["fnmr"]),
                    _ci(g["fnmr_ci"]),
                    _ratio(g["fnmr_ratio"]),
                    _ci(g["fnmr_ratio_ci"], percent=False),
                    f"{g['pairs']['impostor']:,}",
                    _pct(g["fmr"]),
                    _ci(g["fmr_ci"]),
                    _ratio(g["fmr_ratio"]),
                    _ci(g["fmr_ratio_ci"], percent=False),
                    f"{_pct(g['fnir'])} ({g['searches']['mated']})",
                    f"{_pct(g['fpir'])} ({g['searches']['nonmated']})",
                    f"FNMR {'yes' if rel.get('fnmr') else 'no'}, FMR {'yes' if rel.get('fmr') else 'no'}",
                ]
            )
            classes.append("" if rel.get("fnmr") and rel.get("fmr") else "unreliable")
            notes += [f"{column}={value}: {n}" for n in g["notes"]]
        parts.append(_table(head, rows, classes=classes))
        if notes:
            parts.append('<ul class="note">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
        if column in figures:
            parts.append(_img(figures[column], f"DET curves per group of {column}"))

    parts.append("<h2>Method</h2>")
    parts.append(
        "<p>Verification and identification follow ISO/IEC 19795-1 (see <code>docs/evaluation.md</code>). "
        "FNMR: share of genuine pairs scoring below the threshold. FMR: share of impostor pairs at or above it; "
        "a group's FMR uses same-group impostor pairs (both photos in the group, two different identities). "
        "FNIR and FPIR per group come from the evaluation's 1:N split, grouped by the probe's identity.</p>"
    )
    if protocol:
        parts.append(
            _table(
                ["item", "value"],
                [
                    ["same-group impostor pairs", protocol["same_group_impostors"]],
                    ["confidence intervals", protocol["bootstrap"]["method"]],
                    ["bootstrap replicates", str(protocol["bootstrap"]["replicates"])],
                    ["bootstrap seed", str(protocol["bootstrap"]["seed"])],
                    ["reliability rule", protocol["reliability"]["rule"]],
                    ["group ratios", "each group's rate over the lowest rate among the reliable groups"],
                    ["labels file", protocol["labels"]["file"]],
                    ["labels SHA-256", protocol["labels"]["sha256"]],
                    ["group columns", ", ".join(protocol["labels"]["columns"])],
                    ["skipped columns", ", ".join(protocol["labels"]["skipped_columns"]) or "none"],
                ],
            )
        )  # fmt: skip
    parts.append("<h2>Data set, model and settings</h2>")
    fp = result.get("fingerprint") or {}
    rows = [
        ["data folder", str(result.get("data_dir"))],
        ["fingerprint (SHA-256)", str(fp.get("sha256"))],
        ["fingerprint method", str(fp.get("method"))],
        ["files", str(fp.get("files"))],
        ["model", str(result.get("model"))],
        ["detector", str(result.get("detector"))],
        ["runtime", str(result.get("runtime"))],
        ["flip, jitter", f"{result.get('flip')}, {result.get('jitter')}"],
    ]
    rows += [[f"setting {k}", str(v)] for k, v in (result.get("settings") or {}).items()]
    parts.append(_table(["item", "value"], rows))
    parts.append("</body></html>")
    return "\n".join(parts)


def figures(result: Mapping[str, Any], overall: GroupScores, diff: Differentials | None = None) -> dict[str, bytes]:
    """The DET PNGs: ``"all"`` (the whole set) and one per group column."""
    threshold: float | None = diff.threshold if diff is not None else None
    if threshold is None:
        value = result.get("verification", {}).get("threshold_at_fmr", {}).get("0.001")
        threshold = float(value) if value is not None else None
    out = {"all": det_png({"all": overall}, threshold, "DET, whole data set")}
    if diff is not None:
        groups = diff.result.get("groups")
        assert isinstance(groups, dict)
        for column, by_value in diff.scores.items():
            curves: dict[str, GroupScores] = {"all": overall}
            reliable: dict[str, bool] = {}
            for value, scores in by_value.items():
                if scores.genuine.size and scores.impostor.size:
                    key = f"{column}={value}"
                    curves[key] = scores
                    flags = groups[column][value]["reliable"]
                    reliable[key] = bool(flags.get("fnmr") and flags.get("fmr"))
            out[column] = det_png(curves, threshold, f"DET per {column} (same-group impostors)", reliable)
    return out


def write_report(
    path: str | Path, result: Mapping[str, Any], overall: GroupScores, diff: Differentials | None = None
) -> Path:
    """Write the self-contained HTML report to ``path``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(result, figures(result, overall, diff)), encoding="utf-8")
    return out
