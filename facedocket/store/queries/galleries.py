"""Galleries, sharing and subjects."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facedocket.store.locks import NO_KEY_UPDATE
from facedocket.store.tables import Gallery, GalleryShare, StoredImage, Subject, TemplateRow


def gallery(session: Session, gallery_id: int) -> Gallery | None:
    return session.get(Gallery, gallery_id)


def lock_gallery(session: Session, gallery_id: int) -> Gallery | None:
    """The gallery row, locked for the rest of the transaction (FOR NO KEY UPDATE on PostgreSQL;
    SQLite's write transaction holds the whole database)."""
    return session.get(Gallery, gallery_id, with_for_update=NO_KEY_UPDATE, populate_existing=True)


def shared_with(session: Session, gallery_id: int, agency_id: int) -> bool:
    return session.get(GalleryShare, (gallery_id, agency_id)) is not None


def share(session: Session, gallery_id: int, agency_id: int) -> GalleryShare | None:
    return session.get(GalleryShare, (gallery_id, agency_id))


def unshare(session: Session, gallery_id: int, agency_id: int) -> None:
    session.execute(delete(GalleryShare).where(GalleryShare.gallery_id == gallery_id,
                                               GalleryShare.agency_id == agency_id))  # fmt: skip


def usable(session: Session, agency_id: int) -> list[Gallery]:
    """Galleries an agency owns or that are shared with it."""
    shared = select(GalleryShare.gallery_id).where(GalleryShare.agency_id == agency_id)
    query = select(Gallery).where((Gallery.agency_id == agency_id) | Gallery.id.in_(shared))
    return list(session.scalars(query.order_by(Gallery.id)))


def owned(session: Session, agency_id: int) -> list[Gallery]:
    return list(session.scalars(select(Gallery).where(Gallery.agency_id == agency_id).order_by(Gallery.id)))


def by_name(session: Session, agency_id: int, name: str) -> Gallery | None:
    return session.scalar(select(Gallery).where(Gallery.agency_id == agency_id, Gallery.name == name))


def counts(session: Session, gallery_id: int) -> tuple[int, int]:
    """(subjects, templates) of a gallery."""
    subjects = session.scalar(select(func.count()).where(Subject.gallery_id == gallery_id)) or 0
    templates = session.scalar(select(func.count()).where(TemplateRow.gallery_id == gallery_id)) or 0
    return int(subjects), int(templates)


def shares(session: Session, gallery_id: int) -> tuple[int, ...]:
    return tuple(session.scalars(select(GalleryShare.agency_id).where(GalleryShare.gallery_id == gallery_id)))


def subject(session: Session, subject_id: int) -> Subject | None:
    return session.get(Subject, subject_id)


def subject_by_reference(session: Session, gallery_id: int, reference: str) -> Subject | None:
    return session.scalar(select(Subject).where(Subject.gallery_id == gallery_id, Subject.reference == reference))


def subjects_page(session: Session, gallery_id: int, offset: int, limit: int) -> list[tuple[Subject, int]]:
    """(subject, template count) of a gallery, by id, one page (templates counted for the page's
    subjects only, so a page costs the same in a gallery of any size)."""
    page = list(session.scalars(
        select(Subject).where(Subject.gallery_id == gallery_id).order_by(Subject.id).offset(offset).limit(limit)
    ))  # fmt: skip
    if not page:
        return []
    rows = session.execute(
        select(TemplateRow.subject_id, func.count()).where(TemplateRow.subject_id.in_([s.id for s in page]))
        .group_by(TemplateRow.subject_id)
    )  # fmt: skip
    counts = {int(subject_id): int(n) for subject_id, n in rows}
    return [(s, counts.get(s.id, 0)) for s in page]


def subject_template_count(session: Session, subject_id: int) -> int:
    return int(session.scalar(select(func.count()).where(TemplateRow.subject_id == subject_id)) or 0)


def subject_template_ids(session: Session, subject_id: int) -> list[int]:
    return [int(i) for i in session.scalars(select(TemplateRow.id).where(TemplateRow.subject_id == subject_id))]


def delete_subject(session: Session, subject_id: int) -> None:
    """Delete a subject, its templates and its enrolment photos (candidate rows keep their
    place, subject unset)."""
    session.execute(delete(StoredImage).where(StoredImage.subject_id == subject_id))
    session.execute(delete(TemplateRow).where(TemplateRow.subject_id == subject_id))
    session.execute(delete(Subject).where(Subject.id == subject_id))


def subject_vectors(session: Session, subject_id: int) -> list[tuple[int, bytes]]:
    rows = session.execute(select(TemplateRow.id, TemplateRow.vector).where(TemplateRow.subject_id == subject_id))
    return [(int(i), bytes(v)) for i, v in rows]


def references(session: Session, subject_ids: set[int]) -> dict[int, str]:
    if not subject_ids:
        return {}
    rows = session.execute(select(Subject.id, Subject.reference).where(Subject.id.in_(sorted(subject_ids))))
    return {int(i): str(r) for i, r in rows}


def names(session: Session, gallery_ids: list[int]) -> list[str]:
    """The names of these galleries, in the order given (an unknown id as ``#id``)."""
    if not gallery_ids:
        return []
    found = {int(i): str(n) for i, n in session.execute(select(Gallery.id, Gallery.name).where(
        Gallery.id.in_(sorted({int(g) for g in gallery_ids}))))}  # fmt: skip
    return [found.get(int(g), f"#{g}") for g in gallery_ids]


def name_map(session: Session, gallery_ids: set[int]) -> dict[int, str]:
    """gallery id -> name, for these galleries."""
    if not gallery_ids:
        return {}
    return {int(i): str(n) for i, n in session.execute(select(Gallery.id, Gallery.name).where(
        Gallery.id.in_(sorted(gallery_ids))))}  # fmt: skip
