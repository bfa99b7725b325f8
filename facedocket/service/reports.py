"""Reports: the case file of one request, and transparency reports.

The case file is one self-contained HTML file per request — what a defence lawyer receives
in disclosure: the request and its legal basis, the probe photo (unless purged), every
search with its threshold and candidate list (scores and the false-candidate estimate), the
reviews the reader may see, the audit events of the request with their hashes (verifiable
against the chain), and the label "investigative lead — not a positive identification".
The reader sees exactly what the release and blind-review rules let them see; the export
itself is recorded, with the SHA-256 of the file.

Transparency reports (:mod:`facedocket.oversight.transparency`): auditors and admins ask.
An agency's auditor or admin reports on their own agency only (another agency's id is
answered as unknown); the operator agency's auditors and admins report on all agencies
(``agency_id`` None) or on any one. Every report is recorded as ``report.generated`` with
the SHA-256 of the report; the report carries that event's sequence number and the digest
in ``recorded_as``, so a published report can be found in the chain.
"""

from __future__ import annotations

import hashlib
from typing import Any

from facedocket.errors import NotFound
from facedocket.governance.permissions import Actor, require
from facedocket.governance.review import sees_unreleased
from facedocket.oversight import transparency
from facedocket.service.audit import event_dict
from facedocket.service.context import Area, Context
from facedocket.service.export import render_case_file
from facedocket.service.request_info import describe
from facedocket.service.requests import Requests, visible_request
from facedocket.service.review import ReviewArea
from facedocket.service.search import Searches
from facedocket.store.queries import audit as audit_queries
from facedocket.store.queries import requests as request_queries
from facedocket.store.queries.transparency import chain_events, report_rows


class Reports(Area):
    """The case file and transparency reports (see the module docstring)."""

    def __init__(self, ctx: Context, requests: Requests, searches: Searches, review: ReviewArea) -> None:
        super().__init__(ctx)
        self.requests, self.searches, self.review = requests, searches, review

    def export_request(self, actor: Actor, request_id: int) -> str:
        """The case file of one request as self-contained HTML (see the module docstring)."""
        self.requests.expire_overdue()
        with self.ctx.write() as session:
            row = visible_request(session, actor, request_id)
            require(actor, "request.export", actor.side(row.agency_id))
            info = describe(session, actor, [row])[0]
            searches = self.searches.of_request(session, actor, row.id)
            receiving = actor.agency_id == row.target_agency_id
            unit = sees_unreleased(actor.role, receiving)
            reviews = self.review.visible(session, actor, row) if unit else []
            image = request_queries.image(session, row.probe_image_id)
            probe = (image.data, image.sha256) if image else None
            objects = {
                "request": [str(row.id)],
                "search": [str(s) for s in request_queries.search_ids(session, row.id)],
                "candidate": [str(c) for c in request_queries.candidate_ids(session, row.id)] if unit else [],
            }
            events = [event_dict(e) for e in audit_queries.of_objects(session, actor.agency_id, objects)]
            document = render_case_file(
                info.__dict__, probe, searches, [r.__dict__ for r in reviews], events, self.clock()
            )
            digest = hashlib.sha256(document.encode("utf-8")).hexdigest()
            self.requests.audit_both(session, actor, "request.exported", row, {"export_sha256": digest})
        return document

    def transparency_report(self, actor: Actor, period: str, agency_id: int | None = None,
                            field_set: str = "full") -> dict[str, Any]:  # fmt: skip
        """The transparency report of ``period`` (``2026``, ``2026Q3``, ``2026-07``) with the
        fields of ``field_set`` (:data:`~facedocket.oversight.transparency.FIELD_SETS`)."""
        require(actor, "report.generate")
        if agency_id is None:
            scope = None if actor.operator else actor.agency_id
        elif agency_id != actor.agency_id and not actor.operator:
            raise NotFound(f"no agency {agency_id}")
        else:
            scope = int(agency_id)
        chosen = transparency.check_request(period, field_set)
        self.requests.expire_overdue()
        with self.ctx.read() as session:
            rows = report_rows(session, chosen.start, chosen.end, scope, transparency.COUNTED_ACTIONS)
            report = transparency.build_report(rows, chain_events(session), period, self.clock(), field_set)
        digest = transparency.report_digest(report)
        details = {"period": report["period"]["label"], "agency_id": scope, "field_set": field_set, "sha256": digest}
        with self.ctx.write() as session:
            event = self.ctx.audit(session, actor, "report.generated", "report", "transparency", details,
                                   agency_id=actor.agency_id if scope is None else scope)  # fmt: skip
            seq = event.seq
        report["recorded_as"] = {"seq": seq, "sha256": digest}
        return report
