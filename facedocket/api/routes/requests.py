"""Written requests and everything done under one: file, submit, approve or deny, search,
verify, review the candidates, conclude, close, the probe photo and the case export.

A request is filed by a requester of one agency and addressed to a face-search unit (its own
agency, or another with ``target_agency_id``). The receiving agency's supervisor decides it,
its examiners search and review under it, and the requesting agency sees the status, the
outcome and the candidates released to it. Every step is the service's rule and lands in the
audit log; a policy refusal is a 403 whose ``errors`` names every failed rule.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from pydantic import StringConstraints

from facedocket.api.deps import ActorDep, DecodesDep, IdPath, ServiceDep, SettingsDep, parse_ids, text_form, text_query
from facedocket.api.request_schemas import (
    ConcludeCreate,
    DecisionCreate,
    RequestPublic,
    RequestsPublic,
    ReviewCreate,
    ReviewPublic,
    ReviewsPublic,
    SearchCreate,
    SearchesPublic,
    SearchPublic,
    VerificationCreate,
)
from facedocket.api.schemas import ChecklistPublic, VerdictPublic, error_responses
from facedocket.api.uploads import read_upload
from facedocket.service import RequestDraft
from facedocket.service.inputs import MAX_ID
from facedocket.vocab import LEGAL_BASES, PROBE_SOURCES, TEXT_LIMITS

router = APIRouter(tags=["requests"], responses=error_responses(401, 403, 404, 422))

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
IMAGE_TYPES: dict[str, dict[str, object]] = {
    "image/jpeg": {},
    "image/png": {},
    "image/webp": {},
    "image/gif": {},
    "application/octet-stream": {},
}


@router.post("/requests", status_code=201, responses=error_responses(400, 409, 413, 503))
def file_request(
    probe: Annotated[UploadFile, File(description="The probe photo the search is for.")],
    case_id: Annotated[int, Form(ge=1, le=MAX_ID, description="The case (of your agency) the request is filed under.")],
    legal_basis: Annotated[str, text_form("choice", f"The legal basis: {', '.join(LEGAL_BASES)}.")],
    justification: Annotated[str, text_form("justification", "Why this search is needed (required).")],
    actor: ActorDep,
    service: ServiceDep,
    settings: SettingsDep,
    decodes: DecodesDep,
    document_type: Annotated[
        str, text_form("document type", "The document the basis rests on, e.g. 'court order'.")
    ] = "",
    document_reference: Annotated[str, text_form("document reference", "Its number or docket reference.")] = "",
    document_issuer: Annotated[str, text_form("document issuer", "Who issued it, e.g. the court.")] = "",
    document_date: Annotated[str, text_form("date", "When it was issued, YYYY-MM-DD.")] = "",
    document_sha256: Annotated[str, text_form("sha256", "SHA-256 of the document file (64 hex digits).")] = "",
    galleries: Annotated[
        list[Annotated[str, StringConstraints(max_length=TEXT_LIMITS["id list"])]] | None,
        Form(
            max_length=100,
            description="Gallery ids to search (comma-separated or repeated); only for a request to your own "
            "agency: another agency's examiner chooses its galleries.",
        ),
    ] = None,
    probe_source: Annotated[str, text_form("choice", f"Where the probe comes from: {', '.join(PROBE_SOURCES)}.")] = (
        "still-image"
    ),
    target_agency_id: Annotated[
        int | None, Form(ge=1, le=MAX_ID, description="The agency whose face-search unit is asked; default your own.")
    ] = None,
    submit: Annotated[bool, Form(description="Also submit it for approval at once (default: keep a draft).")] = False,
    probe_face: Annotated[
        int | None,
        Form(
            ge=1,
            le=1000,
            description="The face to search when the probe shows several (1-based, detection order); every "
            "search under the request uses it.",
        ),
    ] = None,
    document: Annotated[
        UploadFile | None,
        File(
            description="The legal basis's document (a court order, a warrant), kept encrypted; its SHA-256 "
            "becomes the request's document_sha256."
        ),
    ] = None,
) -> RequestPublic:
    """File a written request with its probe photo (requesters, examiners, supervisors). It is
    a draft until submitted; submitting checks it against the receiving agency's policy (legal
    basis, required fields, requests from other agencies) and a refusal is a 403 naming each
    failed rule. The probe is kept with the request, encrypted, and every view of it is
    recorded; a probe showing several faces needs ``probe_face`` (``POST /requests/faces``
    lists them)."""
    draft = RequestDraft(
        case_id=case_id,
        legal_basis=legal_basis,
        justification=justification,
        document_type=document_type,
        document_reference=document_reference,
        document_issuer=document_issuer,
        document_date=document_date,
        document_sha256=document_sha256,
        galleries=parse_ids(galleries or [], "galleries"),
        probe_source=probe_source,
        target_agency_id=target_agency_id,
        probe_face=probe_face,
    )
    data = read_upload(probe, settings.max_upload_bytes, "probe")
    filed = read_upload(document, settings.max_upload_bytes, "document") if document is not None else None
    with decodes.hold(settings.decode_wait_s):  # the probe is decoded to check it is an image
        filed_request = service.requests.file_request(actor, draft, data, submit=submit, document=filed)
    return RequestPublic.model_validate(filed_request)


@router.post("/requests/faces", responses=error_responses(400, 413, 503))
def probe_faces(
    probe: Annotated[UploadFile, File(description="The probe photo.")],
    actor: ActorDep,
    service: ServiceDep,
    settings: SettingsDep,
    decodes: DecodesDep,
) -> dict[str, Any]:
    """The faces of a probe photo (box, landmarks and quality each, in the decoded pixels whose
    width and height come with them), to choose ``probe_face`` before filing. Nothing is kept."""
    data = read_upload(probe, settings.max_upload_bytes, "probe")
    with decodes.hold(settings.decode_wait_s):
        faces = service.requests.probe_faces(actor, data)
    return {"width": faces.width, "height": faces.height, "faces": [f.__dict__ for f in faces.faces]}


@router.get("/requests/{request_id}/checklist")
def checklist(request_id: IdPath, actor: ActorDep, service: ServiceDep) -> ChecklistPublic:
    """Every rule of the receiving agency's policy on this request, passed, failed (with why) or
    pending (checked when a search runs): the supervisor's checklist."""
    verdicts = [VerdictPublic.model_validate(v.__dict__) for v in service.requests.checklist(actor, request_id)]
    return ChecklistPublic(data=verdicts, count=len(verdicts))


@router.get("/requests")
def list_requests(
    actor: ActorDep,
    service: ServiceDep,
    status: Annotated[str | None, text_query("choice", "Only requests in this state, e.g. submitted.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")] = 100,
) -> RequestsPublic:
    """Requests your agency filed or received, newest first (an approval queue with
    ``status=submitted``). Overdue emergency requests are expired first."""
    requests = [RequestPublic.model_validate(r) for r in service.requests.list_requests(actor, status, limit)]
    return RequestsPublic(data=requests, count=len(requests))


@router.get("/requests/{request_id}")
def get_request(request_id: IdPath, actor: ActorDep, service: ServiceDep) -> RequestPublic:
    """One request your agency filed or received: its state, approval, deadline and outcome.
    The requesting agency of a cross-agency request sees neither galleries nor search ids."""
    return RequestPublic.model_validate(service.requests.get_request(actor, request_id))


@router.post("/requests/{request_id}/submit", responses=error_responses(409))
def submit_request(request_id: IdPath, actor: ActorDep, service: ServiceDep) -> RequestPublic:
    """Submit a draft for approval (its requester). The receiving agency's policy checks it;
    a refusal is a 403 naming each failed rule and leaves the draft as it was."""
    return RequestPublic.model_validate(service.requests.submit_request(actor, request_id))


@router.post("/requests/{request_id}/approve", responses=error_responses(400, 409))
def approve_request(request_id: IdPath, body: DecisionCreate, actor: ActorDep, service: ServiceDep) -> RequestPublic:
    """Approve a submitted request (a supervisor of the receiving agency, never for their own
    request), with the reason. An emergency request is approved after its search, before its
    deadline."""
    return RequestPublic.model_validate(service.requests.decide_request(actor, request_id, True, body.reason))


@router.post("/requests/{request_id}/deny", responses=error_responses(400, 409))
def deny_request(request_id: IdPath, body: DecisionCreate, actor: ActorDep, service: ServiceDep) -> RequestPublic:
    """Deny a request (a supervisor of the receiving agency), with the reason. Denying an
    emergency request that was already searched purges its probe and candidates."""
    return RequestPublic.model_validate(service.requests.decide_request(actor, request_id, False, body.reason))


@router.get(
    "/requests/{request_id}/probe",
    response_class=Response,
    responses={200: {"content": IMAGE_TYPES, "description": "The probe photo, as filed."}},
)
def get_probe(request_id: IdPath, actor: ActorDep, service: ServiceDep) -> Response:
    """The probe photo of a request (requesters, examiners, supervisors, auditors of either
    agency); every view is recorded. 404 once the request has been purged."""
    data = service.requests.probe_image(actor, request_id)
    return Response(content=data, media_type=_image_type(data), headers=NO_STORE)


@router.post("/requests/{request_id}/searches", status_code=201, responses=error_responses(400, 409))
def search_request(
    request_id: IdPath, actor: ActorDep, service: ServiceDep, body: SearchCreate | None = None
) -> SearchPublic:
    """Search the request's probe (1:N) against galleries your agency owns or may search
    (examiners and supervisors of the receiving agency). The policy gate checks the request,
    the probe and what is asked for first; a refusal is a 403 naming every failed rule, and is
    recorded. The answer is a ranked candidate list for human review — an investigative lead,
    not a positive identification; an empty list (``summary``: no candidate above threshold)
    is a normal result."""
    body = body or SearchCreate()
    threshold = body.thresholds if body.thresholds is not None else body.threshold
    result = service.searches.search(actor, request_id, body.galleries, k=body.k, threshold=threshold, face=body.face)
    return SearchPublic.model_validate(result)


@router.post("/requests/{request_id}/verifications", status_code=201, responses=error_responses(400, 409))
def verify_request(request_id: IdPath, body: VerificationCreate, actor: ActorDep, service: ServiceDep) -> SearchPublic:
    """Compare the request's probe with one subject's templates (1:1), through the same gate
    (examiners and supervisors of the receiving agency). Recorded as a search of kind
    ``verify``: one candidate when the best score reaches the threshold, none otherwise, and
    ``best_score`` either way — a comparison for human review, not an identification."""
    result = service.searches.verify(actor, request_id, body.subject_id, threshold=body.threshold, face=body.face)
    return SearchPublic.model_validate(result)


@router.get("/requests/{request_id}/searches")
def list_request_searches(request_id: IdPath, actor: ActorDep, service: ServiceDep) -> SearchesPublic:
    """The searches made under a request, oldest first. The requesting agency of a
    cross-agency request sees only the candidates released to it, without gallery ids."""
    searches = [SearchPublic.model_validate(s) for s in service.searches.request_searches(actor, request_id)]
    return SearchesPublic(data=searches, count=len(searches))


@router.post(
    "/requests/{request_id}/candidates/{candidate_id}/reviews",
    status_code=201,
    responses=error_responses(400, 409),
)
def review_candidate(
    request_id: IdPath, candidate_id: IdPath, body: ReviewCreate, actor: ActorDep, service: ServiceDep
) -> ReviewPublic:
    """Record your disposition of one candidate, with a rationale (examiners and supervisors of
    the receiving agency; each reviewer decides a candidate once). Under a two-person rule a
    second reviewer decides without seeing the first decision; a disagreement is settled by a
    supervisor's review (stage ``resolution``)."""
    review = service.review.review_candidate(actor, request_id, candidate_id, body.disposition, body.rationale)
    return ReviewPublic.model_validate(review)


@router.get("/requests/{request_id}/reviews")
def list_reviews(request_id: IdPath, actor: ActorDep, service: ServiceDep) -> ReviewsPublic:
    """The reviews of a request's candidates (examiners, supervisors and auditors of the
    receiving agency). Blind second review: until both decisions on a candidate are in, a
    reviewer sees only their own."""
    reviews = [ReviewPublic.model_validate(r) for r in service.review.list_reviews(actor, request_id)]
    return ReviewsPublic(data=reviews, count=len(reviews))


@router.post("/requests/{request_id}/conclude", responses=error_responses(409))
def conclude_request(
    request_id: IdPath, actor: ActorDep, service: ServiceDep, body: ConcludeCreate | None = None
) -> RequestPublic:
    """Conclude the review once every candidate is decided (409 while one is not, e.g. two
    reviewers disagree): the outcome is ``lead`` when any candidate is a possible match, else
    ``no-lead``. ``release`` names the candidates the requesting agency may see; by default
    the possible matches."""
    release = body.release if body is not None else None
    return RequestPublic.model_validate(service.review.conclude_request(actor, request_id, release))


@router.post("/requests/{request_id}/close", responses=error_responses(409))
def close_request(request_id: IdPath, actor: ActorDep, service: ServiceDep) -> RequestPublic:
    """Close a reviewed, approved request (its requester, or a supervisor)."""
    return RequestPublic.model_validate(service.requests.close_request(actor, request_id))


@router.get(
    "/requests/{request_id}/export",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The case file, one self-contained HTML page."}},
)
def export_request(request_id: IdPath, actor: ActorDep, service: ServiceDep) -> Response:
    """The case file of a request as one self-contained HTML file (requesters, examiners,
    supervisors, auditors): the request and its legal basis, the probe (unless purged), every
    search with its candidates, the reviews, and the request's audit events with their hashes.
    The requesting agency of a cross-agency request gets only the released candidates. The
    export is recorded with the file's SHA-256."""
    page = service.reports.export_request(actor, request_id)
    disposition = {"Content-Disposition": f'attachment; filename="request-{request_id}.html"'}
    return Response(content=page, media_type="text/html; charset=utf-8", headers={**NO_STORE, **disposition})


def _image_type(data: bytes) -> str:
    """The media type of image bytes, from their signature."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"
