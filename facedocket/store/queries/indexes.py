"""What the vector indexes read from the database: a gallery's generation and its templates."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facedocket.store.tables import Gallery, TemplateRow


def state(session: Session, gallery_id: int) -> tuple[int, str, str]:
    """(generation, epoch, index kind) of a gallery; (0, "", "auto") for one that is gone."""
    query = select(Gallery.generation, Gallery.epoch, Gallery.index_kind).where(Gallery.id == gallery_id)
    row = session.execute(query).first()
    return (int(row[0] or 0), str(row[1] or ""), str(row[2])) if row else (0, "", "auto")


def bump_generation(session: Session, gallery_id: int) -> tuple[int, str]:
    """Increment the gallery's generation and draw a new random epoch, inside the caller's
    transaction; returns both. (A database restored from a backup and moved on again never
    shows a (generation, epoch) pair it showed before.)"""
    epoch = secrets.token_hex(16)
    values = {"generation": Gallery.generation + 1, "epoch": epoch}
    session.execute(update(Gallery).where(Gallery.id == gallery_id).values(**values))
    return int(session.scalar(select(Gallery.generation).where(Gallery.id == gallery_id)) or 0), epoch


def template_vectors(session: Session, gallery_id: int) -> list[tuple[int, bytes]]:
    """(template id, vector bytes) of every template of a gallery."""
    rows = session.execute(select(TemplateRow.id, TemplateRow.vector).where(TemplateRow.gallery_id == gallery_id))
    return [(int(i), bytes(v)) for i, v in rows]


def template_ids(session: Session, gallery_id: int) -> list[int]:
    return [int(i) for i in session.scalars(select(TemplateRow.id).where(TemplateRow.gallery_id == gallery_id))]


def vectors_of(session: Session, ids: list[int], chunk: int = 10_000) -> Iterator[list[tuple[int, bytes]]]:
    """(template id, vector bytes) of the given templates, in chunks."""
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        rows = session.execute(select(TemplateRow.id, TemplateRow.vector).where(TemplateRow.id.in_(part)))
        yield [(int(i), bytes(v)) for i, v in rows]
