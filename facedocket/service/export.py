"""The case export: one self-contained HTML file per request — what a defence lawyer
receives in disclosure.

It holds the request and its legal basis, the probe photo (unless purged), every search
with its threshold and candidate list (scores and the false-candidate estimate), the
reviews, the audit events of the request with their hashes (verifiable against the
chain), and the label "investigative lead — not a positive identification". The export
itself is recorded, with the SHA-256 of the file.
"""

from __future__ import annotations

import base64
import hashlib
import html
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from facedocket.service.audit import event_dict
from facedocket.service.base import Actor
from facedocket.service.search import EMPTY_LABEL, LEAD_LABEL, SearchMixin, SearchResult
from facedocket.store.tables import AuditEvent, Candidate, Search, StoredImage

EXPORTERS = ("requester", "examiner", "supervisor", "auditor")

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


class ExportMixin(SearchMixin):
    def export_request(self, actor: Actor, request_id: int) -> str:
        """The case file of one request as self-contained HTML (see the module docstring).
        The requesting agency of a cross-agency request gets only the released candidates."""
        actor.require(*EXPORTERS)
        info = self.get_request(actor, request_id)
        searches = self.request_searches(actor, request_id)
        reviews = self.list_reviews(actor, request_id) if info.can_see_results and actor.role != "requester" else []
        with self.sessions() as session:
            row = self._request_for(session, actor, request_id)
            image = session.get(StoredImage, row.probe_image_id) if row.probe_image_id else None
            probe = (image.data, image.sha256) if image else None
            search_ids = [str(s) for s in session.scalars(select(Search.id).where(Search.request_id == row.id))]
            candidate_ids = [
                str(c)
                for c in session.scalars(
                    select(Candidate.id)
                    .join(Search, Search.id == Candidate.search_id)
                    .where(Search.request_id == row.id)
                )
            ]
            conditions = [(AuditEvent.object_type == "request") & (AuditEvent.object_id == str(row.id))]
            if search_ids:
                conditions.append((AuditEvent.object_type == "search") & AuditEvent.object_id.in_(search_ids))
            if candidate_ids:
                conditions.append((AuditEvent.object_type == "candidate") & AuditEvent.object_id.in_(candidate_ids))
            events = [
                event_dict(e)
                for e in session.scalars(
                    select(AuditEvent)
                    .where(or_(*conditions), AuditEvent.agency_id == actor.agency_id)
                    .order_by(AuditEvent.seq)
                )
            ]
        document = _render(info.__dict__, probe, searches, [r.__dict__ for r in reviews], events, self.clock())
        digest = hashlib.sha256(document.encode("utf-8")).hexdigest()
        with self.transaction() as session:
            row = self._request_for(session, actor, request_id)
            self._audit_both(session, actor, "request.exported", row, {"export_sha256": digest})
        return document


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
            parts.append(f"<p><b>{_e(EMPTY_LABEL)}</b>{' (purged)' if s.purged else ''}.</p>")
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
