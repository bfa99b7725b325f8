"""Searches and their candidate lists."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facedocket.store.tables import Candidate, Search, Subject, TemplateRow


def search(session: Session, search_id: int) -> Search | None:
    return session.get(Search, search_id)


def of_request(session: Session, request_id: int) -> list[Search]:
    return list(session.scalars(select(Search).where(Search.request_id == request_id).order_by(Search.id)))


def of_agency(session: Session, agency_id: int, limit: int) -> list[Search]:
    query = select(Search).where(Search.agency_id == agency_id).order_by(Search.id.desc()).limit(limit)
    return list(session.scalars(query))


def candidates(session: Session, search_id: int) -> list[tuple[Candidate, str | None]]:
    """(candidate, subject reference or None once erased) of a search, by rank."""
    rows = session.execute(
        select(Candidate, Subject.reference)
        .outerjoin(Subject, Subject.id == Candidate.subject_id)
        .where(Candidate.search_id == search_id)
        .order_by(Candidate.rank)
    ).all()
    return [(c, ref) for c, ref in rows]


def template_owners(session: Session, template_ids: list[int]) -> dict[int, int]:
    """template id -> subject id."""
    if not template_ids:
        return {}
    rows = session.execute(select(TemplateRow.id, TemplateRow.subject_id).where(TemplateRow.id.in_(template_ids)))
    return {int(t): int(s) for t, s in rows}


def candidate_count(session: Session, search_id: int) -> int:
    return int(session.scalar(select(func.count()).where(Candidate.search_id == search_id)) or 0)


def template_qualities(session: Session, template_ids: list[int]) -> dict[int, float]:
    """template id -> the quality of the face it was made from."""
    if not template_ids:
        return {}
    rows = session.execute(select(TemplateRow.id, TemplateRow.quality).where(TemplateRow.id.in_(sorted(template_ids))))
    return {int(t): float(q) for t, q in rows}
