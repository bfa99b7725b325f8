"""Deployments: describe one, authorise it, start and stop its background worker, read its
status (with the policy gate's checklist) and its report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from facedocket.api.deps import ActorDep, ServiceDep
from facedocket.api.schemas import error_responses
from facedocket.api.video_schemas import (
    AuthorisationCreate,
    DeploymentCreate,
    DeploymentPublic,
    DeploymentsPublic,
    WorkerPublic,
)
from facedocket.service import DeploymentDraft, DeploymentInfo, Service

router = APIRouter(tags=["deployments"], responses=error_responses(401, 403, 404, 422))


def _public(service: Service, info: DeploymentInfo) -> DeploymentPublic:
    status = service.video_workers.status(info.id)
    worker = WorkerPublic.model_validate(status) if status is not None else None
    return DeploymentPublic.model_validate(info).model_copy(update={"worker": worker})


@router.post("/deployments", status_code=201, responses=error_responses(400, 409))
def create_deployment(body: DeploymentCreate, actor: ActorDep, service: ServiceDep) -> DeploymentPublic:
    """Describe a deployment (admins and supervisors): source, site and place, time windows,
    watchlists, threshold (never below the policy's watchlist floor: a 403 names the rule),
    DPIA reference, signage. Describing it starts nothing."""
    draft = DeploymentDraft(body.name, body.source, body.site, body.place, body.windows, body.watchlists,
                            body.threshold, body.dpia_reference, body.signage, body.timezone)  # fmt: skip
    return _public(service, service.deployments.create_deployment(actor, draft))


@router.get("/deployments")
def list_deployments(actor: ActorDep, service: ServiceDep) -> DeploymentsPublic:
    """Your agency's deployments, with their status and the gate's checklist now."""
    found = [_public(service, d) for d in service.deployments.list_deployments(actor)]
    return DeploymentsPublic(data=found, count=len(found))


@router.get("/deployments/{deployment_id}")
def get_deployment(deployment_id: int, actor: ActorDep, service: ServiceDep) -> DeploymentPublic:
    """One deployment: its status, its worker in this server, and the policy gate's verdict
    on it now, rule by rule (what would stop it from starting)."""
    return _public(service, service.deployments.get_deployment(actor, deployment_id))


@router.post("/deployments/{deployment_id}/authorise")
def authorise_deployment(
    deployment_id: int, body: AuthorisationCreate, actor: ActorDep, service: ServiceDep
) -> DeploymentPublic:
    """A supervisor's authorisation of the deployment (where the policy asks for one)."""
    return _public(service, service.deployments.authorise(actor, deployment_id, body.reference))


@router.post("/deployments/{deployment_id}/start", responses=error_responses(409))
def start_deployment(deployment_id: int, actor: ActorDep, service: ServiceDep) -> DeploymentPublic:
    """Start matching in a background worker of this server (admins, supervisors, examiners).
    The policy gate runs first: a refusal is a 403 naming every failed rule (recorded). The
    worker checks the gate again at every time window; it waits while no window is open,
    reconnects a dropped live source, and is restarted if it dies (recorded)."""
    return _public(service, service.video_workers.start(actor, deployment_id))


@router.post("/deployments/{deployment_id}/stop")
def stop_deployment(deployment_id: int, actor: ActorDep, service: ServiceDep) -> DeploymentPublic:
    """Stop the deployment's worker (recorded, with the faces seen and alerts raised)."""
    return _public(service, service.video_workers.stop(actor, deployment_id))


@router.get("/deployments/{deployment_id}/report", response_class=JSONResponse)
def deployment_report(
    deployment_id: int,
    actor: ActorDep,
    service: ServiceDep,
    period: Annotated[str, Query(description="A year (2026), a quarter (2026Q3) or a month (2026-07), in UTC.")],
) -> Any:
    """The deployment's report for a period: its description, runs, hours active, faces seen
    (per hour too), alerts, confirmed, dismissed, false-alert share and rate, refusals, and
    the entries added to and gone from its watchlists, each field with its definition."""
    return service.reports.deployment_report(actor, deployment_id, period)
