"""Reviews of candidates."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facedocket.store.tables import Candidate, Review, Search


def candidate_of_request(session: Session, request_id: int, candidate_id: int) -> Candidate | None:
    """The candidate, if it belongs to one of the request's searches."""
    query = (
        select(Candidate)
        .join(Search, Search.id == Candidate.search_id)
        .where(Candidate.id == candidate_id, Search.request_id == request_id)
    )
    return session.scalar(query)


def of_candidate(session: Session, candidate_id: int) -> list[Review]:
    return list(session.scalars(select(Review).where(Review.candidate_id == candidate_id).order_by(Review.id)))


def of_request(session: Session, request_id: int) -> list[Review]:
    return list(session.scalars(select(Review).where(Review.request_id == request_id).order_by(Review.id)))


def release(session: Session, candidate_ids: list[int]) -> None:
    if candidate_ids:
        session.execute(update(Candidate).where(Candidate.id.in_(candidate_ids)).values(released=True))
