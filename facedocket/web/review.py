"""The examiner's screens: requests ready to search or review, and the comparison view (the
probe and each candidate side by side, one candidate at a time, with keyboard navigation),
dispositions and the conclusion. The blind rule is the service's: the workspace holds only
what this reviewer may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from facedocket.errors import FaceDocketError
from facedocket.service import WebUser, Workspace
from facedocket.vocab import DISPOSITIONS
from facedocket.web import forms
from facedocket.web.home import work_lists
from facedocket.web.pages import blocking, page
from facedocket.web.security import checked_form, current_user, service_of

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(current_user)]

DISPOSITION_WORDS = {
    "possible-match": "Possible match",
    "not-a-match": "Not a match",
    "inconclusive": "Inconclusive",
}


@router.get("/review")
def review_list(request: Request, user: User) -> HTMLResponse:
    requests = service_of(request).requests.list_requests(user.actor, limit=500)
    lists = work_lists(user, requests)
    shown = {k: v for k, v in lists.items() if k in ("Ready to search", "Candidates to review")}
    return page(request, "review_list.html", title="Search and review", lists=shown)


def _current(space: Workspace, wanted: int | None) -> int:
    """The index of the candidate to show: the one asked for, else the first the reader has
    not decided, else the first."""
    ids = [v.candidate.id for v in space.candidates]
    if wanted is not None and wanted in ids:
        return ids.index(wanted)
    for i, view in enumerate(space.candidates):
        if view.can_review:
            return i
    return 0


def _workspace_page(request: Request, user: WebUser, request_id: int, candidate: int | None,
                    error: str = "", status: int = 200) -> HTMLResponse:  # fmt: skip
    space = service_of(request).comparison.workspace(user.actor, request_id)
    index = _current(space, candidate)
    return page(request, "review.html", status=status, title=f"Review — request {request_id}", space=space,
                index=index, view=space.candidates[index] if space.candidates else None,
                dispositions=DISPOSITIONS, words=DISPOSITION_WORDS, error=error)  # fmt: skip


@router.get("/requests/{request_id}/review")
def workspace(request: Request, request_id: int, user: User, c: int | None = None) -> HTMLResponse:
    return _workspace_page(request, user, request_id, c)


@router.post("/requests/{request_id}/candidates/{candidate_id}/review")
async def review_candidate(request: Request, request_id: int, candidate_id: int, user: User) -> Response:
    form = await checked_form(request)
    try:
        await blocking(service_of(request).review.review_candidate, user.actor, request_id, candidate_id,
                       forms.text(form, "disposition"), forms.text(form, "rationale"))  # fmt: skip
    except FaceDocketError as error:
        return await blocking(_workspace_page, request, user, request_id, candidate_id, str(error), error.status)
    return RedirectResponse(f"/requests/{request_id}/review", status_code=303)


@router.post("/requests/{request_id}/conclude")
async def conclude(request: Request, request_id: int, user: User) -> Response:
    await checked_form(request)
    try:
        await blocking(service_of(request).review.conclude_request, user.actor, request_id)
    except FaceDocketError as error:
        return await blocking(_workspace_page, request, user, request_id, None, str(error), error.status)
    return RedirectResponse(f"/requests/{request_id}", status_code=303)
