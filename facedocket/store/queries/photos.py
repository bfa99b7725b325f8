"""The encrypted file store: photos, face crops and documents, and what they belong to."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facedocket.store.tables import Gallery, Request, StoredImage, Subject
from facedocket.vocab import ENROLMENT_PHOTO_KINDS


def file(session: Session, file_id: int) -> StoredImage | None:
    return session.get(StoredImage, file_id)


def add(session: Session, row: StoredImage) -> StoredImage:
    session.add(row)
    session.flush()
    return row


def of_subject(session: Session, subject_id: int) -> list[StoredImage]:
    """A subject's enrolment photos and crops, oldest first."""
    query = select(StoredImage).where(StoredImage.subject_id == subject_id,
                                      StoredImage.kind.in_(ENROLMENT_PHOTO_KINDS))  # fmt: skip
    return list(session.scalars(query.order_by(StoredImage.id)))


def of_subjects(session: Session, agency_id: int, subject_ids: Iterable[int]) -> list[StoredImage]:
    """The enrolment photos and crops of several subjects, kept by ``agency_id``, oldest first."""
    ids = sorted(set(subject_ids))
    if not ids:
        return []
    query = select(StoredImage).where(StoredImage.subject_id.in_(ids), StoredImage.agency_id == agency_id,
                                      StoredImage.kind.in_(ENROLMENT_PHOTO_KINDS))  # fmt: skip
    return list(session.scalars(query.order_by(StoredImage.id)))


def of_templates(session: Session, template_ids: Iterable[int]) -> list[StoredImage]:
    """The enrolment photos and crops the given templates were made from."""
    ids = sorted(set(template_ids))
    if not ids:
        return []
    query = select(StoredImage).where(StoredImage.template_id.in_(ids), StoredImage.kind.in_(ENROLMENT_PHOTO_KINDS))
    return list(session.scalars(query.order_by(StoredImage.id)))


def descriptions(session: Session, subject_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """subject id -> (file id, kind) of its enrolment photos, without their bytes."""
    ids = sorted(set(subject_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(StoredImage.subject_id, StoredImage.id, StoredImage.kind)
        .where(StoredImage.subject_id.in_(ids), StoredImage.kind.in_(ENROLMENT_PHOTO_KINDS))
        .order_by(StoredImage.id)
    ).all()
    found: dict[int, list[tuple[int, str]]] = {}
    for subject_id, file_id, kind in rows:
        found.setdefault(int(subject_id or 0), []).append((int(file_id), str(kind)))
    return found


def gallery_sources(session: Session, gallery_id: int, after: int, limit: int) -> list[tuple[StoredImage, str]]:
    """One page of a gallery's enrolment source photos with their subject's reference, by id
    after ``after``."""
    rows = session.execute(
        select(StoredImage, Subject.reference)
        .join(Subject, Subject.id == StoredImage.subject_id)
        .where(StoredImage.gallery_id == gallery_id, StoredImage.kind == "enrolment-source", StoredImage.id > after)
        .order_by(StoredImage.id)
        .limit(limit)
    ).all()
    return [(f, str(reference)) for f, reference in rows]


def count_of_gallery(session: Session, gallery_id: int) -> int:
    query = select(func.count()).where(StoredImage.gallery_id == gallery_id,
                                       StoredImage.kind.in_(ENROLMENT_PHOTO_KINDS))  # fmt: skip
    return int(session.scalar(query) or 0)


def delete_of_gallery(session: Session, gallery_id: int) -> int:
    """Delete a gallery's enrolment photos; returns how many."""
    query = delete(StoredImage).where(StoredImage.gallery_id == gallery_id,
                                      StoredImage.kind.in_(ENROLMENT_PHOTO_KINDS))  # fmt: skip
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def listed_of_subject(session: Session, subject_id: int) -> list[tuple[str, str]]:
    """(kind, SHA-256) of a subject's enrolment photos, oldest first."""
    query = select(StoredImage.kind, StoredImage.sha256).where(StoredImage.subject_id == subject_id)
    return [(str(k), str(s)) for k, s in session.execute(query.order_by(StoredImage.id))]


def delete_of_subject(session: Session, subject_id: int) -> int:
    """Delete a subject's enrolment photos; returns how many."""
    return int(session.execute(delete(StoredImage).where(StoredImage.subject_id == subject_id)).rowcount or 0)  # type: ignore[attr-defined]


def enrolment_rows(session: Session, gallery_id: int) -> list[tuple[int, datetime, int]]:
    """(file id, created, subject id) of a gallery's enrolment photos (for retention)."""
    rows = session.execute(
        select(StoredImage.id, StoredImage.created, StoredImage.subject_id)
        .where(StoredImage.gallery_id == gallery_id, StoredImage.kind.in_(ENROLMENT_PHOTO_KINDS))
    ).all()  # fmt: skip
    return [(int(i), c, int(s or 0)) for i, c, s in rows]


def delete_files(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(delete(StoredImage).where(StoredImage.id.in_(ids)))


def request_of(session: Session, row: StoredImage) -> Request | None:
    """The request a probe, crop or document belongs to."""
    return session.get(Request, row.request_id) if row.request_id is not None else None


def gallery_of(session: Session, row: StoredImage) -> Gallery | None:
    return session.get(Gallery, row.gallery_id) if row.gallery_id is not None else None


def meta_of(session: Session, file_id: int | None) -> dict[str, Any] | None:
    """A file's ``meta`` without its bytes."""
    if file_id is None:
        return None
    meta = session.scalar(select(StoredImage.meta).where(StoredImage.id == file_id))
    return dict(meta) if meta else None


def metas(session: Session, file_ids: list[int]) -> dict[int, dict[str, Any]]:
    """file id -> ``meta`` (without the bytes), for many files at once."""
    if not file_ids:
        return {}
    rows = session.execute(select(StoredImage.id, StoredImage.meta).where(StoredImage.id.in_(sorted(set(file_ids)))))
    return {int(i): dict(m or {}) for i, m in rows}
