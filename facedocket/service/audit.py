"""The audit log: every action that touches the system appends one hash-chained event in
the same transaction as the action, so an action and its record commit or fail together.

Appends first take the lock on the one ``audit_head`` row (an UPDATE), so concurrent
transactions chain in one order on SQLite and PostgreSQL alike. Details never hold
biometric data: ids, hashes of files, counts, reasons.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facedocket import audit
from facedocket.errors import InvalidInput
from facedocket.service.base import Actor, ServiceBase
from facedocket.store.tables import AuditEvent, AuditHead

AUDITORS = ("auditor", "admin")


@dataclass(frozen=True)
class Who:
    """The actor of an event: a user, or ``system`` (scheduled jobs, migrations)."""

    user_id: int | None
    name: str
    agency_id: int | None


SYSTEM = Who(None, "system", None)


def who(actor: Actor | None) -> Who:
    return SYSTEM if actor is None else Who(actor.user_id, actor.username, actor.agency_id)


def event_dict(row: AuditEvent) -> dict[str, Any]:
    """An event as exported and hashed (``details`` parsed back to an object)."""
    return {
        "seq": row.seq,
        "time": audit.format_time(row.time),
        "actor_id": row.actor_id,
        "actor": row.actor,
        "agency_id": row.agency_id,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "details": audit.parse_details(row.details),  # an edited row is reported, not raised
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


class AuditMixin(ServiceBase):
    def _audit(
        self,
        session: Session,
        actor: Actor | Who | None,
        action: str,
        object_type: str,
        object_id: object,
        details: dict[str, Any] | None = None,
        agency_id: int | None = None,
    ) -> AuditEvent:
        """Append one event inside ``session``'s transaction."""
        person = actor if isinstance(actor, Who) else who(actor)
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
        seq, prev = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
        moment = self.clock()
        body = {
            "seq": seq,
            "time": audit.format_time(moment),
            "actor_id": person.user_id,
            "actor": person.name,
            "agency_id": person.agency_id if agency_id is None else agency_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "details": json.loads(audit.canonical_json(details or {})),
        }
        digest = audit.event_hash(body, prev)
        row = AuditEvent(
            seq=seq, time=moment, actor_id=body["actor_id"], actor=person.name, agency_id=body["agency_id"],
            action=action, object_type=object_type, object_id=body["object_id"],
            details=audit.canonical_json(body["details"]), prev_hash=prev, hash=digest,
        )  # fmt: skip
        session.add(row)
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
        session.flush()
        return row

    def audit_event(
        self, actor: Actor | None, action: str, object_type: str, object_id: object, details: dict[str, Any]
    ) -> None:
        """Append one event in a transaction of its own (for actions with nothing else to write)."""
        with self.transaction() as session:
            self._audit(session, actor, action, object_type, object_id, details)

    # --- reading and verifying ----------------------------------------------------------

    def _events(self, session: Session, since: int = 0) -> Iterator[dict[str, Any]]:
        query = select(AuditEvent).where(AuditEvent.seq > since).order_by(AuditEvent.seq)
        for row in session.scalars(query.execution_options(yield_per=2000)):
            yield event_dict(row)

    def verify_audit(self, actor: Actor) -> audit.Verification:
        """Walk the whole chain and compare its end with the head; auditors and admins only.
        The check itself is recorded."""
        actor.require(*AUDITORS)
        with self.sessions() as session:
            head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
            result = audit.verify_chain(self._events(session), expect_head=(int(head[0]), str(head[1])))
        self.audit_event(actor, "audit.verified", "audit", "chain", result.as_dict())
        return result

    def export_audit(self, actor: Actor) -> Iterator[str]:
        """The whole chain as JSON Lines (operator auditors) or, for an agency's auditor, the
        agency's own events — which still verify, each against its stored hash, but not as one
        chain. The role is checked and the export recorded when this is called, before any
        line is read."""
        actor.require(*AUDITORS)
        scope = self._audit_scope(actor)
        self.audit_event(actor, "audit.exported", "audit", "chain", {"scope": scope})
        return self._export_lines(actor, scope)

    def _export_lines(self, actor: Actor, scope: str) -> Iterator[str]:
        with self.sessions() as session:
            for event in self._events(session):
                if scope == "all" or event["agency_id"] == actor.agency_id:
                    yield audit.canonical_json(event)

    def list_audit(
        self,
        actor: Actor,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        """Events, newest first; an agency's auditor sees the agency's events only."""
        actor.require(*AUDITORS)
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
        if self._audit_scope(actor) != "all":
            query = query.where(AuditEvent.agency_id == actor.agency_id)
        if action:
            query = query.where(AuditEvent.action == action)
        if object_type:
            query = query.where(AuditEvent.object_type == object_type)
        if object_id:
            query = query.where(AuditEvent.object_id == object_id)
        if since is not None:
            query = query.where(AuditEvent.time >= since)
        with self.sessions() as session:
            return [event_dict(row) for row in session.scalars(query)]

    @staticmethod
    def _audit_scope(actor: Actor) -> str:
        return "all" if actor.operator else "agency"
