"""Alerts, incident records and the face crops they keep (stored images)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facedocket.store.locks import NO_KEY_UPDATE
from facedocket.store.tables import Alert, Deployment, Gallery, Incident, StoredImage, Subject, WatchlistEntry


def alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id) if 1 <= alert_id <= 2**63 - 1 else None


def lock_alert(session: Session, alert_id: int) -> Alert | None:
    if not 1 <= alert_id <= 2**63 - 1:
        return None
    return session.get(Alert, alert_id, with_for_update=NO_KEY_UPDATE, populate_existing=True)


def alerts(
    session: Session,
    agency_id: int,
    status: str | None = None,
    deployment_id: int | None = None,
    after: int = 0,
    limit: int = 100,
    newest_first: bool = False,
) -> list[Alert]:
    """The agency's alerts with an id above ``after``, filtered by status and deployment."""
    query = select(Alert).where(Alert.agency_id == agency_id, Alert.id > after)
    if status is not None:
        query = query.where(Alert.status == status)
    if deployment_id is not None:
        query = query.where(Alert.deployment_id == deployment_id)
    order = Alert.id.desc() if newest_first else Alert.id
    return list(session.scalars(query.order_by(order).limit(limit)))


def context(
    session: Session, rows: Iterable[Alert]
) -> tuple[dict[int, Deployment], dict[int, WatchlistEntry], dict[int, str], dict[int, str], dict[int, int]]:
    """What alert rows point at: deployments, entries, subject references, gallery names and
    incident ids (by alert id)."""
    rows = list(rows)
    if not rows:
        return {}, {}, {}, {}, {}
    dep_ids = sorted({a.deployment_id for a in rows})
    entry_ids = sorted({a.entry_id for a in rows})
    deployments = {d.id: d for d in session.scalars(select(Deployment).where(Deployment.id.in_(dep_ids)))}
    entries = {e.id: e for e in session.scalars(select(WatchlistEntry).where(WatchlistEntry.id.in_(entry_ids)))}
    subject_ids = sorted({e.subject_id for e in entries.values() if e.subject_id is not None})
    references = {
        int(i): str(r)
        for i, r in session.execute(select(Subject.id, Subject.reference).where(Subject.id.in_(subject_ids or [-1])))
    }
    gallery_ids = sorted({a.gallery_id for a in rows})
    galleries = {
        int(i): str(n) for i, n in session.execute(select(Gallery.id, Gallery.name).where(Gallery.id.in_(gallery_ids)))
    }
    incidents = {
        int(a): int(i)
        for i, a in session.execute(
            select(Incident.id, Incident.alert_id).where(Incident.alert_id.in_([a.id for a in rows]))
        )
    }
    return deployments, entries, references, galleries, incidents


def image(session: Session, image_id: int | None) -> StoredImage | None:
    return session.get(StoredImage, image_id) if image_id is not None else None


def unconfirmed(session: Session, agency_id: int) -> list[tuple[int, datetime, int | None]]:
    """(alert id, created, None) of the agency's alerts nobody confirmed (pending or dismissed)."""
    rows = session.execute(
        select(Alert.id, Alert.created).where(Alert.agency_id == agency_id, Alert.status.in_(("pending", "dismissed")))
    )
    return [(int(i), t, None) for i, t in rows]


def incidents(session: Session, agency_id: int) -> list[tuple[int, datetime, int | None]]:
    """(alert id, incident created, None) of the agency's incident records."""
    rows = session.execute(select(Incident.alert_id, Incident.created).where(Incident.agency_id == agency_id))
    return [(int(i), t, None) for i, t in rows]


def drop_alerts(session: Session, alert_ids: list[int]) -> list[int]:
    """Delete alerts, their incident records and their face crops; returns the image ids gone."""
    if not alert_ids:
        return []
    images = [int(i) for i in session.scalars(select(Alert.image_id).where(Alert.id.in_(alert_ids))) if i is not None]
    session.execute(delete(Incident).where(Incident.alert_id.in_(alert_ids)))
    session.execute(delete(Alert).where(Alert.id.in_(alert_ids)))
    if images:
        session.execute(delete(StoredImage).where(StoredImage.id.in_(images)))
    return images


__all__ = ["alert", "alerts", "context", "drop_alerts", "image", "incidents", "lock_alert", "unconfirmed"]
