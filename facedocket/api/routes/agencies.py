"""Agencies (tenants). Only admins of the operator agency create them."""

from __future__ import annotations

from fastapi import APIRouter

from facedocket.api.deps import ActorDep, ServiceDep
from facedocket.api.schemas import (
    AgenciesPublic,
    AgencyCreate,
    AgencyCreatedPublic,
    AgencyPublic,
    TokenPublic,
    error_responses,
)

router = APIRouter(tags=["agencies"], responses=error_responses(401, 403, 422))


@router.post("/agencies", status_code=201, responses=error_responses(400, 409))
def create_agency(body: AgencyCreate, actor: ActorDep, service: ServiceDep) -> AgencyCreatedPublic:
    """Create an agency with its first admin (operator admins only). The answer holds the
    admin's activation token, shown this once: it only makes the admin's own token."""
    agency, token = service.accounts.create_agency(actor, body.name, body.admin_username)
    return AgencyCreatedPublic(agency=AgencyPublic.model_validate(agency), token=TokenPublic.model_validate(token))


@router.get("/agencies")
def list_agencies(actor: ActorDep, service: ServiceDep) -> AgenciesPublic:
    """Every agency for operator admins; your own agency for everyone else."""
    agencies = [AgencyPublic.model_validate(a) for a in service.accounts.list_agencies(actor)]
    return AgenciesPublic(data=agencies, count=len(agencies))
