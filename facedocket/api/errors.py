"""One JSON error shape for every error the API answers with.

Every failure — a :class:`~facedocket.errors.FaceDocketError` from the service, a request that
fails validation, an unknown route, a wrong method, an upload over the limit, a bug — is
answered with::

    {"ok": false, "error": "<one line>", "errors": [...], "status": <int>}

``error`` says what went wrong and what to do next; ``errors`` holds details (validation
errors, the enrolment outcome) and may be empty. A 401 also carries ``WWW-Authenticate: Bearer``.
Outside the API (the web UI's pages) the same errors are answered with the UI's error page.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from facedocket.errors import FaceDocketError


class ApiError(Exception):
    """An error the API itself answers with (not raised by the service): a status, a one-line
    message and details."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


def error_body(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The error shape as a dict."""
    return {"ok": False, "error": _one_line(message), "errors": errors or [], "status": status}


def error_response(
    status: int, message: str, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error shape as a response; a 401 gets ``WWW-Authenticate: Bearer``."""
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(error_body(status, message, errors), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the error shape."""
    app.add_exception_handler(FaceDocketError, _service_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


API_PATHS = ("/api/", "/openapi.json", "/docs", "/static/")


def _page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response | None:
    """The web UI's error page for a path outside the API (None when the API answers)."""
    page = getattr(request.app.state, "error_page", None)
    if page is None or request.url.path.startswith(API_PATHS):
        return None
    if status in (301, 302, 303, 307) and headers and "location" in {k.lower() for k in headers}:
        location = next(v for k, v in headers.items() if k.lower() == "location")
        return RedirectResponse(location, status_code=status)
    response: Response = page(request, status, _one_line(message), headers)
    return response


async def _service_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status", 500)
    message = str(exc) or HTTPStatus(status).phrase
    details = exc.details if isinstance(exc, FaceDocketError) else []
    retry = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return _page(request, status, message) or error_response(status, message, [dict(d) for d in details], headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.errors)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [_validation_detail(e) for e in exc.errors()]
    if not details:
        return _page(request, 422, "the request is not valid") or error_response(422, "the request is not valid")
    first = details[0]
    where = ".".join(str(part) for part in first["loc"] if part not in ("body", "query", "path", "header"))
    message = f"{where or 'request'}: {first['msg']}"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more; see errors)"
    return _page(request, 422, message) or error_response(422, message, details)


def _validation_detail(error: Any) -> dict[str, Any]:
    """Location, message and type of a validation error; never the input (it may be an upload)."""
    loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
    return {"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", ""))}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    web = _page(request, status, "no such page" if status == 404 else str(exc.detail or HTTPStatus(status).phrase),
                headers)  # fmt: skip
    if web is not None:
        return web
    if status == 404 and exc.detail == HTTPStatus.NOT_FOUND.phrase:
        message = f"no route {request.url.path}; the API is described at /docs"
    elif status == 405:
        allowed = headers.get("allow") or headers.get("Allow") or ""
        message = f"{request.method} is not allowed on {request.url.path}" + (f"; use {allowed}" if allowed else "")
    else:
        message = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
    return error_response(status, message, headers=headers)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The server logs the traceback (Starlette re-raises after this response); the body never carries it.
    message = "internal error; the server log has the details"
    return _page(request, 500, message) or error_response(500, message)


def _one_line(message: str) -> str:
    return " ".join(message.split())
