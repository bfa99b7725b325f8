"""What retention deletes on the video side, inside the retention run's transaction for one
agency (:meth:`facedocket.service.oversight.Oversight.retention_run`):

* ``watchlist_entries``: entries whose expiry passed are marked expired and their templates
  and subject records deleted (a legal hold on the subject keeps them);
* ``unconfirmed_alerts``: alerts nobody confirmed (dismissed, or never decided), with their
  face crops, after the policy's ``retention.unconfirmed_alerts`` days;
* ``incident_records``: confirmed alerts (incident records) with their crops, after
  ``retention.incident_records`` days.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from facedocket.governance import retention as rules
from facedocket.governance.policy import PolicyProfile
from facedocket.service import images
from facedocket.service.context import Context
from facedocket.service.watchlists import expire_due
from facedocket.store.queries import alerts as alert_queries
from facedocket.store.queries import oversight as oversight_queries


def video_due(ctx: Context, session: Session, agency_id: int, profile: PolicyProfile,
              now: datetime) -> tuple[dict[str, rules.Due], dict[int, list[int]]]:  # fmt: skip
    """Delete what is due; returns what went (and what holds kept) per record type, and the
    template ids deleted per gallery (for the indexes)."""
    held = oversight_queries.held(session, "subject", agency_id)
    expired, kept, touched = expire_due(ctx, session, agency_id, now, held)
    found = {"watchlist_entries": rules.Due(expired, kept)}
    periods = profile.retention
    for record, rows, days in (
        ("unconfirmed_alerts", alert_queries.unconfirmed(session, agency_id), periods.unconfirmed_alerts),
        ("incident_records", alert_queries.incidents(session, agency_id), periods.incident_records),
    ):
        due = rules.due(rows, now, days, set())
        images.drop_alert_rows(session, due.deleted)
        found[record] = due
    # a record type the agency has nothing of is left out of the report
    return {k: v for k, v in found.items() if v.deleted or v.held}, touched


__all__ = ["video_due"]
