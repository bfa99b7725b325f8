"""The service layer: the one place where rules, storage and the index meet.

Both shells (the CLI and the REST API) call these methods and nothing deeper, so a rule
such as "no search without a written request" lives once.

Example::

    service = open_service(Settings(home=Path("data")))
    token = service.bootstrap("State Police", "admin")
    actor = service.authenticate(token.secret)
"""

from __future__ import annotations

from facedocket.config import Settings
from facedocket.matching.index import KINDS as INDEX_KINDS
from facedocket.service.accounts import AccountsMixin, IssuedToken
from facedocket.service.base import Actor, Clock, system_clock
from facedocket.service.enrolment import EnrolItem, EnrolmentMixin, read_source
from facedocket.service.export import ExportMixin
from facedocket.service.galleries import GalleriesMixin
from facedocket.service.oversight import OversightMixin
from facedocket.service.reports import ReportsMixin
from facedocket.service.requests import CaseInfo, RequestDraft, RequestInfo, ReviewInfo
from facedocket.service.search import EMPTY_LABEL, LEAD_LABEL, SearchResult
from facedocket.store import db
from facedocket.store.tables import ROLES
from facedocket.vision.pipeline import FacePipeline


class Service(AccountsMixin, GalleriesMixin, EnrolmentMixin, ExportMixin, OversightMixin, ReportsMixin):
    """Every use case of FaceDocket (see the mixins for each area)."""


def open_service(
    settings: Settings | None = None,
    clock: Clock = system_clock,
    migrate: bool = True,
    pipeline: FacePipeline | None = None,
) -> Service:
    """Open (and by default migrate) the database named by ``settings`` and return the service.

    ``clock`` and ``pipeline`` are seams: tests pass a fixed clock, and one pipeline shared
    by many services so the models load once.
    """
    settings = settings or Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.resolved_database_url())
    if migrate:
        db.migrate(engine)
    return Service(settings, engine, clock, pipeline)


__all__ = [
    "EMPTY_LABEL",
    "INDEX_KINDS",
    "LEAD_LABEL",
    "ROLES",
    "Actor",
    "CaseInfo",
    "EnrolItem",
    "FacePipeline",
    "IssuedToken",
    "RequestDraft",
    "RequestInfo",
    "ReviewInfo",
    "SearchResult",
    "Service",
    "open_service",
    "read_source",
]
