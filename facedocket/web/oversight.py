"""The auditor's screens: the audit log (filters, the chain's head hash, verification), the
evaluations on record with their DET plots, and transparency reports with their downloads.
Each read is recorded by the service, as through the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from facedocket.errors import InvalidInput, NotFound
from facedocket.governance.permissions import require
from facedocket.oversight import transparency
from facedocket.oversight.report import recorded_det_png, render_html
from facedocket.service import WebUser
from facedocket.vocab import AUDIT_ACTIONS
from facedocket.web.pages import blocking, page
from facedocket.web.security import DOCUMENT_POLICY, checked_form, current_user, service_of

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(current_user)]

FORMATS = ("html", "pdf", "csv", "json")
OBJECT_TYPES = ("request", "search", "candidate", "case", "subject", "gallery", "user", "token", "agency",
                "audit", "report", "retention", "legal_hold", "evaluation_run")  # fmt: skip


def _day(value: str, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("dates are YYYY-MM-DD") from None
    return datetime.combine(day, time.max if end else time.min, UTC)


@router.get("/audit")
def audit_log(request: Request, user: User, actor: str = "", action: str = "", object_type: str = "",
              object_id: str = "", since: str = "", until: str = "", limit: int = 100) -> HTMLResponse:  # fmt: skip
    service = service_of(request)
    filters = {"actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
               "since": since, "until": until, "limit": limit}  # fmt: skip
    events = service.audit.list_audit(
        user.actor, action or None, object_type or None, object_id or None, _day(since), max(1, min(limit, 1000)),
        actor or None, _day(until, end=True),
    )  # fmt: skip
    head = service.audit.head(user.actor)
    return page(request, "audit.html", title="Audit log", events=events, filters=filters, head=head,
                actions=sorted(AUDIT_ACTIONS), object_types=OBJECT_TYPES, verification=None)  # fmt: skip


@router.post("/audit/verify")
async def verify(request: Request, user: User) -> HTMLResponse:
    await checked_form(request)
    result = await blocking(service_of(request).audit.verify_audit, user.actor)
    return page(request, "verification.html", verification=result)


@router.get("/evaluations")
def evaluations(request: Request, user: User) -> HTMLResponse:
    runs = service_of(request).evaluation.list_evaluations(user.actor)
    return page(request, "evaluations.html", title="Evaluations on record", runs=runs)


@router.get("/evaluations/{run_id}")
def evaluation(request: Request, run_id: int, user: User) -> HTMLResponse:
    record = service_of(request).evaluation.get_evaluation(user.actor, run_id)
    return page(request, "evaluation.html", title=f"Evaluation {run_id}", run=record, result=record.results)


@router.get("/evaluations/{run_id}/det.png")
def evaluation_det(request: Request, run_id: int, user: User) -> Response:
    record = service_of(request).evaluation.get_evaluation(user.actor, run_id)
    png = recorded_det_png(record.results)
    if png is None:
        raise NotFound(f"evaluation {run_id} kept no FMR table to draw")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.get("/evaluations/{run_id}/report")
def evaluation_report(request: Request, run_id: int, user: User) -> Response:
    record = service_of(request).evaluation.get_evaluation(user.actor, run_id)
    png = recorded_det_png(record.results)
    html = render_html(record.results, {"all": png} if png else {})
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCUMENT_POLICY, "X-Frame-Options": "SAMEORIGIN"})


@router.get("/reports")
def reports(request: Request, user: User, period: str = "", field_set: str = "full",
            agency_id: str = "") -> HTMLResponse:  # fmt: skip
    require(user.actor, "report.generate")  # the permission table, before a form that would only be refused
    chosen = period or str(service_of(request).clock().year)
    return page(
        request,
        "reports.html",
        title="Transparency reports",
        field_sets=transparency.FIELD_SETS,
        formats=FORMATS,
        period=chosen,
        field_set=field_set,
        agency_id=agency_id,
        shown=bool(period),
    )


@router.get("/reports/transparency.{fmt}")
def transparency_report(request: Request, fmt: str, user: User, period: str, field_set: str = "full",
                        agency_id: str = "") -> Response:  # fmt: skip
    """The report in one format (making it is recorded): HTML to read, PDF, CSV or JSON to download."""
    if fmt not in FORMATS:
        raise NotFound(f"no report format {fmt!r}; one of {', '.join(FORMATS)}")
    scope = int(agency_id) if agency_id.isdigit() else None
    report = service_of(request).reports.transparency_report(user.actor, period, scope, field_set)
    data = transparency.render(report, fmt)
    name = f"transparency-{report['period']['label']}-{field_set}.{fmt}"
    headers = {"Content-Disposition": f'{"inline" if fmt == "html" else "attachment"}; filename="{name}"'}
    if fmt == "html":
        headers |= {"Content-Security-Policy": DOCUMENT_POLICY, "X-Frame-Options": "SAMEORIGIN"}
    return Response(data, media_type=transparency.MEDIA_TYPES[fmt], headers=headers)
