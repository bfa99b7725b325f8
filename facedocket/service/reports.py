"""Reports: the case file of one request, transparency reports, and a video deployment's report.

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
from facedocket.oversight.transparency.video import faces_by_hour, video_counts
from facedocket.service.audit import event_dict
from facedocket.service.context import Area, Context
from facedocket.service.export import render_case_file
from facedocket.service.requests import Requests, visible_request
from facedocket.service.review import ReviewArea
from facedocket.service.search import Searches
from facedocket.store.queries import audit as audit_queries
from facedocket.store.queries import deployments as deployment_queries
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
            info = self.requests.info(session, actor, row)
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
            rows = report_rows(session, chosen.start, chosen.end, scope, transparency.COUNTED_ACTIONS, self.clock())
            report = transparency.build_report(rows, chain_events(session), period, self.clock(), field_set)
        digest = transparency.report_digest(report)
        details = {"period": report["period"]["label"], "agency_id": scope, "field_set": field_set, "sha256": digest}
        with self.ctx.write() as session:
            event = self.ctx.audit(session, actor, "report.generated", "report", "transparency", details,
                                   agency_id=actor.agency_id if scope is None else scope)  # fmt: skip
            seq = event.seq
        report["recorded_as"] = {"seq": seq, "sha256": digest}
        return report

    def deployment_report(self, actor: Actor, deployment_id: int, period: str) -> dict[str, Any]:
        """One deployment's report for ``period``: what it is (site, place, windows,
        watchlists, threshold, DPIA, signage, authorisation), its runs in the period, hours
        active, faces seen (and per hour), alerts, confirmed, dismissed, false-alert figures,
        refusals and the entries added to or gone from its watchlists. Recorded."""
        require(actor, "deployment.read")
        chosen = transparency.period_of(period)
        with self.ctx.read() as session:
            row = deployment_queries.deployment(session, deployment_id)
            if row is None or row.agency_id != actor.agency_id:
                raise NotFound(f"no deployment {deployment_id} in your agency")
            rows = report_rows(session, chosen.start, chosen.end, actor.agency_id, transparency.COUNTED_ACTIONS,
                               self.clock())  # fmt: skip
            runs = deployment_queries.runs_between(session, row.id, chosen.start, chosen.end)
            report: dict[str, Any] = {
                "deployment": {"id": row.id, "name": row.name, "source_kind": row.source_kind, "site": row.site,
                               "place": row.place, "windows": list(row.windows), "timezone": row.timezone,
                               "watchlists": list(row.watchlists), "threshold": row.threshold,
                               "dpia_reference": row.dpia_reference, "signage": row.signage,
                               "authorisation_reference": row.authorisation_reference,
                               "authorised": row.authorised.isoformat() if row.authorised else None},
                "period": {"label": chosen.label, "start": chosen.start.isoformat(), "end": chosen.end.isoformat()},
                "generated": self.clock().isoformat(),
                "fields": video_counts(rows, row.id, set(row.watchlists)),
                "definitions": {k: dict(v) for k, v in transparency.FIELD_DEFINITIONS.items()
                                if k in transparency.FIELD_SETS["live-facial-recognition"].fields},
                "faces_by_hour": faces_by_hour(rows, row.id),
                "runs": [{"id": r.id, "started": r.started.isoformat(),
                          "ended": r.ended.isoformat() if r.ended else None, "reason": r.end_reason,
                          "source_kind": r.source_kind, "faces": r.faces, "alerts": r.alerts, "entries": r.entries,
                          "threshold": r.threshold} for r in runs],
            }  # fmt: skip
        self.ctx.record(actor, "deployment.reported", "deployment", deployment_id, {"period": chosen.label})
        return report
