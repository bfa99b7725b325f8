"""The transparency report rendered: :func:`to_json`, :func:`to_csv` (one row per field, key
and value), :func:`to_html` (one self-contained file from the ``transparency.html`` template:
inline CSS, charts as PNG ``data:`` URIs, all text escaped) and :func:`to_pdf` (tables as text
pages, then the charts); :func:`render` picks one by name."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

from facedocket.csvcells import write_rows
from facedocket.errors import InvalidInput
from facedocket.oversight.transparency.fields import FIELD_SETS
from facedocket.render import render as render_template

FORMATS = ("json", "csv", "html", "pdf")


def _title(report: dict[str, Any]) -> str:
    fields = FIELD_SETS.get(str(report.get("field_set")))
    return fields.title if fields else "Transparency report"


def _law(report: dict[str, Any]) -> str:
    fields = FIELD_SETS.get(str(report.get("field_set")))
    return fields.law if fields else ""


def _meta_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    period = report["period"]
    audit_part = report["audit"]
    chain = audit_part["chain"]
    rows = [
        ("report", _title(report)),
        ("law", _law(report)),
        ("field set", str(report["field_set"])),
        ("period", f"{period['label']} ({period['start']} to {period['end']}, end excluded)"),
        ("agency", str(report["agency"]["name"])),
        ("generated", str(report["generated"])),
        ("audit chain", "verifies" if chain["ok"] else f"BROKEN at seq {chain['broken_at']}: {chain['reason']}"),
        ("audit head", f"seq {audit_part['head']['seq']} hash {audit_part['head']['hash']}"),
        ("events in period", str(audit_part["period_events"])),
    ]
    for label, key in (("first event of period", "period_first"), ("last event of period", "period_last")):
        anchor = audit_part.get(key)
        rows.append((label, f"seq {anchor['seq']} hash {anchor['hash']}" if anchor else "none"))
    recorded = report.get("recorded_as")
    if recorded:
        rows.append(("recorded as", f"audit event seq {recorded['seq']}, report sha256 {recorded['sha256']}"))
    return rows


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def csv_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, key, value) rows: first the report's identity and audit anchor (fields named
    ``report.*`` and ``audit.*``), then one row per count (key empty for a single number)."""
    audit_part = report["audit"]
    chain = audit_part["chain"]
    rows: list[tuple[str, str, str]] = [
        ("report.period", "", str(report["period"]["label"])),
        ("report.start", "", str(report["period"]["start"])),
        ("report.end", "", str(report["period"]["end"])),
        ("report.agency", "", str(report["agency"]["name"])),
        ("report.agency_id", "", "" if report["agency"]["id"] is None else str(report["agency"]["id"])),
        ("report.field_set", "", str(report["field_set"])),
        ("report.generated", "", str(report["generated"])),
        ("audit.chain_ok", "", "true" if chain["ok"] else "false"),
        ("audit.broken_at", "", "" if chain["broken_at"] is None else str(chain["broken_at"])),
        ("audit.head_seq", "", str(audit_part["head"]["seq"])),
        ("audit.head_hash", "", str(audit_part["head"]["hash"])),
        ("audit.period_events", "", str(audit_part["period_events"])),
    ]
    for key in ("period_first", "period_last"):
        anchor = audit_part.get(key)
        rows.append((f"audit.{key}_seq", "", str(anchor["seq"]) if anchor else ""))
        rows.append((f"audit.{key}_hash", "", str(anchor["hash"]) if anchor else ""))
    recorded = report.get("recorded_as")
    if recorded:
        rows.append(("report.recorded_as_seq", "", str(recorded["seq"])))
        rows.append(("report.sha256", "", str(recorded["sha256"])))
    for name, value in report["fields"].items():
        if isinstance(value, dict):
            rows += [(name, str(k), str(v)) for k, v in value.items()]
        else:
            rows.append((name, "", str(value)))
    return rows


def to_csv(report: dict[str, Any]) -> str:
    """The report as CSV; text a spreadsheet would run as a formula is escaped (csvcells.py)."""
    out = io.StringIO()
    write_rows(out, [("field", "key", "value"), *csv_rows(report)])
    return out.getvalue()


def _mpl(text: object) -> str:
    """Text for matplotlib, with ``$`` escaped so nothing is read as mathtext."""
    return str(text).replace("$", r"\$")


def _chart_fields(report: dict[str, Any]) -> list[str]:
    return [n for n, v in report["fields"].items() if isinstance(v, dict) and any(int(x) for x in v.values())]


def _bar_figure(name: str, values: dict[str, int]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    labels = list(values)
    height = max(2.2, 0.32 * len(labels) + 1.2)
    figure = Figure(figsize=(7.5, height))
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    axes.barh(positions, [int(values[k]) for k in labels], color="#3b6ea5")
    axes.set_yticks(positions, [_mpl(k) for k in labels])
    axes.invert_yaxis()
    axes.set_title(_mpl(name.replace("_", " ")))
    axes.set_xlabel("count")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for position, label in zip(positions, labels, strict=True):
        if values[label]:
            axes.annotate(str(values[label]), (values[label], position), xytext=(3, 0), textcoords="offset points",
                          va="center", fontsize=8)  # fmt: skip
    figure.tight_layout()
    return figure


def chart_pngs(report: dict[str, Any]) -> dict[str, bytes]:
    """A horizontal bar chart (PNG) for each breakdown with any count above 0."""
    charts: dict[str, bytes] = {}
    for name in _chart_fields(report):
        buffer = io.BytesIO()
        _bar_figure(name, report["fields"][name]).savefig(buffer, format="png", dpi=96)
        charts[name] = buffer.getvalue()
    return charts


def to_html(report: dict[str, Any]) -> str:
    """One self-contained HTML page: no external assets, every text escaped."""
    fields = report["fields"]
    return render_template(
        "transparency.html",
        report=report,
        title=_title(report),
        law=_law(report),
        about=_meta_rows(report),
        counts=[(n, v) for n, v in fields.items() if not isinstance(v, Mapping)],
        breakdowns=[(n, v) for n, v in fields.items() if isinstance(v, Mapping)],
        charts=chart_pngs(report),
    )


def _text_lines(report: dict[str, Any]) -> list[str]:
    lines = [_title(report), _law(report), ""]
    lines += [f"{k}: {v}" for k, v in _meta_rows(report)]
    lines.append("")
    definitions = report.get("definitions", {})
    for name, value in report["fields"].items():
        if isinstance(value, dict):
            lines.append(f"{name}:")
            lines += [f"    {k}: {v}" for k, v in value.items()] or ["    none"]
        else:
            lines.append(f"{name}: {value}")
    lines += ["", "Definitions", ""]
    for name in report["fields"]:
        definition = definitions.get(name, {})
        lines.append(f"{name}: {definition.get('definition', '')}")
        lines.append(f"    source: {definition.get('source', '')}")
    return lines


def _wrap(lines: list[str], width: int) -> list[str]:
    import textwrap

    wrapped: list[str] = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        wrapped += textwrap.wrap(line, width, subsequent_indent=" " * (indent + 4)) or [""]
    return wrapped


def to_pdf(report: dict[str, Any]) -> bytes:
    """A PDF: the identity, audit anchor and tables as text pages, then one chart a page."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    lines = _wrap(_text_lines(report), 95)
    per_page = 60
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": f"{_title(report)} {report['period']['label']}"}) as pdf:
        for first in range(0, len(lines), per_page):
            page = Figure(figsize=(8.27, 11.69))
            page.text(0.06, 0.96, _mpl("\n".join(lines[first : first + per_page])), family="monospace",
                      fontsize=7.5, va="top")  # fmt: skip
            pdf.savefig(page)
        for name in _chart_fields(report):
            pdf.savefig(_bar_figure(name, report["fields"][name]))
    return buffer.getvalue()


def render(report: dict[str, Any], fmt: str) -> str | bytes:
    """The report as ``json``, ``csv``, ``html`` (text) or ``pdf`` (bytes)."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report)
    if fmt == "pdf":
        return to_pdf(report)
    raise InvalidInput(f"format must be one of: {', '.join(FORMATS)}")


MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


__all__ = ["FORMATS", "MEDIA_TYPES", "chart_pngs", "csv_rows", "render", "to_csv", "to_html", "to_json", "to_pdf"]
