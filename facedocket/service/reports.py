"""Transparency reports (see :mod:`facedocket.oversight.transparency`): who may ask for one,
for which agency, and the record that one was made.

Auditors and admins ask. An agency's auditor or admin reports on their own agency only
(another agency's id is answered as unknown); the operator agency's auditors and admins
report on all agencies (``agency_id`` None) or on any one. Overdue emergency requests are
expired first, so the report shows how each approval really ended. Every report is recorded
as an audit event ``report.generated`` holding the SHA-256 of the report (its canonical JSON
without ``recorded_as``); the report returned carries that event's sequence number and the
digest in ``recorded_as``, so a published report can be found in the chain.
"""

from __future__ import annotations

from typing import Any

from facedocket.errors import NotFound
from facedocket.oversight import transparency
from facedocket.service.audit import AUDITORS
from facedocket.service.base import Actor
from facedocket.service.requests import RequestsMixin, candidate_state
from facedocket.store.queries.transparency import chain_events, report_rows


class ReportsMixin(RequestsMixin):
    def transparency_report(
        self, actor: Actor, period: str, agency_id: int | None = None, field_set: str = "full"
    ) -> dict[str, Any]:
        """The transparency report of ``period`` (``2026``, ``2026Q3``, ``2026-07``) with the
        fields of ``field_set`` (:data:`~facedocket.oversight.transparency.FIELD_SETS`)."""
        actor.require(*AUDITORS)
        if agency_id is None:
            scope = None if actor.operator else actor.agency_id
        elif agency_id != actor.agency_id and not actor.operator:
            raise NotFound(f"no agency {agency_id}")
        else:
            scope = int(agency_id)
        chosen = transparency.check_request(period, field_set)
        self.expire_overdue()
        with self.sessions() as session:
            rows = report_rows(session, chosen.start, chosen.end, scope, transparency.COUNTED_ACTIONS)
            report = transparency.build_report(rows, chain_events(session), period, self.clock(), field_set,
                                               candidate_state=candidate_state)  # fmt: skip
        digest = transparency.report_digest(report)
        details = {"period": report["period"]["label"], "agency_id": scope, "field_set": field_set, "sha256": digest}
        with self.transaction() as session:
            event = self._audit(session, actor, "report.generated", "report", "transparency", details,
                                agency_id=actor.agency_id if scope is None else scope)  # fmt: skip
            seq = event.seq
        report["recorded_as"] = {"seq": seq, "sha256": digest}
        return report


__all__ = ["ReportsMixin"]
