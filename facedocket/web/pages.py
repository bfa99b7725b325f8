"""Rendering a page: the shared context every screen gets (who is signed in, their agency,
the active policy, the menu their role allows, the CSRF token), and the error page.

The menu is the permission table's: an item shows when :func:`facedocket.governance.permissions.permits`
allows its action, so a screen never offers what the service would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from facedocket import __version__
from facedocket.errors import FaceDocketError
from facedocket.governance.permissions import Actor, permits
from facedocket.render import render
from facedocket.service import WebUser
from facedocket.vocab import LEAD_LABEL
from facedocket.web.security import CSRF_FIELD, service_of, set_pre_cookie, token_for

T = TypeVar("T")


@dataclass(frozen=True)
class MenuItem:
    label: str
    url: str
    action: str


MENU = (
    MenuItem("Requests", "/requests", "request.read"),
    MenuItem("File a request", "/requests/new", "request.file"),
    MenuItem("Approval inbox", "/inbox", "request.decide"),
    MenuItem("Search and review", "/review", "request.search"),
    MenuItem("Alert queue", "/alerts", "alert.read"),
    MenuItem("Watchlists", "/watchlists", "watchlist.read"),
    MenuItem("Deployments", "/deployments", "deployment.read"),
    MenuItem("Audit log", "/audit", "audit.read"),
    MenuItem("Evaluations", "/evaluations", "evaluation.record"),
    MenuItem("Transparency reports", "/reports", "report.generate"),
    MenuItem("Users", "/admin/users", "user.read"),
    MenuItem("Galleries", "/galleries", "gallery.create"),
    MenuItem("Policy", "/policy", "policy.read"),
)
"""The menu, in order; each item shows to the roles its action allows."""


def menu(actor: Actor) -> list[MenuItem]:
    return [item for item in MENU if permits(actor, item.action)]


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``web/<template>`` rendered with the shared context; ``title`` names the page."""
    user: WebUser | None = getattr(request.state, "web_user", None)
    service = service_of(request)
    policy = None
    if user is not None and not user.must_change and permits(user.actor, "policy.read"):
        try:
            policy = service.policy.active(user.actor)
        except FaceDocketError:
            policy = None
    shared = {
        "user": user,
        "menu": menu(user.actor) if user and not user.must_change else [],
        "policy": policy,
        "csrf": token_for(request),
        "csrf_field": CSRF_FIELD,
        "path": request.url.path,
        "lead_label": LEAD_LABEL,
        "version": __version__,
        "now": service.clock(),
        "can": _can(user),
    }
    html = render(f"web/{template}", **shared, **context)
    response = HTMLResponse(html, status_code=status)
    set_pre_cookie(request, response)
    return response


def _can(user: WebUser | None) -> Callable[..., bool]:
    """``can(action, owner_agency_id=None)`` for templates: whether the reader may take the
    action (on the owner agency's object), from the permission table."""

    def can(action: str, owner: int | None = None) -> bool:
        if user is None or user.must_change:
            return False
        return permits(user.actor, action, user.actor.side(owner) if owner is not None else "own")

    return can


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The page for an error outside the API: what went wrong, in one line, and a way back."""
    response = page(request, "error.html", status=status, title=_title(status), message=message)
    for name, value in (headers or {}).items():
        if name.lower() != "www-authenticate":
            response.headers[name] = value
    return response


TITLES = {400: "Not accepted", 401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Conflict",
          413: "Too large", 422: "Not accepted", 429: "Wait a moment"}  # fmt: skip


def _title(status: int) -> str:
    return TITLES.get(status, "Something went wrong")


async def blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call off the event loop (the service talks to a database and
    runs models)."""
    return await run_in_threadpool(function, *args, **kwargs)
