"""Deployments: describe one (source, site and place, time windows, watchlists, a threshold
never below the policy's floor, DPIA reference, signage), authorise it (another supervisor),
start and stop its background worker, watch the worker's state live (running, waiting for a
time window, restarting, the source dropped), and read its report. Every refusal lists the
rules that failed, in plain words; the gate's checklist shows what would stop a start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from facedocket.errors import FaceDocketError, PolicyDenied
from facedocket.governance.permissions import permits
from facedocket.service import DeploymentDraft, DeploymentInfo, WebUser, WorkerStatus
from facedocket.web import forms
from facedocket.web.pages import blocking, page
from facedocket.web.refusals import DEPLOYMENT_WORDS, failures
from facedocket.web.security import checked_form, current_user, polling_user, service_of

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(current_user)]
Polling = Annotated[WebUser, Depends(polling_user)]

DEPLOYMENT_FIELDS = ("name", "source", "site", "place", "windows", "timezone", "threshold", "dpia_reference")
DEFAULT_WINDOW = "daily 00:00-24:00"


@dataclass(frozen=True)
class WorkerState:
    """A deployment's worker in words: ``key`` (running, dropped, waiting, restarting,
    starting, elsewhere, stopped) and a sentence."""

    key: str
    words: str


def worker_state(info: DeploymentInfo, status: WorkerStatus | None, opening: datetime | None) -> WorkerState:
    """What a deployment's worker is doing, for the page (``opening``: when its next time
    window opens, if it waits for one). A worker matching while its source is ``dropped: …``
    is ``dropped``; no worker in this server while a run is open is ``elsewhere``."""
    if status is None:
        if info.status in ("running", "waiting"):
            return WorkerState("elsewhere", f"{info.status} in another process (facedocket watch)")
        return WorkerState("stopped", "stopped")
    if status.state == "matching":
        if status.source.startswith("dropped"):
            error = status.source.partition(":")[2].strip() or "no frames"
            return WorkerState("dropped", f"running, but the source dropped ({error}); reconnecting with back-off")
        return WorkerState("running", "running: matching faces in view against the watchlists")
    if status.state == "waiting":
        when = f"; the next opens {opening.isoformat(timespec='minutes')}" if opening else ""
        return WorkerState("waiting", f"waiting for a time window{when}")
    if status.state == "restarting":
        return WorkerState("restarting", f"restarting after an error (restart {status.restarts}): {status.last_error}")
    if status.state == "starting":
        return WorkerState("starting", "starting")
    return WorkerState("stopped", f"stopped: {status.last_error}" if status.last_error else "stopped")


def _worker(request: Request, info: DeploymentInfo) -> dict[str, Any]:
    service = service_of(request)
    status = service.video_workers.status(info.id)
    opening = service.deployments.next_opening(info.id) if status is not None and status.state == "waiting" else None
    state = worker_state(info, status, opening)
    return {"worker": state, "worker_status": status, "active": state.key not in ("stopped",)}


# --- the list and creating one --------------------------------------------------------------


def _list_page(request: Request, user: WebUser, status: int = 200, **more: Any) -> HTMLResponse:
    service = service_of(request)
    found = service.deployments.list_deployments(user.actor)
    lists = service.watchlists.list_watchlists(user.actor) if permits(user.actor, "watchlist.read") else []
    context = {"title": "Deployments", "deployments": [(d, _worker(request, d)["worker"]) for d in found],
               "watchlists": lists, "floor": service.deployments.floor(user.actor), "values": {},
               "chosen": [], "error": "", "failed": [], "default_window": DEFAULT_WINDOW, **more}  # fmt: skip
    return page(request, "deployments.html", status=status, **context)


@router.get("/deployments")
def deployments(request: Request, user: User) -> HTMLResponse:
    return _list_page(request, user)


@router.post("/deployments")
async def create_deployment(request: Request, user: User) -> Response:
    form = await checked_form(request)
    values = {name: forms.text(form, name) for name in DEPLOYMENT_FIELDS}
    values["signage"] = "yes" if forms.text(form, "signage") == "yes" else ""
    chosen = [v for v in form.getlist("watchlists") if isinstance(v, str)]
    try:
        draft = DeploymentDraft(
            values["name"], values["source"], values["site"], values["place"],
            [line.strip() for line in values["windows"].splitlines() if line.strip()], forms.ids(form, "watchlists"),
            forms.decimal(form, "threshold", "the threshold"), values["dpia_reference"], values["signage"] == "yes",
            values["timezone"].strip() or "UTC",
        )  # fmt: skip
        info = await blocking(service_of(request).deployments.create_deployment, user.actor, draft)
    except PolicyDenied as refused:
        return await blocking(_list_page, request, user, 403, values=values, chosen=chosen, error=str(refused),
                              failed=failures(refused, DEPLOYMENT_WORDS))  # fmt: skip
    except FaceDocketError as error:
        return await blocking(_list_page, request, user, error.status, values=values, chosen=chosen,
                              error=str(error))  # fmt: skip
    return RedirectResponse(f"/deployments/{info.id}?done=created", status_code=303)


# --- one deployment ---------------------------------------------------------------------------


def _deployment_page(request: Request, user: WebUser, deployment_id: int, status: int = 200,
                     **more: Any) -> HTMLResponse:  # fmt: skip
    service = service_of(request)
    info = service.deployments.get_deployment(user.actor, deployment_id)
    names = {w.gallery.id: w.gallery.name for w in service.watchlists.list_watchlists(user.actor)} \
        if permits(user.actor, "watchlist.read") else {}  # fmt: skip
    pending = service.alerts.list_alerts(user.actor, "pending", info.id, limit=1000) \
        if permits(user.actor, "alert.read") else []  # fmt: skip
    context = {"title": f"Deployment {info.name}", "d": info, "names": names, "pending": len(pending),
               "floor": service.deployments.floor(user.actor), "period": str(service.clock().year), "error": "",
               "failed": [], "done": "", **_worker(request, info), **more}  # fmt: skip
    return page(request, "deployment.html", status=status, **context)


@router.get("/deployments/{deployment_id}")
def deployment(request: Request, deployment_id: int, user: User, done: str = "") -> HTMLResponse:
    return _deployment_page(request, user, deployment_id, done=done)


@router.get("/deployments/{deployment_id}/worker")
def worker(request: Request, deployment_id: int, user: Polling) -> HTMLResponse:
    """The worker's state (an htmx fragment the page asks for every few seconds)."""
    info = service_of(request).deployments.get_deployment(user.actor, deployment_id)
    return page(request, "worker.html", d=info, **_worker(request, info))


@router.post("/deployments/{deployment_id}/{action}")
async def act(request: Request, deployment_id: int, action: str, user: User) -> Response:
    """Authorise (with the decision's reference), start or stop the deployment."""
    form = await checked_form(request)
    service = service_of(request)
    try:
        if action == "authorise":
            await blocking(service.deployments.authorise, user.actor, deployment_id, forms.text(form, "reference"))
        elif action == "start":
            await blocking(service.video_workers.start, user.actor, deployment_id)
        elif action == "stop":
            await blocking(service.video_workers.stop, user.actor, deployment_id)
        else:
            return await blocking(_deployment_page, request, user, deployment_id, 404,
                                  error=f"no deployment action {action!r}")  # fmt: skip
    except PolicyDenied as refused:
        info = await blocking(service.deployments.get_deployment, user.actor, deployment_id)
        return await blocking(_deployment_page, request, user, deployment_id, 403, error=str(refused),
                              failed=failures(refused, DEPLOYMENT_WORDS, info.checklist))  # fmt: skip
    except FaceDocketError as error:
        return await blocking(_deployment_page, request, user, deployment_id, error.status, error=str(error))
    return RedirectResponse(f"/deployments/{deployment_id}?done={action}", status_code=303)


@router.get("/deployments/{deployment_id}/report")
def report(request: Request, deployment_id: int, user: User, period: str = "") -> HTMLResponse:
    """The deployment's report for a period (making it is recorded)."""
    service = service_of(request)
    chosen = period or str(service.clock().year)
    found = service.reports.deployment_report(user.actor, deployment_id, chosen)
    return page(request, "deployment_report.html", title=f"Report: deployment {found['deployment']['name']}",
                report=found, period=chosen, deployment_id=deployment_id)  # fmt: skip


__all__ = ["WorkerState", "router", "worker_state"]
