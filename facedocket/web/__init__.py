"""The web UI: server-rendered pages (Jinja2 templates in ``facedocket/render/templates/web``,
htmx for the parts that update in place), over the same service and permission table as the
REST API. Nothing is loaded from a CDN: htmx, the stylesheet and the small keyboard script
are served from the package (:mod:`facedocket.web.assets`), so the UI and ``/docs`` work on
a network with no internet.

:func:`install_web` mounts the pages at ``/`` (the API stays under ``/api/v1``); people sign
in with a password (:mod:`facedocket.web.signin`), every form carries a CSRF token
(:mod:`facedocket.web.security`). The pages by role are described in docs/web.md.

Example::

    app = FastAPI(docs_url=None, redoc_url=None)
    install_assets(app)
    install_web(app)   # needs app.state.service
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from facedocket.web import admin, alerts, deployments, files, home, oversight, requests, review, signin, watchlists
from facedocket.web.pages import error_page
from facedocket.web.security import PasswordFirst, SecurityHeaders, SignInNeeded

ROUTERS = (signin.router, home.router, requests.router, review.router, alerts.router, watchlists.router,
           deployments.router, oversight.router, admin.router, files.router)  # fmt: skip

ENROL_PATH = r"^/galleries/\d+/enrol$"
"""The one page that takes large uploads (a zip or folder of photos)."""


def install_web(app: FastAPI) -> None:
    """Mount the web UI's pages on ``app`` (whose ``state.service`` is the service)."""
    for router in ROUTERS:
        app.include_router(router)
    app.state.error_page = error_page
    app.state.enrolment_jobs = {}
    app.add_exception_handler(SignInNeeded, _sign_in)
    app.add_exception_handler(PasswordFirst, _password_first)
    app.add_middleware(SecurityHeaders)


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    next_url = exc.next_url
    if request.headers.get("hx-request"):  # a fragment (a poll): come back to the page that asked for it
        shown = urlsplit(request.headers.get("hx-current-url", ""))
        if shown.path.startswith("/") and not shown.path.startswith("//"):
            next_url = shown.path + (f"?{shown.query}" if shown.query else "")
    target = "/signin" if next_url in ("", "/") else f"/signin?next={quote(next_url, safe='')}"
    return _go(request, target)


async def _password_first(request: Request, exc: Exception) -> Response:
    return _go(request, "/password")


def _go(request: Request, target: str) -> Response:
    if request.headers.get("hx-request"):  # htmx: the whole page goes there, not a fragment
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


__all__ = ["ENROL_PATH", "install_web"]
