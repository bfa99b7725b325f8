"""Alerts: watchlist matches waiting for a person, and what that person decides.

A hit of a deployment becomes an alert (:meth:`Alerts.raise_alert`): the watchlist entry, the
score and threshold, how many entries were matched, what the model card expects in false
alerts at that threshold and list size (per face seen, and per hour at the faces per hour
this run has seen), and the best frame's face crop, encrypted (:mod:`.images`). A repeated
hit of the same person (the watcher's ``repeat_of``, or the same entry again within the
merge window) is merged into the alert it repeats. Nothing is "identified": a person
confirms the alert (an incident record is made) or dismisses it as a false alert, with a
reason. Readers wait for new alerts with :meth:`Alerts.wait` (the API's long-poll and event
stream); a condition wakes them at once for alerts raised in this process, and the
database is polled for alerts raised by another (``facedocket watch``).

What an alert queue screen needs is :class:`AlertInfo` (one row each) plus the crop
(:meth:`Alerts.crop`, recorded) and the two decisions.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from facedocket.errors import Conflict, InvalidInput, NotFound
from facedocket.governance.permissions import Actor, require
from facedocket.governance.watchlists import expected_false_alerts_per_hour, false_alert_probability
from facedocket.service import images
from facedocket.service.context import SYSTEM, Area, Context
from facedocket.service.inputs import text
from facedocket.store.queries import accounts as account_queries
from facedocket.store.queries import alerts as queries
from facedocket.store.queries import deployments as deployment_queries
from facedocket.store.tables import Alert, Deployment, Incident, WatchlistEntry
from facedocket.video.events import Hit
from facedocket.vocab import ALERT_STATES

ALERT_LABEL = "watchlist match awaiting review — not an identification"
"""Shown with every alert: a score is a similarity, and a person decides."""

MAX_WAIT_S = 60.0
"""Longest a reader may wait for new alerts in one call."""


@dataclass(frozen=True)
class AlertInfo:
    """One alert, with what a reviewer needs to decide it."""

    id: int
    label: str
    status: str
    deployment_id: int
    deployment: str
    site: str
    place: str
    entry_id: int
    entry_status: str
    reference: str | None
    reason_code: str
    incident_reference: str
    entry_expires: datetime
    gallery_id: int
    watchlist: str
    score: float
    threshold: float
    model_id: str
    entries: int
    false_alert_probability: float | None
    faces_per_hour: float
    expected_false_alerts_per_hour: float | None
    matches: list[dict[str, Any]]
    track_id: int
    video_time: float
    frame_time: float
    latency_s: float
    quality: float
    box: list[float]
    has_crop: bool
    repeats: int
    created: datetime
    last_seen: datetime
    decided_by: int | None
    decided: datetime | None
    reason: str
    incident_id: int | None
    subject_id: int | None = None
    """The watchlist entry's person record (its kept photos: :meth:`Photos.of_subjects`)."""
    decided_by_name: str = ""


@dataclass(frozen=True)
class HitContext:
    """What the watching loop knows when a hit comes: the run, the template → entry and
    gallery maps of its watchlist, its size, and the faces per hour seen so far."""

    run_id: int
    deployment_id: int
    agency_id: int
    threshold: float
    model_id: str
    entries: int
    entry_of: dict[int, int]
    gallery_of: dict[int, int]
    faces_per_hour: float


def _infos(session: Session, rows: list[Alert]) -> list[AlertInfo]:
    deployments, entries, references, galleries, incidents = queries.context(session, rows)
    names = account_queries.usernames(session, {a.decided_by for a in rows if a.decided_by is not None})
    return [_info(a, deployments[a.deployment_id], entries[a.entry_id], references, galleries, incidents, names)
            for a in rows]  # fmt: skip


def _info(a: Alert, d: Deployment, e: WatchlistEntry, references: dict[int, str], galleries: dict[int, str],
          incidents: dict[int, int], names: dict[int, str]) -> AlertInfo:  # fmt: skip
    return AlertInfo(
        a.id, ALERT_LABEL, a.status, a.deployment_id, d.name, d.site, d.place, a.entry_id, e.status,
        references.get(e.subject_id) if e.subject_id is not None else None, e.reason, e.incident_reference, e.expires,
        a.gallery_id, galleries.get(a.gallery_id, ""), a.score, a.threshold, a.model_id, a.entries,
        a.false_alert_probability, a.faces_per_hour, a.expected_false_alerts_per_hour, list(a.matches), a.track_id,
        a.video_time, a.frame_time, a.latency_s, a.quality, list(a.box), a.image_id is not None, a.repeats,
        a.created, a.last_seen, a.decided_by, a.decided, a.reason, incidents.get(a.id), e.subject_id,
        names.get(a.decided_by, "") if a.decided_by is not None else "",
    )  # fmt: skip


class Alerts(Area):
    """Alerts: raised by deployments, read, waited for, confirmed or dismissed."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._changed = threading.Condition()
        self._newest = 0

    # --- raised by the watching loop ----------------------------------------------------

    def raise_alert(self, hit: Hit, where: HitContext) -> AlertInfo:
        """A new alert for ``hit`` (one transaction: the crop, the alert, its audit event)."""
        entry_id = where.entry_of[hit.entry_id]
        p = false_alert_probability(where.model_id, where.threshold, where.entries)
        expected = expected_false_alerts_per_hour(where.model_id, where.threshold, where.entries, where.faces_per_hour)
        matches, seen = [], set()
        for m in hit.matches:
            entry = where.entry_of[m.entry_id]
            if entry not in seen:
                seen.add(entry)
                matches.append({"entry_id": entry, "score": round(m.score, 6)})
        quality = round(hit.best.face.quality.score, 4) if hit.best.face.quality else 0.0
        with self.ctx.write() as session:
            now = self.clock()
            image_id = images.store_crop(self.ctx, session, where.agency_id, hit.best.crop)
            row = Alert(
                agency_id=where.agency_id, deployment_id=where.deployment_id, run_id=where.run_id, entry_id=entry_id,
                gallery_id=where.gallery_of[hit.entry_id], score=round(hit.score, 6), threshold=where.threshold,
                model_id=where.model_id, entries=where.entries, false_alert_probability=p,
                faces_per_hour=round(where.faces_per_hour, 1), expected_false_alerts_per_hour=expected,
                matches=matches, track_id=hit.track_id, video_time=round(hit.time, 3),
                frame_time=round(hit.best.time, 3), latency_s=round(hit.latency_s, 3), quality=quality,
                box=[round(v, 1) for v in hit.best.face.box.as_list()],
                image_id=image_id, status="pending", repeats=0, last_seen=now, created=now, reason="",
            )  # fmt: skip
            session.add(row)
            session.flush()
            run = deployment_queries.run(session, where.run_id)
            if run is not None:
                run.alerts += 1
            self.ctx.audit(session, SYSTEM, "alert.raised", "alert", row.id,
                           {"deployment_id": where.deployment_id, "run_id": where.run_id, "entry_id": entry_id,
                            "score": row.score, "threshold": row.threshold, "entries": row.entries,
                            "expected_false_alerts_per_hour": expected}, agency_id=where.agency_id)  # fmt: skip
            info = _infos(session, [row])[0]
        self._notify(info.id)
        return info

    def repeat(self, alert_id: int, hit: Hit) -> None:
        """Merge a repeated hit into its alert (no new crop): count it and note when."""
        with self.ctx.write() as session:
            row = queries.lock_alert(session, alert_id)
            if row is None:
                return
            row.repeats += 1
            row.last_seen = self.clock()
            self.ctx.audit(session, SYSTEM, "alert.repeated", "alert", row.id,
                           {"score": round(hit.score, 6), "track_id": hit.track_id, "repeats": row.repeats},
                           agency_id=row.agency_id)  # fmt: skip
        self._notify(alert_id)

    # --- read and wait ------------------------------------------------------------------

    def list_alerts(self, actor: Actor, status: str | None = None, deployment_id: int | None = None, after: int = 0,
                    limit: int = 100, newest_first: bool = False) -> list[AlertInfo]:  # fmt: skip
        """The agency's alerts (one state, one deployment, or all) with an id above ``after``."""
        require(actor, "alert.read")
        if status is not None and status not in ALERT_STATES:
            raise InvalidInput(f"an alert's state is one of: {', '.join(ALERT_STATES)}")
        with self.ctx.read() as session:
            rows = queries.alerts(session, actor.agency_id, status, deployment_id, max(0, after),
                                  max(1, min(limit, 1000)), newest_first)  # fmt: skip
            return _infos(session, rows)

    def get_alert(self, actor: Actor, alert_id: int) -> AlertInfo:
        require(actor, "alert.read")
        with self.ctx.read() as session:
            return _infos(session, [self._own(session, actor, alert_id)])[0]

    def wait(self, actor: Actor, after: int, timeout_s: float, status: str | None = None,
             deployment_id: int | None = None) -> list[AlertInfo]:  # fmt: skip
        """Alerts with an id above ``after``, waiting up to ``timeout_s`` (at most
        :data:`MAX_WAIT_S`) for the first to come; [] when none came."""
        deadline = time.monotonic() + max(0.0, min(timeout_s, MAX_WAIT_S))
        while True:
            found = self.list_alerts(actor, status, deployment_id, after)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            with self._changed:
                if self._newest <= after:
                    self._changed.wait(min(left, 1.0))  # the database is polled each second too

    def _notify(self, alert_id: int) -> None:
        with self._changed:
            self._newest = max(self._newest, alert_id)
            self._changed.notify_all()

    def crop(self, actor: Actor, alert_id: int) -> bytes:
        """The alert's face crop (JPEG); the look is recorded."""
        require(actor, "alert.crop")
        with self.ctx.write() as session:
            row = self._own(session, actor, alert_id)
            data = images.read_crop(self.ctx, session, row.agency_id, row.image_id)
            self.ctx.audit(session, actor, "alert.crop_viewed", "alert", row.id, {"deployment_id": row.deployment_id})
        return data

    # --- decide -------------------------------------------------------------------------

    def confirm(self, actor: Actor, alert_id: int, reason: str) -> AlertInfo:
        """A person confirms the alert: the watchlist's person is there. An incident record
        is made (kept for the policy's ``retention.incident_records``)."""
        return self._decide(actor, alert_id, "confirmed", reason)

    def dismiss(self, actor: Actor, alert_id: int, reason: str) -> AlertInfo:
        """A person dismisses the alert as a false alert (purged after the policy's
        ``retention.unconfirmed_alerts``)."""
        return self._decide(actor, alert_id, "dismissed", reason)

    def _decide(self, actor: Actor, alert_id: int, status: str, reason: str) -> AlertInfo:
        require(actor, "alert.decide")
        reason = text(reason, "reason", required=True)
        with self.ctx.write() as session:
            row = self._own(session, actor, alert_id, lock=True)
            if row.status != "pending":
                raise Conflict(f"alert {alert_id} was {row.status} already")
            row.status, row.decided_by, row.decided, row.reason = status, actor.user_id, self.clock(), reason
            details: dict[str, Any] = {"deployment_id": row.deployment_id, "entry_id": row.entry_id,
                                       "score": row.score, "reason": reason}  # fmt: skip
            if status == "confirmed":
                incident = Incident(agency_id=row.agency_id, alert_id=row.id, deployment_id=row.deployment_id,
                                    entry_id=row.entry_id, confirmed_by=actor.user_id, reason=reason,
                                    created=row.decided)  # fmt: skip
                session.add(incident)
                session.flush()
                details["incident_id"] = incident.id
            self.ctx.audit(session, actor, f"alert.{status}", "alert", row.id, details)
            info = _infos(session, [row])[0]
        self._notify(alert_id)
        return info

    def _own(self, session: Session, actor: Actor, alert_id: int, lock: bool = False) -> Alert:
        row = queries.lock_alert(session, alert_id) if lock else queries.alert(session, alert_id)
        if row is None or row.agency_id != actor.agency_id:
            raise NotFound(f"no alert {alert_id} in your agency")
        return row


__all__ = ["ALERT_LABEL", "MAX_WAIT_S", "AlertInfo", "Alerts", "HitContext"]
