"""Cases: the investigations written requests are filed under."""

from __future__ import annotations

from fastapi import APIRouter

from facedocket.api.deps import ActorDep, IdPath, ServiceDep
from facedocket.api.request_schemas import CaseCreate, CasePublic, CasesPublic
from facedocket.api.schemas import error_responses

router = APIRouter(tags=["cases"], responses=error_responses(401, 403, 422))


@router.post("/cases", status_code=201, responses=error_responses(400, 409))
def create_case(body: CaseCreate, actor: ActorDep, service: ServiceDep) -> CasePublic:
    """Open a case in your agency (requesters, examiners, supervisors): its number, unique in
    your agency, and the offence category that policies and reports count searches by."""
    return CasePublic.model_validate(
        service.requests.create_case(actor, body.number, body.offence_category, body.description)
    )


@router.get("/cases")
def list_cases(actor: ActorDep, service: ServiceDep) -> CasesPublic:
    """Your agency's cases, oldest first."""
    cases = [CasePublic.model_validate(c) for c in service.requests.list_cases(actor)]
    return CasesPublic(data=cases, count=len(cases))


@router.get("/cases/{case_id}", responses=error_responses(404))
def get_case(case_id: IdPath, actor: ActorDep, service: ServiceDep) -> CasePublic:
    """One case of your agency."""
    return CasePublic.model_validate(service.requests.get_case(actor, case_id))
