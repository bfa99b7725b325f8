"""1:N searches under a written request: run one, list your agency's, show one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.exceptions import RequestValidationError

from facedocket.api.deps import ActorDep, RequestDep, ServiceDep, SettingsDep
from facedocket.api.schemas import SearchesPublic, SearchPublic, error_responses
from facedocket.api.uploads import read_upload

router = APIRouter(tags=["searches"], responses=error_responses(401, 403, 422))


@router.post("/searches", status_code=201, responses=error_responses(400, 404, 409, 413))
def create_search(
    fields: RequestDep,
    probe: Annotated[UploadFile, File(description="The probe photo; one face, or pick one with `face`.")],
    galleries: Annotated[list[str], Form(description="Gallery ids to search: comma-separated, or the field repeated.")],
    actor: ActorDep,
    service: ServiceDep,
    settings: SettingsDep,
    k: Annotated[int | None, Form(description="At most this many candidates (default from settings).")] = None,
    threshold: Annotated[float | None, Form(description="Minimum score (default: the model's).")] = None,
    face: Annotated[int | None, Form(description="Which face of the probe, 1-based, when it has several.")] = None,
) -> SearchPublic:
    """Search a probe photo against galleries your agency owns or may search (examiners and
    supervisors), under a written request. The answer is a ranked candidate list for human
    review — an investigative lead, not a positive identification; an empty list means no
    candidate reached the threshold."""
    gallery_ids = parse_ids(galleries, "galleries")
    data = read_upload(probe, settings.max_upload_bytes, "probe")
    result = service.search(actor, fields, data, gallery_ids, k=k, threshold=threshold, face=face)
    return SearchPublic.model_validate(result)


@router.get("/searches")
def list_searches(
    actor: ActorDep,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")] = 50,
) -> SearchesPublic:
    """Your agency's searches and verifications, newest first (examiners, supervisors,
    auditors, admins)."""
    searches = [SearchPublic.model_validate(s) for s in service.list_searches(actor, limit)]
    return SearchesPublic(data=searches, count=len(searches))


@router.get("/searches/{search_id}", responses=error_responses(404))
def get_search(search_id: int, actor: ActorDep, service: ServiceDep) -> SearchPublic:
    """One search or verification of your agency, with its candidates."""
    return SearchPublic.model_validate(service.get_search(actor, search_id))


def parse_ids(values: list[str], field: str) -> list[int]:
    """Integer ids from repeated and/or comma-separated form values; a 422 for anything else."""
    parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
    bad = [part for part in parts if not part.isdigit()]
    if bad or not parts:
        msg = f"must be gallery ids, comma-separated or repeated; got {', '.join(bad) or 'none'}"
        raise RequestValidationError([{"loc": ("body", field), "msg": msg, "type": "value_error"}])
    return [int(part) for part in parts]
