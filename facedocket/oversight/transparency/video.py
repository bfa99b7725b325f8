"""The video side of a transparency report, and the report of one deployment: pure counting
over the rows the service reads (:func:`facedocket.store.queries.transparency.report_rows`).

Hours active come from the deployments' runs (the part of each run inside the period); faces
seen from the hourly counts (the only record of faces that did not match); alerts, decisions,
refusals and watchlist entries from the period's audit events, so a purge of old alerts never
changes a past period's counts.

Example::

    counts = video_counts(rows)                          # every agency, or rows.scope's
    report = deployment_counts(rows, deployment_id=3, galleries={7})
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from facedocket.store.queries.transparency import EventRow, TransparencyRows

ALERT_ACTIONS = ("alert.raised", "alert.confirmed", "alert.dismissed")
ENTRY_ACTIONS = ("watchlist.entry_added", "watchlist.entry_expired", "watchlist.entry_removed")
VIDEO_ACTIONS = (*ALERT_ACTIONS, *ENTRY_ACTIONS, "deployment.refused")
"""The audit actions the video counts read."""


def _details(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _hours(rows: TransparencyRows, deployment_id: int | None) -> tuple[float, set[int]]:
    """Hours matched inside the period, and the deployments that matched."""
    seconds, deployments = 0.0, set()
    for run in rows.runs:
        if rows.scope not in (None, run.agency_id) or deployment_id not in (None, run.deployment_id):
            continue
        end = run.ended or rows.now or rows.end
        overlap = (min(end, rows.end) - max(run.started, rows.start)).total_seconds()
        if overlap > 0 or run.ended is None:
            deployments.add(run.deployment_id)
            seconds += max(0.0, overlap)
    return seconds / 3600, deployments


def _counted(e: EventRow, rows: TransparencyRows, deployment_id: int | None, galleries: Collection[int] | None) -> bool:
    if rows.scope not in (None, e.agency_id):
        return False
    details = _details(e.details)
    if e.action in ALERT_ACTIONS or e.action == "deployment.refused":
        if e.action == "deployment.refused" and deployment_id is not None:
            return e.object_id == str(deployment_id)
        return deployment_id is None or _int(details.get("deployment_id")) == deployment_id
    return galleries is None or _int(details.get("gallery_id")) in galleries


def video_counts(
    rows: TransparencyRows, deployment_id: int | None = None, galleries: Collection[int] | None = None
) -> dict[str, Any]:
    """The video fields of :data:`~facedocket.oversight.transparency.fields.FIELD_DEFINITIONS`
    for ``rows.scope`` (or one deployment and the watchlists it matches)."""
    hours, deployments = _hours(rows, deployment_id)
    faces = sum(
        c.faces
        for c in rows.face_counts
        if rows.scope in (None, c.agency_id) and deployment_id in (None, c.deployment_id)
    )
    counts = dict.fromkeys(VIDEO_ACTIONS, 0)
    for e in rows.events:
        if e.action in counts and _counted(e, rows, deployment_id, galleries):
            counts[e.action] += 1
    confirmed, dismissed = counts["alert.confirmed"], counts["alert.dismissed"]
    decided = confirmed + dismissed
    return {
        "video_deployments": len(deployments),
        "video_hours_active": round(hours, 4),
        "faces_seen": faces,
        "alerts": counts["alert.raised"],
        "alerts_confirmed": confirmed,
        "alerts_dismissed": dismissed,
        "false_alert_share": round(dismissed / decided, 4) if decided else None,
        "false_alert_rate": round(dismissed / faces, 6) if faces else None,
        "deployments_refused": counts["deployment.refused"],
        "watchlist_entries_added": counts["watchlist.entry_added"],
        "watchlist_entries_expired": counts["watchlist.entry_expired"],
        "watchlist_entries_removed": counts["watchlist.entry_removed"],
    }


def faces_by_hour(rows: TransparencyRows, deployment_id: int) -> dict[str, int]:
    """One deployment's faces seen per clock hour of the period (ISO time of the hour)."""
    found: dict[datetime, int] = {}
    for c in rows.face_counts:
        if c.deployment_id == deployment_id and rows.scope in (None, c.agency_id):
            found[c.hour] = found.get(c.hour, 0) + c.faces
    return {hour.strftime("%Y-%m-%dT%H:%M:%SZ"): n for hour, n in sorted(found.items())}


__all__ = ["ALERT_ACTIONS", "ENTRY_ACTIONS", "VIDEO_ACTIONS", "faces_by_hour", "video_counts"]
