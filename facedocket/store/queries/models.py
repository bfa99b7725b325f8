"""The template models registered in this installation, and which galleries use which model."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facedocket.store.tables import Gallery, RegisteredModel


def registered(session: Session) -> list[RegisteredModel]:
    return list(session.scalars(select(RegisteredModel).order_by(RegisteredModel.id)))


def model(session: Session, model_id: str, lock: bool = False) -> RegisteredModel | None:
    query = select(RegisteredModel).where(RegisteredModel.model_id == model_id)
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    return session.scalar(query)


def revision(session: Session, model_id: str) -> int | None:
    """The registered model's revision (None when it is not registered)."""
    found = session.scalar(select(RegisteredModel.revision).where(RegisteredModel.model_id == model_id))
    return None if found is None else int(found)


def galleries_per_model(session: Session) -> dict[str, int]:
    """model id -> how many galleries (of every agency) use it."""
    rows = session.execute(select(Gallery.model_id, func.count()).group_by(Gallery.model_id))
    return {str(m): int(n) for m, n in rows}
