"""The start page (what each role has to do now) and "who am I"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from facedocket.governance.permissions import PERMISSIONS, permits
from facedocket.service import RequestInfo, WebUser
from facedocket.web.pages import page
from facedocket.web.security import current_user, service_of

router = APIRouter(include_in_schema=False)

User = Annotated[WebUser, Depends(current_user)]


def work_lists(user: WebUser, requests: list[RequestInfo]) -> dict[str, list[RequestInfo]]:
    """The requests waiting for this person, by what they wait for (the permission table says
    which lists a role has)."""
    actor = user.actor
    lists: dict[str, list[RequestInfo]] = {}
    if permits(actor, "request.file"):
        lists["Your requests"] = [r for r in requests if r.requester_id == actor.user_id]
    if permits(actor, "request.decide", "other") or permits(actor, "request.decide"):
        lists["Waiting for approval"] = [r for r in requests if awaits_decision(r, actor.agency_id)]
    if permits(actor, "request.search"):
        lists["Ready to search"] = [r for r in requests if r.target_agency_id == actor.agency_id
                                    and r.status in ("approved", "submitted") and searchable(r)]  # fmt: skip
        lists["Candidates to review"] = [r for r in requests if r.target_agency_id == actor.agency_id
                                         and r.status == "searched"]  # fmt: skip
    return lists


def awaits_decision(r: RequestInfo, agency_id: int) -> bool:
    """A request a supervisor of ``agency_id`` has to approve or deny."""
    return r.target_agency_id == agency_id and r.approval == "pending" and r.status in ("submitted", "searched")


def searchable(r: RequestInfo) -> bool:
    """Approved, or an emergency request that may be searched before approval."""
    return r.approval == "approved" or (r.emergency and r.approval == "pending")


@router.get("/")
def home(request: Request, user: User) -> HTMLResponse:
    service = service_of(request)
    requests = service.requests.list_requests(user.actor, limit=200) if permits(user.actor, "request.read") else []
    cases = service.requests.list_cases(user.actor) if permits(user.actor, "request.file") else []
    waiting = len(service.alerts.list_alerts(user.actor, "pending", limit=1000)) \
        if permits(user.actor, "alert.decide") else 0  # fmt: skip
    return page(request, "home.html", title="Start", lists=work_lists(user, requests), cases=cases[-20:][::-1],
                alerts_waiting=waiting)  # fmt: skip


@router.get("/me")
def whoami(request: Request, user: User) -> HTMLResponse:
    allowed = [(p.action, p.words) for p in PERMISSIONS.values() if permits(user.actor, p.action)]
    return page(request, "me.html", title="Who am I", allowed=allowed)
