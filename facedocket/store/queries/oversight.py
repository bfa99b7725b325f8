"""Legal holds, consent, retention and erasure: what they read and delete."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from facedocket.store.tables import (
    Candidate,
    Consent,
    LegalHold,
    Reembedding,
    Request,
    Search,
    StagedTemplate,
    StoredImage,
    Subject,
    TemplateRow,
)
from facedocket.vocab import PROBE_KINDS

# --- legal holds -------------------------------------------------------------------------


def hold(session: Session, hold_id: int) -> LegalHold | None:
    return session.get(LegalHold, hold_id)


def holds(session: Session, agency_id: int, active_only: bool) -> list[LegalHold]:
    query = select(LegalHold).where(LegalHold.agency_id == agency_id).order_by(LegalHold.id)
    if active_only:
        query = query.where(LegalHold.released.is_(None))
    return list(session.scalars(query))


def held(session: Session, object_type: str, agency_id: int | None = None) -> set[int]:
    """Ids of the objects of ``object_type`` a live hold covers (one agency's holds, when given)."""
    query = select(LegalHold.object_id).where(LegalHold.object_type == object_type, LegalHold.released.is_(None))
    if agency_id is not None:
        query = query.where(LegalHold.agency_id == agency_id)
    return {int(i) for i in session.scalars(query)}


def subject_holds(session: Session, subject_id: int) -> list[LegalHold]:
    return list(session.scalars(
        select(LegalHold).where(LegalHold.object_type == "subject", LegalHold.object_id == subject_id)
    ))  # fmt: skip


# --- consent -----------------------------------------------------------------------------


def consents(session: Session, subject_id: int, live_only: bool = False) -> list[Consent]:
    query = select(Consent).where(Consent.subject_id == subject_id).order_by(Consent.id)
    if live_only:
        query = query.where(Consent.withdrawn.is_(None))
    return list(session.scalars(query))


def _live(now: datetime) -> object:
    return (
        Consent.withdrawn.is_(None) & (Consent.given <= now) & ((Consent.expires.is_(None)) | (Consent.expires > now))
    )


def consented_subjects(session: Session, subject_ids: Iterable[int], now: datetime) -> set[int]:
    """The subjects among ``subject_ids`` with a live consent at ``now``."""
    ids = sorted(set(subject_ids))
    if not ids:
        return set()
    query = select(Consent.subject_id).where(Consent.subject_id.in_(ids), _live(now))  # type: ignore[arg-type]
    return {int(i) for i in session.scalars(query)}


def consented_references(session: Session, gallery_id: int, references: Iterable[str], now: datetime) -> set[str]:
    """References of subjects in the gallery with a live consent at ``now``."""
    rows = session.execute(
        select(Subject.id, Subject.reference).where(Subject.gallery_id == gallery_id,
                                                    Subject.reference.in_(list(references)))
    ).all()  # fmt: skip
    live = consented_subjects(session, [i for i, _ in rows], now)
    return {ref for sid, ref in rows if sid in live}


def without_consent(session: Session, gallery_id: int, now: datetime) -> list[int]:
    """Subjects of a consent gallery that hold templates, or once had a consent, and have no
    live consent at ``now`` (a subject just created, awaiting its consent, is left alone)."""
    with_templates = set(
        session.scalars(select(TemplateRow.subject_id).where(TemplateRow.gallery_id == gallery_id).distinct())
    )
    consented_once = set(
        session.scalars(
            select(Consent.subject_id).join(Subject, Subject.id == Consent.subject_id)
            .where(Subject.gallery_id == gallery_id)
        )
    )  # fmt: skip
    candidates = with_templates | consented_once
    live = consented_subjects(session, candidates, now)
    return sorted(int(s) for s in candidates if s not in live)


def withdraw(session: Session, subject_id: int, moment: datetime) -> int:
    live = consents(session, subject_id, live_only=True)
    for consent in live:
        consent.withdrawn = moment
    return len(live)


# --- retention ---------------------------------------------------------------------------


def probes(session: Session, agency_id: int) -> list[tuple[int, datetime, int, int]]:
    """(request id, created, case id, image id) of every request addressed to the agency that
    still holds its probe."""
    rows = session.execute(
        select(Request.id, Request.created, Request.case_id, Request.probe_image_id)
        .where(Request.target_agency_id == agency_id, Request.probe_image_id.is_not(None))
    ).all()  # fmt: skip
    return [(int(r), c, int(case), int(i or 0)) for r, c, case, i in rows]


def drop_probes(session: Session, request_ids: list[int]) -> None:
    """Delete the probe photos (and the crops of their chosen faces) of these requests."""
    if not request_ids:
        return
    images = list(session.scalars(select(Request.probe_image_id).where(Request.id.in_(request_ids))))
    session.execute(update(Request).where(Request.id.in_(request_ids)).values(probe_image_id=None, probe_crop_id=None))
    session.execute(delete(StoredImage).where(StoredImage.id.in_([i for i in images if i is not None])))
    session.execute(delete(StoredImage).where(StoredImage.request_id.in_(request_ids),
                                              StoredImage.kind.in_(PROBE_KINDS)))  # fmt: skip


def candidate_rows(session: Session, agency_id: int) -> list[tuple[int, datetime, int]]:
    """(candidate id, search time, case id) of every candidate of the agency's searches."""
    rows = session.execute(
        select(Candidate.id, Search.created, Request.case_id)
        .join(Search, Search.id == Candidate.search_id)
        .join(Request, Request.id == Search.request_id)
        .where(Search.agency_id == agency_id)
    ).all()
    return [(int(c), t, int(case)) for c, t, case in rows]


def drop_candidates(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(delete(Candidate).where(Candidate.id.in_(ids)))


def template_rows(session: Session, gallery_id: int) -> list[tuple[int, datetime, int]]:
    """(template id, created, subject id) of a gallery's templates."""
    rows = session.execute(
        select(TemplateRow.id, TemplateRow.created, TemplateRow.subject_id).where(TemplateRow.gallery_id == gallery_id)
    ).all()
    return [(int(t), c, int(s)) for t, c, s in rows]


def drop_templates(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(delete(TemplateRow).where(TemplateRow.id.in_(ids)))


def subject_interactions(session: Session, gallery_id: int) -> list[tuple[int, datetime, int]]:
    """(subject id, last interaction or creation, subject id) of a gallery's subjects."""
    last = func.coalesce(Subject.last_interaction, Subject.created)
    rows = session.execute(select(Subject.id, last).where(Subject.gallery_id == gallery_id)).all()
    return [(int(s), t, int(s)) for s, t in rows]


# --- erasure and access ------------------------------------------------------------------


def erase_subject_rows(session: Session, subject_id: int) -> tuple[list[int], dict[str, int]]:
    """Delete a subject's rows everywhere; returns the removed template ids and counts."""
    ids = [int(i) for i in session.scalars(select(TemplateRow.id).where(TemplateRow.subject_id == subject_id))]
    candidates = list(session.scalars(select(Candidate.id).where(Candidate.subject_id == subject_id)))
    if candidates:
        session.execute(delete(Candidate).where(Candidate.id.in_(candidates)))
    verified = session.scalar(select(func.count()).where(Search.subject_id == subject_id)) or 0
    consents_ = session.scalar(select(func.count()).where(Consent.subject_id == subject_id)) or 0
    session.execute(update(Search).where(Search.subject_id == subject_id).values(subject_id=None))
    session.execute(delete(Consent).where(Consent.subject_id == subject_id))
    photos = int(session.execute(delete(StoredImage).where(StoredImage.subject_id == subject_id)).rowcount or 0)  # type: ignore[attr-defined]
    session.execute(delete(TemplateRow).where(TemplateRow.subject_id == subject_id))
    staged = session.execute(delete(StagedTemplate).where(StagedTemplate.subject_id == subject_id))
    session.execute(delete(Subject).where(Subject.id == subject_id))
    staged_count = int(getattr(staged, "rowcount", 0) or 0)  # templates a running re-embedding made
    counts = {"templates": len(ids) + staged_count, "candidate_entries": len(candidates),
              "verifications_unlinked": int(verified), "consents": int(consents_), "photos": photos}  # fmt: skip
    return ids, counts


def subject_templates(session: Session, subject_id: int) -> list[TemplateRow]:
    return list(session.scalars(select(TemplateRow).where(TemplateRow.subject_id == subject_id)))


def staged_of_subject(session: Session, subject_id: int) -> list[tuple[StagedTemplate, str]]:
    """A subject's templates made by an unfinished re-embedding, with its model id."""
    query = (
        select(StagedTemplate, Reembedding.model_id)
        .join(Reembedding, Reembedding.id == StagedTemplate.reembedding_id)
        .where(StagedTemplate.subject_id == subject_id)
        .order_by(StagedTemplate.id)
    )
    return [(row, str(model)) for row, model in session.execute(query)]


def appearances(session: Session, subject_id: int) -> list[tuple[Candidate, int, datetime]]:
    """(candidate, request id, search time) of every candidate list naming the subject."""
    rows = session.execute(
        select(Candidate, Search.request_id, Search.created)
        .join(Search, Search.id == Candidate.search_id)
        .where(Candidate.subject_id == subject_id)
        .order_by(Candidate.id)
    ).all()
    return [(c, int(r), t) for c, r, t in rows]
