"""The evaluation report: DET curves per group as PNG, and one self-contained HTML file
rendered from the ``evaluation.html`` template (:mod:`facedocket.render`).

The HTML has no external assets: CSS is inline, every figure is a PNG embedded as a
``data:`` URI, and every piece of text (identity labels, group values, paths) is escaped.
It puts the findings first, in plain language, then the threshold and how it was set, the
overall figures, every template model side by side (from their cards' calibrations, with
their known per-group differentials), the per-group tables with their 95 % intervals and
ratios, and the data set's fingerprint, model and detector.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from facedocket.matching import metrics
from facedocket.oversight.demographics import Differentials, GroupScores
from facedocket.render import render
from facedocket.vision.models import DEFAULT_MODEL_ID, model_card, template_model_ids

COMPARED_RATES = (1e-2, 1e-3, 1e-4)
"""The false-match rates at which the report sets the template models side by side."""

FloatArray = npt.NDArray[np.float64]


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


def recorded_det_png(result: Mapping[str, Any], title: str = "DET, as kept on record") -> bytes | None:
    """A DET plot of an evaluation kept on record, from its ``fmr_table`` (the raw scores are
    not kept): one point per tabulated false-match rate, joined; the marked point is FMR 1e-3.
    None when the result has no table."""
    table = (result.get("verification") or {}).get("fmr_table") or []
    points = sorted((float(row["fmr"]), float(row["fnmr"])) for row in table if float(row["fmr"]) > 0)
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 5.0), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    fmr = [f for f, _ in points]
    fnmr = [max(n, 1e-4) for _, n in points]
    ax.plot(fmr, fnmr, marker="o", color="#0b3f91", label=f"{result.get('model', '?')} ({len(points)} points)")
    marked = [(f, n) for f, n in zip(fmr, fnmr, strict=True) if abs(f - 1e-3) < 1e-12]
    if marked:
        ax.plot([marked[0][0]], [marked[0][1]], marker="s", markersize=10, color="#8f0d1f", label="FMR 1e-3")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.text(0.01, 0.01, "points: the thresholds kept with the evaluation; FNMR 0 drawn at 1e-4", fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def model_comparison(evaluated: object = None) -> list[dict[str, Any]]:
    """Every template model this process knows, side by side, from its card: the FNMR its
    calibration measured at :data:`COMPARED_RATES`, its FMR-1e-3 threshold, the data and
    date, and the per-group differentials the card records (``extra.differentials``)."""
    rows = []
    for model_id in template_model_ids():
        card = model_card(model_id)
        calibration = card.calibration
        measured = {round(float(r["fmr"]), 12): r.get("fnmr") for r in calibration.fmr_table} if calibration else {}
        rows.append({
            "model": model_id, "evaluated": model_id == evaluated, "default": model_id == DEFAULT_MODEL_ID,
            "fnmr": [measured.get(round(rate, 12)) for rate in COMPARED_RATES],
            "threshold": calibration.threshold if calibration else None,
            "data": f"{calibration.data}, {calibration.date}" if calibration else "not calibrated",
            "differentials": card.extra.get("differentials", ""),
        })  # fmt: skip
    return rows


def render_html(result: Mapping[str, Any], figures: Mapping[str, bytes] | None = None) -> str:
    """The report as one HTML string. ``figures``: ``"all"`` and column names -> PNG bytes."""
    return render("evaluation.html", result=result, figures=figures or {}, models=model_comparison(result.get("model")),
                  rates=COMPARED_RATES)  # fmt: skip


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
