"""The web UI's guards: the session cookie, CSRF tokens on every form, security headers.

* The session cookie ``fd_session`` holds the secret of a session opened by
  :meth:`facedocket.service.sessions.Sessions.sign_in`; it is ``HttpOnly``,
  ``SameSite=Strict`` and ``Secure`` when the page is served over TLS.
* Every form carries a CSRF token (:func:`facedocket.crypto.csrf_token` of the session's
  secret, under a key derived from the ``secret_key`` setting); every POST is refused without
  the right one (:func:`check_csrf`). Before sign-in, the sign-in form's token is bound to a
  random pre-session cookie, so nobody can sign a browser in to someone else's account.
* Pages are sent with a Content-Security-Policy that allows only the package's own scripts
  and styles (no inline script, nothing from elsewhere), and are never cached.
"""

from __future__ import annotations

import secrets
from typing import cast
from urllib.parse import quote

from fastapi import Request, Response
from starlette.datastructures import FormData
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from facedocket.crypto import csrf_token, csrf_valid
from facedocket.errors import Forbidden, Unauthorized
from facedocket.service import Service, WebUser

SESSION_COOKIE = "fd_session"
PRE_COOKIE = "fd_pre"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
MAX_FILES = 20_000
"""Most files one form may carry (a folder of photos to enrol)."""

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCUMENT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
"""For the self-contained documents the UI hands out (case file, reports): inline style and
``data:`` images only, no script at all."""


class SignInNeeded(Exception):
    """No live session: the page answers with the sign-in page (``next`` brings them back)."""

    def __init__(self, next_url: str = "/") -> None:
        super().__init__("sign in")
        self.next_url = next_url


class PasswordFirst(Exception):
    """Signed in with a temporary password: choose one's own before anything else."""


def service_of(request: Request) -> Service:
    return cast(Service, request.app.state.service)


def current_user(request: Request) -> WebUser:
    """The signed-in person (a dependency of every page); sign-in first otherwise, and a
    temporary password's session goes to the password page."""
    return _signed_in(request, active=True)


def polling_user(request: Request) -> WebUser:
    """As :func:`current_user`, for what a page asks by itself (a live queue's or a worker's
    status polling): it does not count as the person's activity, so the idle timeout still
    ends the session of an unattended screen."""
    return _signed_in(request, active=False)


def _signed_in(request: Request, active: bool) -> WebUser:
    try:
        user = service_of(request).signin.current(request.cookies.get(SESSION_COOKIE), active=active)
    except Unauthorized:
        raise SignInNeeded(request.url.path + (f"?{request.url.query}" if request.url.query else "")) from None
    request.state.web_user = user
    if user.must_change and request.url.path != "/password":
        raise PasswordFirst()
    return user


def token_for(request: Request, response: Response | None = None) -> str:
    """The CSRF token for forms on this page: bound to the session, or before sign-in to a
    pre-session cookie (set on ``response`` when new)."""
    secret = service_of(request).settings.session_secret()
    session = request.cookies.get(SESSION_COOKIE)
    if session and getattr(request.state, "web_user", None) is not None:
        return csrf_token(secret, session)
    pre = request.cookies.get(PRE_COOKIE) or getattr(request.state, "pre_session", None)
    if not pre:
        pre = secrets.token_urlsafe(32)
        request.state.pre_session = pre
    return csrf_token(secret, f"pre:{pre}")


def set_pre_cookie(request: Request, response: Response) -> None:
    """Set the pre-session cookie a fresh sign-in form's token is bound to."""
    pre = getattr(request.state, "pre_session", None)
    if pre:
        response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", secure=_tls(request), path="/")


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token (field ``csrf`` or header ``X-CSRF-Token``) is the
    session's (or, before sign-in, the pre-session cookie's); Forbidden otherwise."""
    form = await request.form(max_files=MAX_FILES, max_fields=1000)
    token = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    secret = service_of(request).settings.session_secret()
    session = request.cookies.get(SESSION_COOKIE, "")
    pre = request.cookies.get(PRE_COOKIE, "")
    if not (csrf_valid(secret, session, token) or (pre and csrf_valid(secret, f"pre:{pre}", token))):
        raise Forbidden(
            "this form's security token is missing or out of date (CSRF check); reload the page and try again"
        )
    return form


def start_session(request: Request, response: Response, secret: str) -> None:
    """Put a new session's secret into the cookie (and drop the pre-session cookie)."""
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="strict", secure=_tls(request), path="/")
    response.delete_cookie(PRE_COOKIE, path="/")


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_tls(request))


def sign_in_url(next_url: str) -> str:
    return "/signin" if next_url in ("", "/") else f"/signin?next={quote(next_url, safe='')}"


def _tls(request: Request) -> bool:
    return request.url.scheme == "https"


class SecurityHeaders(BaseHTTPMiddleware):
    """Headers on every answer outside the API: a strict Content-Security-Policy (documents
    handed out get their own), no framing, no sniffing, no referrer, and no caching of pages."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/api/"):
            return response
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if path.startswith(("/static/", "/docs", "/openapi.json")):
            return response
        headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cache-Control", "no-store")
        return response
