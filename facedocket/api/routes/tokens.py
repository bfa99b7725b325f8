"""API tokens (issue, revoke) and who you are."""

from __future__ import annotations

from fastapi import APIRouter, Response

from facedocket.api.deps import ActorDep, IdPath, ServiceDep
from facedocket.api.schemas import AgencyPublic, MePublic, TokenCreate, TokenPublic, error_responses

router = APIRouter(tags=["tokens"], responses=error_responses(401, 403, 422))


@router.post("/tokens", status_code=201, responses=error_responses(404))
def create_token(body: TokenCreate, actor: ActorDep, service: ServiceDep) -> TokenPublic:
    """Make yourself a token (with a live token of yours, or the activation token an admin
    handed you, which this uses up). Nobody makes a token for someone else (403). The secret
    is in the answer, shown this once; only its hash is stored. It expires."""
    return TokenPublic.model_validate(service.accounts.create_token(actor, body.user_id, body.name))


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response, responses=error_responses(404))
def revoke_token(token_id: IdPath, actor: ActorDep, service: ServiceDep) -> Response:
    """Revoke a token: your own, or (admins) any of your agency's."""
    service.accounts.revoke_token(actor, token_id)
    return Response(status_code=204)


@router.get("/me")
def me(actor: ActorDep, service: ServiceDep) -> MePublic:
    """Who the token stands for: user, role and agency."""
    agency = next(a for a in service.accounts.list_agencies(actor) if a.id == actor.agency_id)
    return MePublic(
        user_id=actor.user_id,
        username=actor.username,
        role=actor.role,
        operator=actor.operator,
        activation=actor.activation,
        agency=AgencyPublic.model_validate(agency),
    )
