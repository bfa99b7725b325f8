"""Sign-in, sign-out and choosing one's password (the service's rules: :mod:`facedocket.service.sessions`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from facedocket.errors import FaceDocketError, TooManyAttempts, Unauthorized
from facedocket.service import WebUser
from facedocket.web.pages import blocking, page
from facedocket.web.security import (
    SESSION_COOKIE,
    checked_form,
    current_user,
    end_session,
    service_of,
    start_session,
)

router = APIRouter(include_in_schema=False)


def _safe_next(value: str) -> str:
    """A place on this site to go after sign-in (never another host)."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


@router.get("/signin")
def signin_form(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, "signin.html", title="Sign in", next=_safe_next(next), error="", username="")


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await checked_form(request)
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or "/"))
    client = request.headers.get("user-agent", "")[:200]
    service = service_of(request)
    try:
        signed = await blocking(service.signin.sign_in, username, password, client)
    except (Unauthorized, TooManyAttempts) as refused:
        status = 429 if isinstance(refused, TooManyAttempts) else 401
        return page(request, "signin.html", status=status, title="Sign in", next=next_url, error=str(refused),
                    username=username)  # fmt: skip
    response = RedirectResponse("/password" if signed.must_change else next_url, status_code=303)
    start_session(request, response, signed.secret)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    await checked_form(request)
    await blocking(service_of(request).signin.sign_out, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/signin", status_code=303)
    end_session(request, response)
    return response


@router.get("/password")
def password_form(request: Request, user: Annotated[WebUser, Depends(current_user)]) -> HTMLResponse:
    return page(request, "password.html", title="Choose your password" if user.must_change else "Change password",
                first=user.must_change, error="", done=False)  # fmt: skip


@router.post("/password")
async def change_password(request: Request, user: Annotated[WebUser, Depends(current_user)]) -> Response:
    form = await checked_form(request)
    new, again = str(form.get("new") or ""), str(form.get("again") or "")
    title = "Choose your password" if user.must_change else "Change password"
    if new != again:
        return page(request, "password.html", status=422, title=title, first=user.must_change,
                    error="the two new passwords differ; type the same one twice", done=False)  # fmt: skip
    try:
        await blocking(service_of(request).signin.change_password, request.cookies.get(SESSION_COOKIE, ""),
                   str(form.get("current") or ""), new)  # fmt: skip
    except FaceDocketError as refused:
        return page(request, "password.html", status=refused.status, title=title, first=user.must_change,
                    error=str(refused), done=False)  # fmt: skip
    if user.must_change:
        return RedirectResponse("/", status_code=303)
    request.state.web_user = service_of(request).signin.current(request.cookies.get(SESSION_COOKIE))
    return page(request, "password.html", title=title, first=False, error="", done=True)
