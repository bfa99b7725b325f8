"""What a reader sees of a request (:class:`RequestInfo`): the request with names instead of
ids (the requester, the supervisor who decided, both agencies, the galleries), its probe's
faces, and only what the reader's side may see (the receiving agency's galleries and
searches). :func:`describe` builds many at once with a few queries, whatever their number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from facedocket.governance.permissions import Actor
from facedocket.store.queries import accounts as account_queries
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.queries import photos as photo_queries
from facedocket.store.queries import requests as queries
from facedocket.store.tables import Request


@dataclass(frozen=True)
class RequestInfo:
    id: int
    agency_id: int
    target_agency_id: int
    case_id: int
    case_number: str
    offence_category: str
    requester_id: int
    legal_basis: str
    document: dict[str, str]
    justification: str
    galleries: list[int]
    probe_source: str
    probe_sha256: str
    status: str
    approval: str
    emergency: bool
    deadline: datetime | None
    decided_by: int | None
    decided: datetime | None
    decision_reason: str
    outcome: str | None
    policy_name: str
    submitted: datetime | None
    searched: datetime | None
    closed: datetime | None
    purged: datetime | None
    created: datetime
    searches: list[int]
    can_see_results: bool
    policy_sha256: str = ""
    requester: str = ""
    decided_by_name: str = ""
    agency_name: str = ""
    target_agency_name: str = ""
    gallery_names: list[str] = field(default_factory=list)
    probe_face: int | None = None
    probe_file_id: int | None = None
    probe_crop_id: int | None = None
    document_file_id: int | None = None
    probe_quality: float | None = None
    """The quality of the chosen face, as measured at filing (None: no face, or not kept)."""
    probe_meta: dict[str, Any] = field(default_factory=dict)
    """The probe's decoded ``width`` and ``height``, every face found (``box``, ``landmarks``,
    ``quality``) and the ``chosen`` one; empty once purged."""


def probe_quality(meta: dict[str, Any] | None) -> float | None:
    """The chosen face's quality from the probe file's ``meta`` (None without one)."""
    if not meta or not meta.get("chosen"):
        return None
    faces = meta.get("faces") or []
    chosen = int(meta["chosen"]) - 1
    return float(faces[chosen]["quality"]) if 0 <= chosen < len(faces) else None


def describe(session: Session, actor: Actor, rows: list[Request]) -> list[RequestInfo]:
    """The requests as ``actor`` may see them (see the module docstring)."""
    receiving = {r.id for r in rows if r.target_agency_id == actor.agency_id}
    people = {r.requester_id for r in rows} | {r.decided_by for r in rows if r.decided_by}
    names = account_queries.usernames(session, people)
    agencies = account_queries.agency_names(session, {r.agency_id for r in rows} | {r.target_agency_id for r in rows})
    galleries = gallery_queries.name_map(
        session, {int(g) for r in rows if r.id in receiving for g in r.galleries or []}
    )
    searches = queries.search_ids_of(session, sorted(receiving))
    metas = photo_queries.metas(session, [r.probe_image_id for r in rows if r.probe_image_id is not None])
    return [_info(r, r.id in receiving, names, agencies, galleries, searches, metas) for r in rows]


def _info(row: Request, receiving: bool, names: dict[int, str], agencies: dict[int, str], galleries: dict[int, str],
          searches: dict[int, list[int]], metas: dict[int, dict[str, Any]]) -> RequestInfo:  # fmt: skip
    case = row.case
    shown = [int(g) for g in row.galleries or []] if receiving else []
    meta = metas.get(row.probe_image_id) if row.probe_image_id is not None else None
    document = {"type": row.document_type, "reference": row.document_reference, "issuer": row.document_issuer,
                "date": row.document_date, "sha256": row.document_sha256}  # fmt: skip
    return RequestInfo(
        row.id, row.agency_id, row.target_agency_id, row.case_id, case.number, case.offence_category,
        row.requester_id, row.legal_basis, document, row.justification, shown, row.probe_source, row.probe_sha256,
        row.status, row.approval, row.emergency, row.deadline, row.decided_by, row.decided, row.decision_reason,
        row.outcome, row.policy_name, row.submitted, row.searched, row.closed, row.purged, row.created,
        searches.get(row.id, []) if receiving else [], receiving, row.policy_sha256, names.get(row.requester_id, ""),
        names.get(row.decided_by, "") if row.decided_by else "", agencies.get(row.agency_id, ""),
        agencies.get(row.target_agency_id, ""), [galleries.get(g, f"#{g}") for g in shown], row.probe_face,
        row.probe_image_id, row.probe_crop_id, row.document_file_id, probe_quality(meta), meta or {},
    )  # fmt: skip
