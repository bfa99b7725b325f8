"""Evaluation runs kept on record and the calibrated thresholds taken from them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facedocket.store.tables import Calibration, EvaluationRun


def run(session: Session, run_id: int) -> EvaluationRun | None:
    return session.get(EvaluationRun, run_id)


def runs(session: Session, agency_id: int) -> list[EvaluationRun]:
    query = select(EvaluationRun).where(EvaluationRun.agency_id == agency_id).order_by(EvaluationRun.id)
    return list(session.scalars(query))


def newest_threshold(session: Session, agency_id: int, model_id: str, gallery_id: int | None) -> float | None:
    """The newest calibrated threshold of an agency for a model, for one gallery (or for the
    model as a whole when ``gallery_id`` is None)."""
    query = (
        select(Calibration.threshold)
        .where(Calibration.agency_id == agency_id, Calibration.model_id == model_id)
        .order_by(Calibration.id.desc())
        .limit(1)
    )
    query = query.where(
        Calibration.gallery_id.is_(None) if gallery_id is None else Calibration.gallery_id == gallery_id
    )
    found = session.scalar(query)
    return None if found is None else float(found)
