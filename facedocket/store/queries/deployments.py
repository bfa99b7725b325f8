"""Deployments, their runs and the faces counted per hour."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from facedocket.store.locks import NO_KEY_UPDATE
from facedocket.store.tables import Deployment, DeploymentRun, FaceCount, User


def deployment(session: Session, deployment_id: int) -> Deployment | None:
    return session.get(Deployment, deployment_id) if 1 <= deployment_id <= 2**63 - 1 else None


def lock_deployment(session: Session, deployment_id: int) -> Deployment | None:
    """The deployment row, locked for the transaction and read afresh."""
    if not 1 <= deployment_id <= 2**63 - 1:
        return None
    return session.get(Deployment, deployment_id, with_for_update=NO_KEY_UPDATE, populate_existing=True)


def by_name(session: Session, agency_id: int, name: str) -> Deployment | None:
    return session.scalar(select(Deployment).where(Deployment.agency_id == agency_id, Deployment.name == name))


def of_agency(session: Session, agency_id: int) -> list[Deployment]:
    return list(session.scalars(select(Deployment).where(Deployment.agency_id == agency_id).order_by(Deployment.id)))


def with_status(session: Session, statuses: Iterable[str]) -> list[Deployment]:
    """Deployments of every agency in one of ``statuses``."""
    query = select(Deployment).where(Deployment.status.in_(list(statuses))).order_by(Deployment.id)
    return list(session.scalars(query))


def run(session: Session, run_id: int) -> DeploymentRun | None:
    return session.get(DeploymentRun, run_id, populate_existing=True)


def open_run(session: Session, deployment_id: int) -> DeploymentRun | None:
    """The deployment's run that has not ended, if any."""
    query = select(DeploymentRun).where(DeploymentRun.deployment_id == deployment_id, DeploymentRun.ended.is_(None))
    return session.scalar(query.order_by(DeploymentRun.id.desc()).limit(1))


def last_run(session: Session, deployment_id: int) -> DeploymentRun | None:
    query = select(DeploymentRun).where(DeploymentRun.deployment_id == deployment_id)
    return session.scalar(query.order_by(DeploymentRun.id.desc()).limit(1))


def runs_between(session: Session, deployment_id: int, start: datetime, end: datetime) -> list[DeploymentRun]:
    """The deployment's runs that overlap ``[start, end)``."""
    query = select(DeploymentRun).where(
        DeploymentRun.deployment_id == deployment_id,
        DeploymentRun.started < end,
        (DeploymentRun.ended.is_(None)) | (DeploymentRun.ended > start),
    )
    return list(session.scalars(query.order_by(DeploymentRun.id)))


def add_faces(session: Session, deployment_id: int, agency_id: int, hour: datetime, faces: int) -> None:
    """Add ``faces`` to the deployment's count for ``hour`` (a row per deployment and hour)."""
    row = session.get(FaceCount, (deployment_id, hour), with_for_update=NO_KEY_UPDATE)
    if row is None:
        session.add(FaceCount(deployment_id=deployment_id, hour=hour, agency_id=agency_id, faces=faces))
    else:
        row.faces += faces


def face_counts(session: Session, deployment_id: int) -> list[FaceCount]:
    query = select(FaceCount).where(FaceCount.deployment_id == deployment_id).order_by(FaceCount.hour)
    return list(session.scalars(query))


def user_agency(session: Session, user_id: int) -> int | None:
    user = session.get(User, user_id)
    return user.agency_id if user is not None else None


__all__ = [
    "add_faces",
    "by_name",
    "deployment",
    "face_counts",
    "last_run",
    "lock_deployment",
    "of_agency",
    "open_run",
    "run",
    "runs_between",
    "user_agency",
    "with_status",
]
