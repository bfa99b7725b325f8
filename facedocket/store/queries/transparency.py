"""The reads behind a transparency report (:mod:`facedocket.oversight.transparency`): the
searches, candidates, reviews and audit events of one period, returned as frozen dataclasses
for the pure counting to work on.

Typical use, in one session::

    rows = report_rows(session, start, end, scope=None, actions=("request.filed",))
    for event in chain_events(session):  # the whole audit chain, oldest first
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facedocket.store.tables import (
    Agency,
    AuditEvent,
    AuditHead,
    Candidate,
    Case,
    DeploymentRun,
    FaceCount,
    Gallery,
    Request,
    Review,
    Search,
    Subject,
    User,
)


@dataclass(frozen=True)
class AgencyRow:
    """An agency, with the policy profile it runs (the profile's data, or None)."""

    id: int
    name: str
    policy: Mapping[str, Any] | None


@dataclass(frozen=True)
class SearchRow:
    """A search or verification (``kind``) run by ``agency_id``, with the request it ran under
    (filed by ``request_agency_id``) and the case's offence category."""

    kind: str
    agency_id: int
    galleries: tuple[int, ...]
    created: datetime
    request_id: int
    request_agency_id: int
    legal_basis: str
    emergency: bool
    approval: str
    outcome: str | None
    decided: datetime | None
    offence_category: str


@dataclass(frozen=True)
class GalleryRow:
    id: int
    name: str
    agency_id: int


@dataclass(frozen=True)
class CandidateRow:
    """A candidate of a search (``created``: when the search ran), with what the gallery
    recorded of the person (None where the person record was erased)."""

    id: int
    released: bool
    created: datetime
    target_agency_id: int
    sex: str | None
    birth_year: int | None
    attributes: Mapping[str, Any] | None


@dataclass(frozen=True)
class ReviewRow:
    candidate_id: int
    stage: str
    disposition: str


@dataclass(frozen=True)
class EventRow:
    """An audit event as counted: ``details`` is its JSON text."""

    action: str
    agency_id: int | None
    actor_id: int | None
    object_id: str
    details: str


@dataclass(frozen=True)
class Anchor:
    """One audit event's place in the chain."""

    seq: int
    hash: str
    time: datetime


@dataclass(frozen=True)
class ChainEvent:
    """An audit event with every hashed field as stored (``details`` is JSON text)."""

    seq: int
    time: datetime
    actor_id: int | None
    actor: str
    agency_id: int | None
    action: str
    object_type: str
    object_id: str
    details: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class RunRow:
    """A run of a video deployment that overlaps the period (``ended`` None: still running)."""

    deployment_id: int
    agency_id: int
    started: datetime
    ended: datetime | None


@dataclass(frozen=True)
class FaceCountRow:
    """Faces a deployment saw in one clock hour of the period."""

    deployment_id: int
    agency_id: int
    hour: datetime
    faces: int


@dataclass(frozen=True)
class TransparencyRows:
    """Everything a report of ``[start, end)`` counts, for agency ``scope`` (None: all).

    ``searches`` and ``events`` cover every agency (a search another agency ran for the one
    reported on counts too); ``candidates`` and ``reviews`` only the searches ``scope`` ran;
    ``galleries`` every gallery the period's searches named; ``users`` maps user id to agency
    id. ``head`` is the chain's (sequence, hash) as the database records it, None before the
    first event; ``period_events``, ``period_first`` and ``period_last`` place the period in it.
    ``runs`` and ``face_counts`` are the video deployments' runs and hourly face counts of the
    period (every agency); ``now`` ends a run that is still going.
    """

    start: datetime
    end: datetime
    scope: int | None
    agencies: tuple[AgencyRow, ...]
    searches: tuple[SearchRow, ...]
    galleries: tuple[GalleryRow, ...]
    candidates: tuple[CandidateRow, ...]
    reviews: tuple[ReviewRow, ...]
    users: Mapping[int, int]
    events: tuple[EventRow, ...]
    head: tuple[int, str] | None
    period_events: int
    period_first: Anchor | None
    period_last: Anchor | None
    runs: tuple[RunRow, ...] = ()
    face_counts: tuple[FaceCountRow, ...] = ()
    now: datetime | None = None


def report_rows(
    session: Session,
    start: datetime,
    end: datetime,
    scope: int | None,
    actions: Iterable[str],
    now: datetime | None = None,
) -> TransparencyRows:
    """The rows of a report of ``[start, end)`` for agency ``scope`` (None: all agencies),
    with the audit events of ``actions`` in the period (see :class:`TransparencyRows`)."""
    searches = _searches(session, start, end)
    first, last, count = session.execute(
        select(func.min(AuditEvent.seq), func.max(AuditEvent.seq), func.count())
        .where(AuditEvent.time >= start, AuditEvent.time < end)
    ).one()  # fmt: skip
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    return TransparencyRows(
        start=start,
        end=end,
        scope=scope,
        agencies=tuple(
            AgencyRow(int(i), str(n), p if isinstance(p, dict) else None)
            for i, n, p in session.execute(select(Agency.id, Agency.name, Agency.policy).order_by(Agency.id))
        ),
        searches=searches,
        galleries=_galleries(session, {g for s in searches for g in s.galleries}),
        candidates=_candidates(session, start, end, scope),
        reviews=_reviews(session, start, end, scope),
        users={int(u): int(a) for u, a in session.execute(select(User.id, User.agency_id))},
        events=_events(session, start, end, actions),
        head=(int(head[0]), str(head[1])) if head is not None else None,
        period_events=int(count or 0),
        period_first=_anchor(session, first),
        period_last=_anchor(session, last),
        runs=_runs(session, start, end),
        face_counts=_face_counts(session, start, end),
        now=now,
    )


def chain_events(session: Session) -> Iterator[ChainEvent]:
    """The whole audit chain, oldest first, read in batches (the session must stay open)."""
    columns = (AuditEvent.seq, AuditEvent.time, AuditEvent.actor_id, AuditEvent.actor, AuditEvent.agency_id,
               AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id, AuditEvent.details,
               AuditEvent.prev_hash, AuditEvent.hash)  # fmt: skip
    query = select(*columns).order_by(AuditEvent.seq).execution_options(yield_per=2000)
    for row in session.execute(query):
        yield ChainEvent(*row)


def _searches(session: Session, start: datetime, end: datetime) -> tuple[SearchRow, ...]:
    rows = session.execute(
        select(
            Search.kind,
            Search.agency_id,
            Search.galleries,
            Search.created,
            Request.id,
            Request.agency_id,
            Request.legal_basis,
            Request.emergency,
            Request.approval,
            Request.outcome,
            Request.decided,
            Case.offence_category,
        )
        .join(Request, Request.id == Search.request_id)
        .join(Case, Case.id == Request.case_id)
        .where(Search.created >= start, Search.created < end)
        .order_by(Search.id)
    )
    return tuple(
        SearchRow(kind, runner, tuple(int(g) for g in galleries or []), *rest)
        for kind, runner, galleries, *rest in rows
    )


def _galleries(session: Session, ids: set[int]) -> tuple[GalleryRow, ...]:
    rows = session.execute(
        select(Gallery.id, Gallery.name, Gallery.agency_id).where(Gallery.id.in_(sorted(ids) or [-1]))
    )
    return tuple(GalleryRow(int(i), str(n), int(a)) for i, n, a in rows)


def _events(session: Session, start: datetime, end: datetime, actions: Iterable[str]) -> tuple[EventRow, ...]:
    columns = (AuditEvent.action, AuditEvent.agency_id, AuditEvent.actor_id, AuditEvent.object_id, AuditEvent.details)
    rows = session.execute(
        select(*columns)
        .where(AuditEvent.time >= start, AuditEvent.time < end, AuditEvent.action.in_(list(actions)))
        .order_by(AuditEvent.seq)
    )
    return tuple(EventRow(str(a), g, u, str(o), str(d)) for a, g, u, o, d in rows)


def _scoped(start: datetime, end: datetime, scope: int | None) -> Any:
    """The filter on searches run in the period (by ``scope`` unless None)."""
    in_period = (Search.created >= start) & (Search.created < end)
    return in_period if scope is None else in_period & (Search.agency_id == scope)


def _candidates(session: Session, start: datetime, end: datetime, scope: int | None) -> tuple[CandidateRow, ...]:
    rows = session.execute(
        select(
            Candidate.id,
            Candidate.released,
            Search.created,
            Request.target_agency_id,
            Subject.sex,
            Subject.birth_year,
            Subject.attributes,
        )
        .join(Search, Search.id == Candidate.search_id)
        .join(Request, Request.id == Search.request_id)
        .outerjoin(Subject, Subject.id == Candidate.subject_id)
        .where(_scoped(start, end, scope))
        .order_by(Candidate.id)
    )
    return tuple(CandidateRow(*row) for row in rows)


def _reviews(session: Session, start: datetime, end: datetime, scope: int | None) -> tuple[ReviewRow, ...]:
    rows = session.execute(
        select(Review.candidate_id, Review.stage, Review.disposition)
        .join(Candidate, Candidate.id == Review.candidate_id)
        .join(Search, Search.id == Candidate.search_id)
        .where(_scoped(start, end, scope))
        .order_by(Review.id)
    )
    return tuple(ReviewRow(*row) for row in rows)


def _runs(session: Session, start: datetime, end: datetime) -> tuple[RunRow, ...]:
    rows = session.execute(
        select(DeploymentRun.deployment_id, DeploymentRun.agency_id, DeploymentRun.started, DeploymentRun.ended)
        .where(DeploymentRun.started < end, (DeploymentRun.ended.is_(None)) | (DeploymentRun.ended > start))
        .order_by(DeploymentRun.id)
    )
    return tuple(RunRow(int(d), int(a), s, e) for d, a, s, e in rows)


def _face_counts(session: Session, start: datetime, end: datetime) -> tuple[FaceCountRow, ...]:
    rows = session.execute(
        select(FaceCount.deployment_id, FaceCount.agency_id, FaceCount.hour, FaceCount.faces)
        .where(FaceCount.hour >= start, FaceCount.hour < end)
        .order_by(FaceCount.deployment_id, FaceCount.hour)
    )
    return tuple(FaceCountRow(int(d), int(a), h, int(n)) for d, a, h, n in rows)


def _anchor(session: Session, seq: int | None) -> Anchor | None:
    if seq is None:
        return None
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash, AuditEvent.time).where(AuditEvent.seq == seq)
    ).one_or_none()  # fmt: skip
    return Anchor(*row) if row is not None else None


__all__ = [
    "AgencyRow",
    "Anchor",
    "CandidateRow",
    "ChainEvent",
    "EventRow",
    "FaceCountRow",
    "GalleryRow",
    "ReviewRow",
    "RunRow",
    "SearchRow",
    "TransparencyRows",
    "chain_events",
    "report_rows",
]
