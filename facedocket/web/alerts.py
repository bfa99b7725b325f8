"""The alert queue: watchlist matches waiting for a person, live.

The queue lists the agency's pending alerts, oldest first, each with the camera's face crop
beside the watchlist entry's kept photo and aligned face crop, the score, the threshold, the
expected false alerts per hour, and the decision (confirm or dismiss, with a reason). New
alerts arrive without a reload: the page keeps one htmx long-poll open
(``/alerts/poll?after=ID``, answered as soon as :meth:`facedocket.service.alerts.Alerts.wait`
finds an alert above ``ID``, or empty after :data:`POLL_WAIT_S`), which appends them to the
queue, updates how often each alert's person was seen again (repeats merged into it), and
asks again. Nothing comes from elsewhere, so the Content-Security-Policy stays
``'self'`` only. The polling does not count as the person's activity: an unattended queue
still signs out at the idle timeout.

Who may read, decide or look at a crop is the permission table's (``alert.read``,
``alert.decide``, ``alert.crop``); every look at a crop and every decision is recorded by
the service.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from facedocket.errors import FaceDocketError, InvalidInput
from facedocket.governance.permissions import permits
from facedocket.service import AlertInfo, PhotoInfo, WebUser
from facedocket.vocab import ALERT_STATES
from facedocket.web import forms
from facedocket.web.pages import blocking, page
from facedocket.web.security import checked_form, current_user, polling_user, service_of

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(current_user)]
Polling = Annotated[WebUser, Depends(polling_user)]

POLL_WAIT_S = 10.0
"""Longest one poll of the queue waits for a new alert before it answers empty and asks again."""
QUEUE_LIMIT = 200
"""Most alerts one queue page lists (the oldest first)."""
ACT_LABEL = "A person confirms it before anyone acts."
"""Shown with every alert, beside the service's label."""
DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}


def _photos(request: Request, user: WebUser, alerts: list[AlertInfo]) -> dict[int, dict[str, PhotoInfo]]:
    """Subject id -> the entry's kept photos by kind (``enrolment-source``, ``enrolment-crop``;
    the first of each), for readers the permission table lets look at them."""
    if not permits(user.actor, "photo.read"):
        return {}
    subjects = sorted({a.subject_id for a in alerts if a.subject_id is not None})
    found = service_of(request).photos.of_subjects(user.actor, subjects) if subjects else {}
    return {s: {p.kind: p for p in reversed(photos)} for s, photos in found.items()}


def _cards(request: Request, user: WebUser, alerts: list[AlertInfo]) -> dict[str, Any]:
    """What the alert cards need besides the alerts."""
    return {"photos": _photos(request, user, alerts), "act_label": ACT_LABEL,
            "may_decide": permits(user.actor, "alert.decide"),
            "may_see_crop": permits(user.actor, "alert.crop")}  # fmt: skip


@router.get("/alerts")
def queue(request: Request, user: User, state: str = "pending", deployment_id: int | None = None,
          decided: int | None = None) -> HTMLResponse:  # fmt: skip
    """The pending alerts, oldest first (live); or the decided ones, newest first."""
    return _queue(request, user, state, deployment_id, decided)


def _queue(request: Request, user: WebUser, state: str, deployment_id: int | None, decided: int | None = None,
           error: str = "", code: int = 200) -> HTMLResponse:  # fmt: skip
    if state not in (*ALERT_STATES, "all"):
        raise InvalidInput(f"an alert's state is one of: {', '.join(ALERT_STATES)} (or all)")
    service = service_of(request)
    pending = state == "pending"
    alerts = service.alerts.list_alerts(user.actor, None if state == "all" else state, deployment_id,
                                        limit=QUEUE_LIMIT, newest_first=not pending)  # fmt: skip
    newest = service.alerts.list_alerts(user.actor, None, deployment_id, limit=1, newest_first=True)
    return page(request, "alerts.html", status=code, title="Alert queue", alerts=alerts, state=state,
                states=[*ALERT_STATES, "all"], deployment_id=deployment_id, live=pending,
                after=newest[0].id if newest else 0, decided=decided, error=error,
                **_cards(request, user, alerts))  # fmt: skip


@router.get("/alerts/poll")
def poll(request: Request, user: Polling, after: int = 0, deployment_id: int | None = None) -> HTMLResponse:
    """The alerts that came after ``after`` (waiting up to :data:`POLL_WAIT_S` for the first),
    as cards to append to the queue, and the poller that asks for the next ones."""
    service = service_of(request)
    found = service.alerts.wait(user.actor, max(0, after), POLL_WAIT_S, None, deployment_id)
    newest = max([a.id for a in found], default=max(0, after))
    fresh = [a for a in found if a.status == "pending"]
    shown = service.alerts.list_alerts(user.actor, "pending", deployment_id, limit=QUEUE_LIMIT)
    repeated = [a for a in shown if a.repeats and a.id <= after]  # merged repeats of the cards on the page
    return page(request, "alerts_poll.html", alerts=fresh, repeated=repeated, after=newest,
                deployment_id=deployment_id, live=True, **_cards(request, user, fresh))  # fmt: skip


@router.get("/alerts/{alert_id}/crop")
def crop(request: Request, alert_id: int, user: User) -> Response:
    """The camera's face crop of an alert (JPEG); the look is recorded (``alert.crop_viewed``)."""
    data = service_of(request).alerts.crop(user.actor, alert_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@router.post("/alerts/{alert_id}/decide")
async def decide(request: Request, alert_id: int, user: User) -> Response:
    """Confirm or dismiss an alert with a reason. From the live queue (htmx) the answer is the
    alert's card as it now stands; from a plain form, the queue again."""
    form = await checked_form(request)
    service = service_of(request)
    decision = forms.text(form, "decision")
    try:
        if decision not in DECISIONS:
            raise InvalidInput("choose Confirm or Dismiss")
        act = service.alerts.confirm if decision == "confirm" else service.alerts.dismiss
        info = await blocking(act, user.actor, alert_id, forms.text(form, "reason"))
        error = ""
    except FaceDocketError as failed:
        if not request.headers.get("hx-request"):
            return await blocking(_queue, request, user, "pending", None, None, str(failed), failed.status)
        info, error = await blocking(service.alerts.get_alert, user.actor, alert_id), str(failed)
    if not request.headers.get("hx-request"):
        return RedirectResponse(f"/alerts?decided={alert_id}", status_code=303)
    cards = await blocking(_cards, request, user, [info])
    return page(request, "alert_card.html", a=info, card_error=error, card_reason=forms.text(form, "reason"), **cards)


__all__ = ["ACT_LABEL", "POLL_WAIT_S", "router"]
