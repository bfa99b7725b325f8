"""The case export: one self-contained HTML file per request — what a defence lawyer
receives in disclosure.

It holds the request and its legal basis, the probe photo (unless purged), every search
with its threshold and candidate list (scores and the false-candidate estimate), the
reviews, the audit events of the request with their hashes (verifiable against the
chain), and the label "investigative lead — not a positive identification". The export
itself is recorded, with the SHA-256 of the file.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from facedocket.render import render
from facedocket.service.audit import event_dict
from facedocket.service.base import Actor
from facedocket.service.search import EMPTY_LABEL, LEAD_LABEL, SearchMixin, SearchResult
from facedocket.store.tables import AuditEvent, Candidate, Search, StoredImage

EXPORTERS = ("requester", "examiner", "supervisor", "auditor")


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
    return render(
        "case_file.html", info=info, probe=probe, searches=searches, reviews=reviews, events=events, now=now,
        lead_label=LEAD_LABEL, empty_label=EMPTY_LABEL,
    )  # fmt: skip
