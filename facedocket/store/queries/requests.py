"""Cases, written requests and their probe photos."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from facedocket.store.locks import NO_KEY_UPDATE
from facedocket.store.tables import Candidate, Case, Request, Search, StoredImage
from facedocket.vocab import PROBE_KINDS


def case(session: Session, case_id: int) -> Case | None:
    return session.get(Case, case_id)


def cases(session: Session, agency_id: int) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.agency_id == agency_id).order_by(Case.id)))


def request(session: Session, request_id: int) -> Request | None:
    return session.get(Request, request_id)


def lock_request(session: Session, request_id: int) -> Request | None:
    """The request row, locked until the transaction ends (PostgreSQL ``FOR NO KEY UPDATE``; SQLite's
    write transaction holds the database's write lock already). Read afresh, never from the
    session's cache."""
    return session.get(Request, request_id, with_for_update=NO_KEY_UPDATE, populate_existing=True)


def requests_of(session: Session, agency_id: int, status: str | None, limit: int) -> list[Request]:
    """Requests an agency filed, and those addressed to it that are past the draft, newest first."""
    mine = Request.agency_id == agency_id
    incoming = (Request.target_agency_id == agency_id) & (Request.status != "draft")
    query = select(Request).where(or_(mine, incoming))
    if status:
        query = query.where(Request.status == status)
    return list(session.scalars(query.order_by(Request.id.desc()).limit(limit)))


def overdue_ids(session: Session, now: datetime) -> list[int]:
    """Ids of emergency requests whose approval deadline passed while approval was pending."""
    query = select(Request.id).where(Request.approval == "pending", Request.deadline.is_not(None),
                                     Request.deadline < now).order_by(Request.id)  # fmt: skip
    return [int(i) for i in session.scalars(query)]


def image(session: Session, image_id: int | None) -> StoredImage | None:
    return session.get(StoredImage, image_id) if image_id is not None else None


def search_ids(session: Session, request_id: int) -> list[int]:
    return [
        int(i) for i in session.scalars(select(Search.id).where(Search.request_id == request_id).order_by(Search.id))
    ]


def search_ids_of(session: Session, request_ids: list[int]) -> dict[int, list[int]]:
    """request id -> its searches' ids, for many requests at once."""
    if not request_ids:
        return {}
    found: dict[int, list[int]] = {}
    query = select(Search.request_id, Search.id).where(Search.request_id.in_(request_ids)).order_by(Search.id)
    for request_id, search_id in session.execute(query):
        found.setdefault(int(request_id), []).append(int(search_id))
    return found


def candidate_ids(session: Session, request_id: int) -> list[int]:
    query = select(Candidate.id).join(Search, Search.id == Candidate.search_id).where(Search.request_id == request_id)
    return [int(i) for i in session.scalars(query.order_by(Candidate.id))]


def purge(session: Session, row: Request) -> tuple[int, int]:
    """Delete the request's probe photo (and the crop of its chosen face) and its searches'
    candidates (and with them their reviews); the searches keep only what holds no biometric
    data; the legal basis's document stays. Returns (searches, candidates removed)."""
    ids = search_ids(session, row.id)
    exposed = 0
    if ids:
        exposed = int(session.scalar(select(func.count()).where(Candidate.search_id.in_(ids))) or 0)
        session.execute(delete(Candidate).where(Candidate.search_id.in_(ids)))
        session.execute(update(Search).where(Search.id.in_(ids)).values(subject_id=None, best_score=None))
    image_id = row.probe_image_id
    row.probe_image_id = None
    row.probe_crop_id = None
    session.flush()
    if image_id is not None:
        session.execute(delete(StoredImage).where(StoredImage.id == image_id))
    session.execute(delete(StoredImage).where(StoredImage.request_id == row.id, StoredImage.kind.in_(PROBE_KINDS)))
    return len(ids), exposed
