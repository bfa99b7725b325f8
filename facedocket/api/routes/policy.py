"""The policy profile an agency's searches run under: read it, activate one, list the shipped ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from facedocket.api.deps import ActorDep, ServiceDep
from facedocket.api.schemas import (
    PolicyProfilesPublic,
    PolicyProfileSummary,
    PolicyPublic,
    PolicyUpdate,
    error_responses,
)
from facedocket.governance.explain import explain, profile_warnings
from facedocket.governance.policy import PolicyProfile, load_profile, shipped_profiles
from facedocket.service.inputs import MAX_ID

router = APIRouter(tags=["policy"], responses=error_responses(401, 403, 422))


def _public(agency_id: int, profile: PolicyProfile | None) -> PolicyPublic:
    if profile is None:
        return PolicyPublic(agency_id=agency_id, active=False)
    return PolicyPublic(
        agency_id=agency_id,
        active=True,
        name=profile.name,
        profile=profile.model_dump(mode="json"),
        explanation=explain(profile),
        warnings=profile_warnings(profile),
    )


@router.get("/policy", responses=error_responses(404))
def get_policy(
    actor: ActorDep,
    service: ServiceDep,
    agency_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Another agency's policy (operator admins and auditors only)."),
    ] = None,
) -> PolicyPublic:
    """The profile active for your agency (every role may read the rules it works under): each
    rule, and the rules in plain sentences. ``active`` is false until an admin activates one;
    until then no request is submitted and no search runs."""
    target = actor.agency_id if agency_id is None else agency_id
    return _public(target, service.policy.active_policy(actor, agency_id))


@router.put("/policy", responses=error_responses(400, 404))
def put_policy(body: PolicyUpdate, actor: ActorDep, service: ServiceDep) -> PolicyPublic:
    """Activate a policy profile for your agency (admins), or for another agency (operator
    admins, with ``agency_id``): a shipped profile by ``profile`` name, or your own as ``toml``
    text. The profile is copied into the database; the change is recorded in the audit log.
    Requests already submitted keep the name of the profile they were submitted under; every
    later check uses the new profile."""
    if body.profile is not None:
        if body.profile not in shipped_profiles():
            msg = f"no shipped profile {body.profile!r}; use one of: {', '.join(shipped_profiles())}"
            raise RequestValidationError([{"loc": ("body", "profile"), "msg": msg, "type": "value_error"}])
        profile = service.policy.activate_policy(actor, body.profile, body.agency_id)
    else:
        profile = service.policy.activate_policy_text(actor, body.toml or "", body.agency_id)
    return _public(actor.agency_id if body.agency_id is None else body.agency_id, profile)


@router.get("/policy/profiles")
def list_profiles(actor: ActorDep) -> PolicyProfilesPublic:
    """The policy profiles that ship with FaceDocket (any signed-in user): name, title and
    what each is for. Each rule in a shipped profile carries a comment citing its source."""
    summaries = []
    for name in shipped_profiles():
        profile = load_profile(name)
        summaries.append(
            PolicyProfileSummary(
                name=profile.name, title=profile.title, summary=profile.summary, operational=profile.operational
            )
        )
    return PolicyProfilesPublic(data=summaries, count=len(summaries))
