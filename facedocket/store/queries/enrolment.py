"""What enrolment reads and writes: known photos, subjects by reference, new templates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facedocket.store.tables import Subject, TemplateRow


def known_photos(session: Session, gallery_id: int, shas: list[str]) -> set[str]:
    """Which of these photo SHA-256s the gallery holds a template of."""
    if not shas:
        return set()
    query = select(TemplateRow.source_sha256).where(TemplateRow.gallery_id == gallery_id,
                                                    TemplateRow.source_sha256.in_(shas))  # fmt: skip
    return set(session.scalars(query))


def subjects_by_reference(session: Session, gallery_id: int, references: list[str]) -> dict[str, Subject]:
    query = select(Subject).where(Subject.gallery_id == gallery_id, Subject.reference.in_(references))
    return {s.reference: s for s in session.scalars(query)}
