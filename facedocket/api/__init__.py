"""The REST API: a thin shell over :mod:`facedocket.service` (OpenAPI at /docs).

Example::

    app = create_app(Settings(home=Path("data")))
    # uvicorn.run(app)  or  uvicorn --factory facedocket.api:create_app

Every endpoint but ``GET /api/v1/health`` needs ``Authorization: Bearer fd_...``. Roles and
visibility are the service's rules; the API only translates them (Forbidden → 403,
NotFound → 404, ...) into one JSON error shape (see :mod:`facedocket.api.errors`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from facedocket import __version__
from facedocket.api.errors import install_error_handlers
from facedocket.api.routes import ROUTERS, TAGS
from facedocket.api.uploads import UploadLimitMiddleware
from facedocket.config import Settings
from facedocket.service import Service, open_service
from facedocket.web.assets import install_assets

PREFIX = "/api/v1"

log = logging.getLogger("facedocket.api")

DESCRIPTION = """Face recognition with the limits built in.

A search is only ever made under a written request: a requester files it under a case
(`POST /requests`, with the probe photo, the legal basis and its document), a supervisor of
the receiving face-search unit approves it, and an examiner searches under it
(`POST /requests/{id}/searches`). The agency's policy profile (`GET /policy`) is checked
at every step; a refusal is a 403 whose `errors` names every failed rule, and is recorded.
A search returns a ranked candidate list for trained human review: an **investigative
lead, not a positive identification**. Reviewers decide each candidate, the request is
concluded `lead` or `no-lead` and closed. Every action lands in a hash-chained audit log
(`/audit`). Agencies see only their own data, the galleries shared with them, and (for a
request to another agency) the candidates released to them.

Watchlists on video: a watchlist is a gallery of purpose `watchlist` whose entries carry a
reason code, the incident, who authorised them and an expiry (`/watchlists`); a deployment
says where and when a camera or recording is matched against it (`/deployments`), and the
policy gate checks it when it starts and at each time window. Its background worker raises
**alerts** that a person confirms or dismisses (`/alerts`; new ones by long-poll or
server-sent events). Nothing of the faces that do not match is kept, only counts.

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
        The app, with OpenAPI at ``/openapi.json`` and ``/docs`` (Swagger UI served from the package,
        with the other assets under ``/static``).
    """
    if settings is None:
        settings = service.settings if service is not None else Settings()
    if service is None:
        service = open_service(settings)
    opened = service

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        job = DeadlineJob(opened, settings.expiry_interval_s)
        job.start()
        retention = RetentionJob(opened, settings.retention_interval_s)
        retention.start()
        closed = opened.video_workers.close_orphans()
        if closed:
            log.warning("deployments %s were left running by a process that ended: stopped (recorded)", closed)
        try:
            yield
        finally:
            opened.video_workers.stop_all()
            retention.stop()
            job.stop()
            opened.indexes.flush()  # write index files with unsaved changes on shutdown

    app = FastAPI(
        title="FaceDocket",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served from the package by install_assets, not from a CDN
        redoc_url=None,
    )
    install_assets(app)
    app.state.settings = settings
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(UploadLimitMiddleware, max_upload_bytes=settings.max_upload_bytes)
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX)
    return app


class DeadlineJob:
    """Runs ``service.requests.expire_overdue()`` every ``interval_s`` seconds on a daemon thread while
    the app is up: emergency requests whose approval deadline passed are expired and purged
    even when nobody touches them. ``interval_s`` 0 turns it off. A failed run is logged and
    retried at the next interval."""

    thread_name = "facedocket-deadlines"

    def __init__(self, service: Service, interval_s: float) -> None:
        self.service = service
        self.interval_s = interval_s
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                expired = self.service.requests.expire_overdue()
            except Exception:
                log.exception("the deadline job failed; it runs again in %s s", self.interval_s)
                continue
            self.runs += 1
            if expired:
                log.info("expired and purged requests %s: their approval deadline passed", expired)


class RetentionJob(DeadlineJob):
    """Runs ``service.oversight.retention_run(None)`` every ``interval_s`` seconds, the same way: what
    has outlived its retention period is deleted in every agency, except what a legal hold
    keeps (docs/oversight.md). ``interval_s`` 0 turns it off."""

    thread_name = "facedocket-retention"

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                report = self.service.oversight.retention_run(None)
            except Exception:
                log.exception("the retention job failed; it runs again in %s s", self.interval_s)
                continue
            self.runs += 1
            deleted = {k: len(v) for k, v in report.deleted.items() if v}
            held = {k: len(v) for k, v in report.held.items() if v}
            if deleted or held:
                log.info("retention: deleted %s; kept by legal holds %s", deleted, held)


__all__ = ["DeadlineJob", "RetentionJob", "create_app"]
