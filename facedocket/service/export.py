"""The case file's HTML: one self-contained document per request (see
:meth:`facedocket.service.reports.Reports.export_request` for what goes in and who sees it).
"""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import Any

from facedocket.service.search import LEAD_LABEL, SearchResult

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}
h1,h2{border-bottom:1px solid #ccc;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
td,th{border:1px solid #bbb;padding:.25rem .4rem;text-align:left;vertical-align:top;font-size:.9rem}
th{background:#eee}.label{background:#fff3cd;border:2px solid #c90;padding:.6rem;font-weight:bold}
code{font-size:.75rem;word-break:break-all}.probe{max-width:18rem;border:1px solid #999}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else "—"


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _render(
    info: dict[str, Any],
    probe: tuple[bytes, str] | None,
    searches: list[SearchResult],
    reviews: list[dict[str, Any]],
    events: list[dict[str, Any]],
    now: datetime,
) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Request {info['id']} — case {_e(info['case_number'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Face search request {info['id']} — case {_e(info['case_number'])}</h1>",
        f"<p class='label'>Every candidate below is an {_e(LEAD_LABEL)}. A score is a similarity "
        "between two photos, not a finding that they show the same person.</p>",
        f"<p>Exported {_e(_when(now))}.</p><h2>Request and legal basis</h2>",
        _table(
            ["field", "value"],
            [
                ["case", info["case_number"]],
                ["offence category", info["offence_category"]],
                ["requesting agency", info["agency_id"]],
                ["receiving agency", info["target_agency_id"]],
                ["requester (user id)", info["requester_id"]],
                ["legal basis", info["legal_basis"]],
                ["document type", info["document"]["type"]],
                ["document reference", info["document"]["reference"]],
                ["issued by", info["document"]["issuer"]],
                ["document date", info["document"]["date"]],
                ["document SHA-256", info["document"]["sha256"]],
                ["justification", info["justification"]],
                ["probe source", info["probe_source"]],
                ["probe SHA-256", info["probe_sha256"]],
                ["policy profile", info["policy_name"]],
                ["status", info["status"]],
                ["approval", info["approval"]],
                ["emergency", "yes" if info["emergency"] else "no"],
                ["approval deadline", _when(info["deadline"])],
                ["decided by (user id)", info["decided_by"]],
                ["decided", _when(info["decided"])],
                ["decision reason", info["decision_reason"]],
                ["outcome", info["outcome"] or "—"],
                ["purged", _when(info["purged"])],
            ],
        ),
        "<h2>Probe</h2>",
    ]
    if probe is not None:
        encoded = base64.b64encode(probe[0]).decode("ascii")
        parts.append(f"<img class='probe' alt='probe photo' src='data:image/jpeg;base64,{encoded}'>")
    else:
        parts.append("<p>The probe photo is not held: it was purged.</p>")
    parts.append("<h2>Searches and candidate lists</h2>")
    if not searches:
        parts.append("<p>No search was made under this request.</p>")
    for s in searches:
        parts.append(
            f"<h3>{_e(s.kind)} {s.id} — {_e(_when(s.created))}</h3><p>model {_e(s.model_id)}, threshold "
            f"{s.threshold:.6f}, k {s.k}, gallery size {s.gallery_size} templates, probe quality "
            f"{s.probe_quality:.2f}, {s.duration_ms:.1f} ms.</p>"
        )
        if s.candidates:
            rows: list[list[object]] = [
                [c.rank, c.subject_reference or "(erased)", f"{c.score:.6f}",
                 "—" if c.expected_false is None else f"{c.expected_false:.4g}", "yes" if c.released else "no"]
                for c in s.candidates
            ]  # fmt: skip
            parts.append(
                _table(["rank", "subject", "score", "expected false candidates at this score", "released"], rows)
            )
        else:
            parts.append(f"<p><b>{_e(s.summary)}</b>{' (purged)' if s.purged else ''}.</p>")
    parts.append("<h2>Reviews</h2>")
    if reviews:
        parts.append(
            _table(
                ["candidate", "reviewer", "stage", "disposition", "rationale", "time"],
                [
                    [
                        r["candidate_id"],
                        r["reviewer"],
                        r["stage"],
                        r["disposition"],
                        r["rationale"],
                        _when(r["created"]),
                    ]
                    for r in reviews
                ],
            )
        )
    else:
        parts.append("<p>No reviews are shown in this export.</p>")
    parts.append(
        "<h2>Audit events</h2><p>Each event's hash covers its fields and the previous event's hash; "
        "check them against the audit log export (docs/audit.md).</p>"
    )
    parts.append(
        _table(
            ["seq", "time", "actor", "action", "object", "details", "prev_hash", "hash"],
            [
                [
                    e["seq"],
                    e["time"],
                    e["actor"],
                    e["action"],
                    f"{e['object_type']} {e['object_id']}",
                    e["details"],
                    e["prev_hash"],
                    e["hash"],
                ]
                for e in events
            ],
        )
    )
    parts.append(f"<p class='label'>{_e(LEAD_LABEL)}</p></body></html>")
    return "".join(parts)
