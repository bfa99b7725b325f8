"""The REST API: a thin shell over :mod:`facedocket.service` (OpenAPI at /docs).

Example::

    app = create_app(Settings(home=Path("data")))
    # uvicorn.run(app)  or  uvicorn --factory facedocket.api:create_app

Every endpoint but ``GET /api/v1/health`` needs ``Authorization: Bearer fd_...``. Roles and
visibility are the service's rules; the API only translates them (Forbidden → 403,
NotFound → 404, ...) into one JSON error shape (see :mod:`facedocket.api.errors`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from facedocket import __version__
from facedocket.api.errors import install_error_handlers
from facedocket.api.routes import ROUTERS, TAGS
from facedocket.api.uploads import UploadLimitMiddleware
from facedocket.config import Settings
from facedocket.service import Service, open_service

PREFIX = "/api/v1"

DESCRIPTION = """Face recognition with the limits built in.

A search needs a written request (case number, offence, legal basis, justification) and
returns a ranked candidate list for trained human review: an **investigative lead, not a
positive identification**. Agencies see only their own data and the galleries shared with them.

Authenticate with `Authorization: Bearer fd_...`. Every error has one shape:
`{"ok": false, "error": "...", "errors": [...], "status": 422}`.
"""


def create_app(settings: Settings | None = None, service: Service | None = None) -> FastAPI:
    """The FastAPI app over ``service`` (opened from ``settings`` when not given).

    Args:
        settings: where the data lives and the upload limit; default ``service.settings`` or
            ``Settings()`` (environment variables and ``.env``).
        service: an open service to serve; default ``open_service(settings)``.

    Returns:
        The app, with OpenAPI at ``/openapi.json`` and ``/docs``.
    """
    if settings is None:
        settings = service.settings if service is not None else Settings()
    if service is None:
        service = open_service(settings)
    opened = service

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        opened.indexes.flush()  # write index files with unsaved changes on shutdown

    app = FastAPI(
        title="FaceDocket", version=__version__, description=DESCRIPTION, openapi_tags=TAGS, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(UploadLimitMiddleware, max_upload_bytes=settings.max_upload_bytes)
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX)
    return app


__all__ = ["create_app"]
