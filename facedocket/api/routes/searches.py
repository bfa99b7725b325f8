"""Searches: your agency's, and one by id. A search is only ever made under a filed request
(``POST /requests/{id}/searches``); these endpoints read them back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from facedocket.api.deps import ActorDep, IdPath, ServiceDep
from facedocket.api.request_schemas import SearchesPublic, SearchPublic
from facedocket.api.schemas import error_responses

router = APIRouter(tags=["searches"], responses=error_responses(401, 403, 422))


@router.get("/searches")
def list_searches(
    actor: ActorDep,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")] = 50,
) -> SearchesPublic:
    """The searches and verifications your agency ran, newest first (examiners, supervisors,
    auditors, admins)."""
    searches = [SearchPublic.model_validate(s) for s in service.searches.list_searches(actor, limit)]
    return SearchesPublic(data=searches, count=len(searches))


@router.get("/searches/{search_id}", responses=error_responses(404))
def get_search(search_id: IdPath, actor: ActorDep, service: ServiceDep) -> SearchPublic:
    """One search or verification made under a request your agency filed or received, with its
    candidates. The requesting agency of a cross-agency request sees only the candidates
    released to it, without gallery or template ids. Every view is recorded."""
    return SearchPublic.model_validate(service.searches.get_search(actor, search_id))
