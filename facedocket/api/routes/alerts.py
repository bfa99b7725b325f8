"""Alerts: the queue of watchlist matches waiting for a person, new ones as they come
(long-poll or server-sent events), the face crop, and the decision.

An alert queue screen needs: ``GET /alerts?status=pending`` for the queue, ``GET
/alerts/stream`` (``text/event-stream``, one ``alert`` event per new alert, resumable with
``Last-Event-ID``) or ``GET /alerts?after=ID&wait=30`` to hear of new ones, ``GET
/alerts/{id}/crop`` for the face (recorded), and ``POST /alerts/{id}/confirm`` or
``/dismiss`` with a reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse

from facedocket.api.deps import ActorDep, IdPath, ServiceDep
from facedocket.api.schemas import error_responses
from facedocket.api.video_schemas import AlertDecision, AlertPublic, AlertsPublic
from facedocket.service import Actor, Service
from facedocket.service.alerts import MAX_WAIT_S
from facedocket.service.inputs import MAX_ID
from facedocket.vocab import TEXT_LIMITS

router = APIRouter(tags=["alerts"], responses=error_responses(401, 403, 404, 422))

STREAM_S = 300.0
"""Longest one event stream stays open; a client (EventSource) reconnects with Last-Event-ID."""


@router.get("/alerts", responses=error_responses(400))
def list_alerts(
    actor: ActorDep,
    service: ServiceDep,
    status: Annotated[
        str | None,
        Query(
            max_length=TEXT_LIMITS["choice"], description="Only alerts in this state: pending, confirmed, dismissed."
        ),
    ] = None,
    deployment_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this deployment's alerts.")] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Only alerts with a higher id (the last id you saw).")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_S, description="Long-poll: wait up to this many seconds for the first new one.")
    ] = 0,
) -> AlertsPublic:
    """Your agency's alerts, oldest first. With ``wait`` the answer comes as soon as an alert
    with an id above ``after`` exists, or empty after ``wait`` seconds."""
    if wait > 0:
        found = service.alerts.wait(actor, after, wait, status, deployment_id)[:limit]
    else:
        found = service.alerts.list_alerts(actor, status, deployment_id, after, limit)
    data = [AlertPublic.model_validate(a) for a in found]
    return AlertsPublic(data=data, count=len(data), last_id=max([a.id for a in data], default=after))


@router.get(
    "/alerts/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-sent events: `event: alert`, `id:` the alert id, `data:` its JSON.",
            "content": {"text/event-stream": {}},
        }
    },
)
def stream_alerts(
    actor: ActorDep,
    service: ServiceDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Start after this alert id.")] = 0,
    deployment_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this deployment's alerts.")] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=100_000, description="Close the stream after this many alerts.")
    ] = None,
    timeout: Annotated[
        float, Query(gt=0, le=STREAM_S, description="Close the stream after this many seconds.")
    ] = STREAM_S,
    last_event_id: Annotated[
        str | None, Header(max_length=20, description="Resume after this alert id (EventSource sends it).")
    ] = None,
) -> StreamingResponse:
    """New alerts as server-sent events (``event: alert``, ``id: <alert id>``, ``data:`` the
    alert as in ``GET /alerts``), and a comment every 15 s to keep the connection open. The
    stream closes after ``timeout`` seconds (an EventSource reconnects with Last-Event-ID)."""
    service.alerts.list_alerts(actor, None, deployment_id, 0, 1)  # permission and input checks, before streaming
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else after
    events = _events(service, actor, start, deployment_id, limit, timeout)
    return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def _events(service: Service, actor: Actor, after: int, deployment_id: int | None, limit: int | None,
            timeout: float) -> Iterator[str]:  # fmt: skip
    deadline, sent = time.monotonic() + timeout, 0
    yield "retry: 2000\n\n"
    while (left := deadline - time.monotonic()) > 0:
        for alert in service.alerts.wait(actor, after, min(left, 15.0), None, deployment_id):
            body = AlertPublic.model_validate(alert).model_dump(mode="json")
            yield f"event: alert\nid: {alert.id}\ndata: {json.dumps(body)}\n\n"
            after, sent = alert.id, sent + 1
            if limit is not None and sent >= limit:
                return
        yield ": keep-alive\n\n"


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: IdPath, actor: ActorDep, service: ServiceDep) -> AlertPublic:
    """One alert of your agency."""
    return AlertPublic.model_validate(service.alerts.get_alert(actor, alert_id))


@router.get(
    "/alerts/{alert_id}/crop",
    response_class=Response,
    responses={200: {"description": "The best frame's face crop (JPEG).", "content": {"image/jpeg": {}}}},
)
def alert_crop(alert_id: IdPath, actor: ActorDep, service: ServiceDep) -> Response:
    """The face crop of the alert's best frame (examiners and supervisors); the look is recorded."""
    return Response(
        service.alerts.crop(actor, alert_id), media_type="image/jpeg", headers={"Cache-Control": "no-store"}
    )


@router.post("/alerts/{alert_id}/confirm", responses=error_responses(409))
def confirm_alert(alert_id: IdPath, body: AlertDecision, actor: ActorDep, service: ServiceDep) -> AlertPublic:
    """Confirm the alert: a person checked and the listed person is there. An incident record is made."""
    return AlertPublic.model_validate(service.alerts.confirm(actor, alert_id, body.reason))


@router.post("/alerts/{alert_id}/dismiss", responses=error_responses(409))
def dismiss_alert(alert_id: IdPath, body: AlertDecision, actor: ActorDep, service: ServiceDep) -> AlertPublic:
    """Dismiss the alert as a false alert (it and its crop are purged after the policy's period)."""
    return AlertPublic.model_validate(service.alerts.dismiss(actor, alert_id, body.reason))
