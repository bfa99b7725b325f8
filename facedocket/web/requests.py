"""Requests: the list, filing (with the face picker), one request's page (the supervisor's
checklist and decision, the examiner's search, the requester's released results, closing)
and its case file. Every step is a call to the service, which checks the permission table
and the policy; the pages only show what it decided."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from facedocket.errors import FaceDocketError, PolicyDenied
from facedocket.governance.permissions import permits, require
from facedocket.render.filters import data_uri
from facedocket.service import ProbeFaces, RequestDraft, WebUser
from facedocket.vision.images import encode_jpeg, scaled
from facedocket.vocab import LEGAL_BASES, OFFENCE_CATEGORIES, PROBE_SOURCES, REQUEST_STATES
from facedocket.web import forms
from facedocket.web.home import awaits_decision, searchable
from facedocket.web.pages import blocking, page
from facedocket.web.refusals import REQUEST_WORDS, failures
from facedocket.web.security import DOCUMENT_POLICY, checked_form, current_user, service_of

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(current_user)]

PREVIEW_SIDE = 800
FILING_FIELDS = ("case_id", "case_number", "offence_category", "description", "legal_basis", "document_type",
                 "document_reference", "document_issuer", "document_date", "justification", "probe_source",
                 "target_agency_id", "probe_face")  # fmt: skip


@router.get("/requests")
def list_requests(request: Request, user: User, status: str = "", mine: bool = False) -> HTMLResponse:
    found = service_of(request).requests.list_requests(user.actor, status or None, limit=500)
    if mine:
        found = [r for r in found if r.requester_id == user.actor.user_id]
    return page(request, "requests.html", title="Requests", requests=found, state=status, mine=mine,
                states=REQUEST_STATES)  # fmt: skip


@router.get("/inbox")
def inbox(request: Request, user: User) -> HTMLResponse:
    found = service_of(request).requests.list_requests(user.actor, limit=500)
    waiting = [r for r in found if awaits_decision(r, user.actor.agency_id)]
    return page(request, "inbox.html", title="Approval inbox", requests=waiting)


# --- filing ---------------------------------------------------------------------------------


def _filing_context(request: Request, user: WebUser, values: dict[str, Any], **more: Any) -> dict[str, Any]:
    service = service_of(request)
    active = service.policy.active(user.actor)
    bases = list(active.profile.requests.legal_bases) if active else list(LEGAL_BASES)
    galleries = [g for g in service.galleries.list_galleries(user.actor)]
    return {"title": "File a request", "values": values, "cases": service.requests.list_cases(user.actor),
            "bases": bases, "offences": OFFENCE_CATEGORIES, "sources": PROBE_SOURCES, "galleries": galleries,
            "error": "", "failed": [], **more}  # fmt: skip


@router.get("/requests/new")
def new_request(request: Request, user: User) -> HTMLResponse:
    require(user.actor, "request.file")  # the permission table, before a form that would only be refused
    return page(request, "file.html", **_filing_context(request, user, {}))


@router.post("/requests/faces")
async def probe_faces(request: Request, user: User) -> HTMLResponse:
    """The face picker: the probe's faces over a preview of it (nothing is kept)."""
    form = await checked_form(request)
    service = service_of(request)
    try:
        data = await forms.upload(form, "probe", service.settings.max_upload_bytes, "probe photo")
        assert data is not None
        faces = await blocking(service.requests.probe_faces, user.actor, data)
        preview = await blocking(_preview, service, data, faces)
    except FaceDocketError as error:
        return page(request, "faces.html", faces=None, preview="", error=str(error))
    return page(request, "faces.html", faces=faces, preview=preview, error="")


def _preview(service: Any, data: bytes, faces: ProbeFaces) -> str:
    """The probe scaled down for the picker, as a ``data:`` URI (its boxes keep their pixels:
    the picker's SVG uses the decoded size as its view box)."""
    image = service.pipeline.load(data)
    return data_uri(encode_jpeg(scaled(image.pixels, PREVIEW_SIDE), quality=85), "image/jpeg")


@router.post("/requests/new")
async def file_request(request: Request, user: User) -> Response:
    form = await checked_form(request)
    values: dict[str, Any] = {k: forms.text(form, k) for k in FILING_FIELDS}
    values["galleries"] = [v for v in form.getlist("galleries") if isinstance(v, str)]
    try:
        info = await _file(request, user, form, values)
    except PolicyDenied as refused:
        context = _filing_context(request, user, values, error=str(refused), failed=failures(refused, REQUEST_WORDS))
        return page(request, "file.html", status=403, **context)
    except FaceDocketError as error:
        context = _filing_context(request, user, values, error=str(error))
        return page(request, "file.html", status=error.status, **context)
    return RedirectResponse(f"/requests/{info.id}?filed=1", status_code=303)


async def _file(request: Request, user: WebUser, form: FormData, values: dict[str, Any]) -> Any:
    service = service_of(request)
    limit = service.settings.max_upload_bytes
    probe = await forms.upload(form, "probe", limit, "probe photo")
    document = await forms.upload(form, "document", limit, "document", required=False)
    case_id = forms.number(form, "case_id", "the case")
    if case_id is None:
        case = await blocking(service.requests.create_case, user.actor, values["case_number"],
                              values["offence_category"], values["description"])  # fmt: skip
        case_id = case.id
        values["case_id"] = str(case.id)
    draft = RequestDraft(
        case_id, values["legal_basis"], values["justification"], values["document_type"],
        values["document_reference"], values["document_issuer"], values["document_date"], "",
        forms.ids(form, "galleries"), values["probe_source"] or "still-image",
        forms.number(form, "target_agency_id", "the receiving agency"), forms.number(form, "probe_face", "the face"),
    )  # fmt: skip
    assert probe is not None
    return await blocking(service.requests.file_request, user.actor, draft, probe, submit=True, document=document)


# --- one request ------------------------------------------------------------------------------


def _request_context(request: Request, user: WebUser, request_id: int, **more: Any) -> dict[str, Any]:
    """What one request's page shows this reader: the permission table decides each part."""
    service = service_of(request)
    actor = user.actor
    info = service.requests.get_request(actor, request_id)
    side = actor.side(info.agency_id)
    receiving = info.target_agency_id == actor.agency_id
    own = info.requester_id == actor.user_id
    deciding = receiving and awaits_decision(info, actor.agency_id) and permits(actor, "request.decide", side)
    in_state = info.status in ("approved", "submitted", "searched")
    can_search = receiving and searchable(info) and in_state and permits(actor, "request.search", side)
    unit = receiving and permits(actor, "review.read", side)
    results = []
    if not unit and permits(actor, "search.read", side):
        results = service.searches.request_searches(actor, request_id)  # released candidates only
    closer = own or permits(actor, "request.close", side)
    return {
        "title": f"Request {info.id} — case {info.case_number}", "r": info, "own": own,
        "checklist": service.requests.checklist(actor, request_id) if receiving else [],
        "deciding": deciding and not own, "can_search": can_search, "results": results,
        "closable": info.status == "reviewed" and info.approval == "approved" and closer,
        "reviewing": unit and bool(info.searches), "error": "", "failed": [], "filed": False,
        "probe_visible": info.probe_file_id is not None and permits(actor, "probe.read", side), **more,
    }  # fmt: skip


@router.get("/requests/{request_id}")
def show_request(request: Request, request_id: int, user: User, filed: bool = False) -> HTMLResponse:
    return page(request, "request.html", **_request_context(request, user, request_id, filed=filed))


@router.post("/requests/{request_id}/decide")
async def decide(request: Request, request_id: int, user: User) -> Response:
    form = await checked_form(request)
    approve = forms.text(form, "decision") == "approve"
    try:
        await blocking(service_of(request).requests.decide_request, user.actor, request_id, approve,
                       forms.text(form, "reason"))  # fmt: skip
    except FaceDocketError as error:
        context = await blocking(_request_context, request, user, request_id, error=str(error))
        return page(request, "request.html", status=error.status, **context)
    return RedirectResponse(f"/requests/{request_id}", status_code=303)


@router.post("/requests/{request_id}/search")
async def search(request: Request, request_id: int, user: User) -> Response:
    form = await checked_form(request)
    try:
        k = forms.number(form, "k", "the number of candidates")
        threshold = forms.decimal(form, "threshold", "the threshold")
        await blocking(service_of(request).searches.search, user.actor, request_id, k=k, threshold=threshold)
    except PolicyDenied as refused:
        context = await blocking(_request_context, request, user, request_id, error=str(refused),
                                 failed=failures(refused, REQUEST_WORDS))  # fmt: skip
        return page(request, "request.html", status=403, **context)
    except FaceDocketError as error:
        context = await blocking(_request_context, request, user, request_id, error=str(error))
        return page(request, "request.html", status=error.status, **context)
    return RedirectResponse(f"/requests/{request_id}/review", status_code=303)


@router.post("/requests/{request_id}/close")
async def close(request: Request, request_id: int, user: User) -> Response:
    await checked_form(request)
    await blocking(service_of(request).requests.close_request, user.actor, request_id)
    return RedirectResponse(f"/requests/{request_id}", status_code=303)


@router.post("/requests/{request_id}/submit")
async def submit(request: Request, request_id: int, user: User) -> Response:
    await checked_form(request)
    try:
        await blocking(service_of(request).requests.submit_request, user.actor, request_id)
    except PolicyDenied as refused:
        context = await blocking(_request_context, request, user, request_id, error=str(refused),
                                 failed=failures(refused, REQUEST_WORDS))  # fmt: skip
        return page(request, "request.html", status=403, **context)
    return RedirectResponse(f"/requests/{request_id}", status_code=303)


@router.get("/requests/{request_id}/case-file")
def case_file(request: Request, request_id: int, user: User) -> Response:
    """The case file, self-contained HTML (its export is recorded)."""
    html = service_of(request).reports.export_request(user.actor, request_id)
    headers = {"Content-Security-Policy": DOCUMENT_POLICY, "X-Frame-Options": "SAMEORIGIN",
               "Content-Disposition": f'inline; filename="request-{request_id}.html"'}  # fmt: skip
    return HTMLResponse(html, headers=headers)
