"""What re-embedding a gallery reads and writes: the running re-embedding, the staged
templates, and the swap of a gallery's templates."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facedocket.store.locks import NO_KEY_UPDATE
from facedocket.store.tables import Reembedding, StagedTemplate, TemplateRow


def running(session: Session, gallery_id: int, lock: bool = False) -> Reembedding | None:
    """The gallery's unfinished re-embedding, if any (``lock``: FOR NO KEY UPDATE on PostgreSQL)."""
    query = select(Reembedding).where(Reembedding.gallery_id == gallery_id, Reembedding.state == "running")
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    return session.scalar(query)


def job(session: Session, job_id: int, lock: bool = False) -> Reembedding | None:
    return session.get(Reembedding, job_id, with_for_update=NO_KEY_UPDATE if lock else False, populate_existing=lock)


def templates_by_photo(session: Session, gallery_id: int, shas: list[str]) -> dict[str, tuple[int, int, list[Any]]]:
    """photo SHA-256 -> (template id, subject id, face box) of the gallery's templates made
    from these photos."""
    if not shas:
        return {}
    query = select(TemplateRow.source_sha256, TemplateRow.id, TemplateRow.subject_id, TemplateRow.box).where(
        TemplateRow.gallery_id == gallery_id, TemplateRow.source_sha256.in_(sorted(set(shas)))
    )
    return {str(sha): (int(i), int(s), list(box or [])) for sha, i, s, box in session.execute(query)}


def staged_photos(session: Session, job_id: int, shas: list[str] | None = None) -> set[str]:
    """Photo SHA-256s the re-embedding has already staged (of ``shas``, or all)."""
    query = select(StagedTemplate.source_sha256).where(StagedTemplate.reembedding_id == job_id)
    if shas is not None:
        if not shas:
            return set()
        query = query.where(StagedTemplate.source_sha256.in_(sorted(set(shas))))
    return set(session.scalars(query))


def staged_counts(session: Session, job_id: int) -> Counter[str]:
    """How many staged rows of a re-embedding have each outcome."""
    query = (
        select(StagedTemplate.outcome, func.count())
        .where(StagedTemplate.reembedding_id == job_id)
        .group_by(StagedTemplate.outcome)
    )
    return Counter({str(outcome): int(n) for outcome, n in session.execute(query)})


def staged(session: Session, job_id: int) -> dict[str, StagedTemplate]:
    """photo SHA-256 -> staged row, for every photo the re-embedding staged."""
    query = select(StagedTemplate).where(StagedTemplate.reembedding_id == job_id)
    return {row.source_sha256: row for row in session.scalars(query)}


def gallery_templates(session: Session, gallery_id: int) -> list[tuple[int, str, int]]:
    """(template id, photo SHA-256, subject id) of every template of a gallery."""
    query = select(TemplateRow.id, TemplateRow.source_sha256, TemplateRow.subject_id).where(
        TemplateRow.gallery_id == gallery_id
    )
    return [(int(i), str(sha), int(s)) for i, sha, s in session.execute(query)]


def delete_gallery_templates(session: Session, gallery_id: int) -> None:
    session.execute(delete(TemplateRow).where(TemplateRow.gallery_id == gallery_id))


def delete_staged(session: Session, job_id: int) -> None:
    session.execute(delete(StagedTemplate).where(StagedTemplate.reembedding_id == job_id))


def delete_staged_of_subject(session: Session, subject_id: int) -> int:
    """Delete a subject's staged templates (an erasure or deletion reaches them too)."""
    result = session.execute(delete(StagedTemplate).where(StagedTemplate.subject_id == subject_id))
    return int(getattr(result, "rowcount", 0) or 0)
