"""Reports for oversight bodies: the transparency report of a period."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from facedocket.api.deps import ActorDep, ServiceDep, text_query
from facedocket.api.schemas import error_responses
from facedocket.oversight import transparency
from facedocket.service.inputs import MAX_ID

router = APIRouter(tags=["reports"], responses=error_responses(401, 403, 422))

_DOWNLOAD = {"csv", "pdf"}


@router.get(
    "/reports/transparency",
    response_class=Response,
    responses={
        **error_responses(400, 404),
        200: {
            "description": "The report: JSON by default, or CSV, self-contained HTML, or PDF (``format``).",
            "content": {media: {} for media in transparency.MEDIA_TYPES.values()},
        },
    },
)
def transparency_report(
    actor: ActorDep,
    service: ServiceDep,
    period: Annotated[str, text_query("period", "A year (2026), a quarter (2026Q3) or a month (2026-07), in UTC.")],
    agency_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="One agency's id; default your agency, or every agency for the operator's auditors.",
        ),
    ] = None,
    field_set: Annotated[
        str, text_query("choice", f"The fields one law asks for: {', '.join(transparency.FIELD_SETS)}.")
    ] = "full",
    format: Annotated[
        Literal["json", "csv", "html", "pdf"], Query(description="json, csv, html (self-contained) or pdf.")
    ] = "json",
) -> Response:
    """Counts of searches (by agency, legal basis, offence, gallery, requesting agency),
    requests (filed, approved, denied, expired), emergency searches and how their approval
    ended, refusals by rule, outcomes, possible matches by recorded sex, age group and race,
    erasures, purges and legal holds, for one period (auditors and admins). An agency's auditor
    reports on their agency; the operator's on all or any one. The report carries the audit
    chain's verification and the period's first and last event; making it is recorded."""
    report = service.reports.transparency_report(actor, period, agency_id, field_set)
    if format == "json":
        return JSONResponse(report)
    data = transparency.render(report, format)
    headers = {}
    if format in _DOWNLOAD:
        scope = "all" if report["agency"]["id"] is None else f"agency-{report['agency']['id']}"
        name = f"transparency-{report['period']['label']}-{scope}-{field_set}.{format}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(content=data, media_type=transparency.MEDIA_TYPES[format], headers=headers)
