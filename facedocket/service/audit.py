"""The audit log as its readers see it: list, verify, export.

Every action appends its event through :meth:`facedocket.service.context.Context.audit`, in
the same transaction as the action. Reading the log is itself recorded: a listing
(``audit.listed``), a verification (``audit.verified``) and an export (``audit.exported``).
An agency's auditor sees the agency's own events; the operator agency's auditors see all.

A verification and an export also work on a database that cannot be written (a copy on
read-only media, a read-only file system): the read is recorded when it can be, and when
it cannot the check or the export still runs and says that it was not recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from facedocket.errors import InvalidInput, StorageReadOnly
from facedocket.governance import audit as chain
from facedocket.governance.permissions import Actor, require
from facedocket.service.context import Area
from facedocket.store.queries import audit as queries
from facedocket.store.tables import AuditEvent


def event_dict(row: AuditEvent) -> dict[str, Any]:
    """An event as exported and hashed (``details`` parsed back to an object)."""
    return {
        "seq": row.seq, "time": chain.format_time(row.time), "actor_id": row.actor_id, "actor": row.actor,
        "agency_id": row.agency_id, "action": row.action, "object_type": row.object_type,
        "object_id": row.object_id, "details": chain.parse_details(row.details),  # an edited row is reported
        "prev_hash": row.prev_hash, "hash": row.hash,
    }  # fmt: skip


@dataclass(frozen=True)
class EventInfo:
    """One audit event, as listed."""

    seq: int
    time: str
    actor_id: int | None
    actor: str
    agency_id: int | None
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class AuditExport:
    """An export's lines (iterate over it), and whether the export was recorded
    (``recorded``; ``not_recorded`` says why not)."""

    def __init__(self, lines: Iterator[str], not_recorded: str = "") -> None:
        self._lines = lines
        self.not_recorded = not_recorded

    @property
    def recorded(self) -> bool:
        return not self.not_recorded

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def __next__(self) -> str:
        return next(self._lines)


class AuditLog(Area):
    """Reading, verifying and exporting the audit log (see the module docstring)."""

    def scope(self, actor: Actor) -> int | None:
        """The agency whose events the actor reads (None: every agency's, for the operator)."""
        return None if actor.operator else actor.agency_id

    def head(self, actor: Actor) -> tuple[int, str]:
        """(sequence, hash) of the newest event of the whole chain: the value to note down and
        compare with a later export or verification."""
        require(actor, "audit.read")
        with self.ctx.read() as session:
            return queries.head(session)

    def verify_audit(self, actor: Actor) -> chain.Verification:
        """Walk the whole chain and compare its end with the head; auditors and admins only.
        The check itself is recorded."""
        require(actor, "audit.read")
        with self.ctx.read() as session:
            head = queries.head(session)
            result = chain.verify_chain((event_dict(e) for e in queries.events(session)), expect_head=head)
        details = {k: v for k, v in result.as_dict().items() if k != "recorded"}
        try:
            self.ctx.record(actor, "audit.verified", "audit", "chain", details)
        except StorageReadOnly:
            return replace(result, recorded=False)
        return replace(result, recorded=True)

    def export_audit(self, actor: Actor) -> AuditExport:
        """The whole chain as JSON Lines (operator auditors) or, for an agency's auditor, the
        agency's own events — which still verify, each against its stored hash, but not as one
        chain. The role is checked and the export recorded when this is called, before any
        line is read (so the export holds its own event); on a read-only database it is not
        recorded, and the answer says so."""
        require(actor, "audit.read")
        scope = self.scope(actor)
        try:
            self.ctx.record(actor, "audit.exported", "audit", "chain",
                            {"scope": "all" if scope is None else "agency"})  # fmt: skip
        except StorageReadOnly as exc:
            return AuditExport(self._lines(scope), str(exc))
        return AuditExport(self._lines(scope))

    def _lines(self, scope: int | None) -> Iterator[str]:
        with self.ctx.read() as session:
            for event in queries.events(session, agency_id=scope):
                yield chain.canonical_json(event_dict(event))

    def list_audit(self, actor: Actor, action: str | None = None, object_type: str | None = None,
                   object_id: str | None = None, since: datetime | None = None, limit: int = 200,
                   actor_name: str | None = None, until: datetime | None = None) -> list[EventInfo]:  # fmt: skip
        """Events, newest first; an agency's auditor sees the agency's events only. The
        listing is recorded (its filters and how many events it showed)."""
        require(actor, "audit.read")
        if isinstance(limit, bool) or not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000")
        with self.ctx.read() as session:
            rows = queries.listed(session, limit, self.scope(actor), action, object_type, object_id, since,
                                  actor_name, until)  # fmt: skip
            events = [EventInfo(**event_dict(row)) for row in rows]
        filters = {
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "actor": actor_name,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        }
        self.ctx.record(actor, "audit.listed", "audit", "events",
                        {"filters": {k: v for k, v in filters.items() if v}, "count": len(events)})  # fmt: skip
        return events
