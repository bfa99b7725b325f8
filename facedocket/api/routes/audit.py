"""The audit log: read events, verify the hash chain, export it as JSON Lines (auditors and
admins; an agency's auditor sees the agency's own events, the operator's the whole chain)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import chain, islice
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from facedocket.api.deps import ActorDep, ServiceDep, text_query
from facedocket.api.schemas import AuditEventPublic, AuditEventsPublic, AuditVerificationPublic, error_responses

router = APIRouter(tags=["audit"], responses=error_responses(401, 403, 422))

EXPORT_BATCH = 500
"""Lines sent per chunk of the export stream."""


@router.get("/audit/events", responses=error_responses(400))
def list_events(
    actor: ActorDep,
    service: ServiceDep,
    action: Annotated[str | None, text_query("audit filter", "Only this action, e.g. search.denied.")] = None,
    object_type: Annotated[
        str | None, text_query("audit filter", "Only events about this kind of object, e.g. request.")
    ] = None,
    object_id: Annotated[
        str | None, text_query("audit filter", "Only events about this object id (with object_type).")
    ] = None,
    since: Annotated[datetime | None, Query(description="Only events at or after this time (ISO 8601).")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many, newest first.")] = 200,
) -> AuditEventsPublic:
    """Audit events, newest first (auditors and admins). Each carries its hash and the
    previous event's hash; details hold ids, hashes, counts and reasons, never biometric data."""
    events = service.audit.list_audit(actor, action, object_type, object_id, since, limit)
    data = [AuditEventPublic.model_validate(e.as_dict()) for e in events]
    return AuditEventsPublic(data=data, count=len(data))


@router.post("/audit/verify")
def verify_chain(actor: ActorDep, service: ServiceDep) -> AuditVerificationPublic:
    """Walk the whole chain, check every event's hash and link, and compare its end with the
    recorded head (auditors and admins). ``broken_at`` names the first event that fails. The
    check itself is recorded."""
    return AuditVerificationPublic.model_validate(service.audit.verify_audit(actor).as_dict())


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One event per line, oldest first."}},
)
def export_chain(actor: ActorDep, service: ServiceDep) -> StreamingResponse:
    """The audit log as JSON Lines, streamed, oldest first (auditors and admins): the whole
    chain for the operator agency's auditors and admins, the agency's own events otherwise.
    It verifies offline with ``facedocket audit verify --file`` or nothing but SHA-256 and
    JSON (docs/audit.md). The export is recorded."""
    lines = iter(service.audit.export_audit(actor))
    first = next(lines, None)  # runs the role check and records the export before any byte is sent
    rest: Iterator[str] = chain([first], lines) if first is not None else iter(())
    headers = {"Content-Disposition": 'attachment; filename="audit.jsonl"', "Cache-Control": "no-store"}
    return StreamingResponse(_batches(rest), media_type="application/x-ndjson", headers=headers)


def _batches(lines: Iterator[str]) -> Iterator[str]:
    while batch := list(islice(lines, EXPORT_BATCH)):
        yield "".join(f"{line}\n" for line in batch)
