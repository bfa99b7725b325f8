"""The audit log's statements: the head row that orders appends, appends, and reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from facedocket.store.tables import AuditEvent, AuditHead


def advance_head(session: Session) -> tuple[int, str]:
    """Take the lock on the head row (an UPDATE), so appends chain in one order on both
    databases; returns the new event's sequence number and the previous event's hash."""
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    seq, prev = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    return int(seq), str(prev)


def append(session: Session, body: dict[str, Any], details: str, moment: datetime, digest: str,
           prev: str) -> AuditEvent:  # fmt: skip
    """Insert the event ``body`` (its details as canonical JSON text, hashed as ``digest``) and
    move the head to it."""
    row = AuditEvent(
        seq=body["seq"], time=moment, actor_id=body["actor_id"], actor=body["actor"], agency_id=body["agency_id"],
        action=body["action"], object_type=body["object_type"], object_id=body["object_id"],
        details=details,
        prev_hash=prev, hash=digest,
    )  # fmt: skip
    session.add(row)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    session.flush()
    return row


def head(session: Session) -> tuple[int, str]:
    """(sequence, hash) of the newest event."""
    seq, digest = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    return int(seq), str(digest)


def events(session: Session, since: int = 0, agency_id: int | None = None) -> Iterator[AuditEvent]:
    """Events after ``since`` in sequence order (one agency's, when given), streamed."""
    query = select(AuditEvent).where(AuditEvent.seq > since).order_by(AuditEvent.seq)
    if agency_id is not None:
        query = query.where(AuditEvent.agency_id == agency_id)
    yield from session.scalars(query.execution_options(yield_per=2000))


def listed(
    session: Session, limit: int, agency_id: int | None = None, action: str | None = None,
    object_type: str | None = None, object_id: str | None = None, since: datetime | None = None,
    actor: str | None = None, until: datetime | None = None,
) -> list[AuditEvent]:  # fmt: skip
    """Events newest first, filtered."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    conditions = {
        AuditEvent.agency_id: agency_id, AuditEvent.action: action, AuditEvent.object_type: object_type,
        AuditEvent.object_id: object_id, AuditEvent.actor: actor,
    }  # fmt: skip
    for column, value in conditions.items():
        if value is not None and value != "":
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEvent.time >= since)
    if until is not None:
        query = query.where(AuditEvent.time < until)
    return list(session.scalars(query))


def of_objects(session: Session, agency_id: int, objects: dict[str, list[str]]) -> list[AuditEvent]:
    """Events of one agency's trail about the given objects (type -> ids), in order."""
    conditions = [(AuditEvent.object_type == kind) & AuditEvent.object_id.in_(ids) for kind, ids in objects.items()
                  if ids]  # fmt: skip
    if not conditions:
        return []
    query = select(AuditEvent).where(or_(*conditions), AuditEvent.agency_id == agency_id).order_by(AuditEvent.seq)
    return list(session.scalars(query))


def count_since(session: Session, seq: int) -> int:
    return int(session.scalar(select(func.count()).where(AuditEvent.seq > seq)) or 0)
