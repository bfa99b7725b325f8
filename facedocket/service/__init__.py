"""The service layer: the one place where rules, storage and the index meet.

Both shells (the CLI and the REST API) call these areas and nothing deeper, so a rule such
as "no search without a written request" lives once. :class:`Service` is a small facade:
one area object per part of the work, all sharing one :class:`~.context.Context`
(settings, database sessions, clock, audit writer, indexes, encrypted file store, face
pipeline). People sign in to the web UI through ``service.signin``; programs use tokens
(``service.accounts``).

Example::

    service = open_service(Settings(home=Path("data")))
    token = service.accounts.bootstrap("State Police", "admin")
    admin = service.accounts.authenticate(token.secret)
    service.policy.activate_policy(admin, "massachusetts-2020")
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from facedocket.config import Settings
from facedocket.governance.permissions import Actor
from facedocket.matching.index import KINDS as INDEX_KINDS
from facedocket.service.accounts import Accounts, AgencyInfo, IssuedToken, UserInfo
from facedocket.service.alerts import ALERT_LABEL, AlertInfo, Alerts
from facedocket.service.audit import AuditLog, EventInfo
from facedocket.service.comparison import CandidateView, Comparisons, Workspace
from facedocket.service.context import Clock, Context, system_clock
from facedocket.service.deployments import DeploymentDraft, DeploymentInfo, Deployments, WatchlistFloor
from facedocket.service.enrolment import EnrolItem, Enrolment, EnrolmentReport, Outcome, read_source
from facedocket.service.evaluation import EvaluationRecord, EvaluationResult, Evaluations, EvaluationSpec
from facedocket.service.galleries import Galleries, GalleryInfo, SubjectInfo
from facedocket.service.indexes import IndexManager
from facedocket.service.oversight import Document, HoldInfo, Oversight, RetentionReport
from facedocket.service.photos import FileContent, KeptPhoto, PhotoInfo, Photos
from facedocket.service.policy import ActivePolicy, Policies
from facedocket.service.reports import Reports
from facedocket.service.requests import CaseInfo, ProbeFaces, RequestDraft, RequestInfo, Requests
from facedocket.service.review import ReviewArea, ReviewInfo
from facedocket.service.search import EMPTY_LABEL, LEAD_LABEL, CandidateInfo, Searches, SearchResult
from facedocket.service.sessions import Sessions, SignedIn, WebUser
from facedocket.service.video_workers import VideoWorkers, WorkerStatus
from facedocket.service.watching import RunSummary, Watching
from facedocket.service.watchlists import EntryDraft, EntryInfo, WatchlistInfo, Watchlists
from facedocket.store import db
from facedocket.vision.pipeline import FacePipeline
from facedocket.vocab import ROLES


class Service:
    """Every use case of FaceDocket, by area."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.accounts = Accounts(ctx)
        self.policy = Policies(ctx)
        self.galleries = Galleries(ctx)
        self.enrolment = Enrolment(ctx)
        self.requests = Requests(ctx)
        self.review = ReviewArea(ctx, self.requests)
        self.searches = Searches(ctx, self.requests)
        self.oversight = Oversight(ctx)
        self.evaluation = Evaluations(ctx)
        self.reports = Reports(ctx, self.requests, self.searches, self.review)
        self.audit = AuditLog(ctx)
        self.watchlists = Watchlists(ctx, self.galleries)
        self.deployments = Deployments(ctx)
        self.alerts = Alerts(ctx)
        self.watching = Watching(ctx, self.deployments, self.alerts)
        self.video_workers = VideoWorkers(ctx, self.deployments, self.watching)
        self.photos = Photos(ctx, self.requests)
        self.comparison = Comparisons(ctx, self.requests, self.searches, self.review)
        self.signin = Sessions(ctx)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def engine(self) -> Engine:
        return self.ctx.engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.ctx.sessions

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def pipeline(self) -> FacePipeline:
        return self.ctx.pipeline

    @property
    def indexes(self) -> IndexManager:
        return self.ctx.indexes

    def close(self) -> None:
        """Stop the video workers, write indexes with unsaved changes and release the
        database connections."""
        self.video_workers.stop_all()
        self.ctx.close()


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
    settings.prepare_home()
    engine = db.make_engine(settings.resolved_database_url())
    if migrate:
        db.migrate(engine)
    return Service(Context(settings, engine, clock, pipeline))


__all__ = [
    "ALERT_LABEL",
    "EMPTY_LABEL",
    "INDEX_KINDS",
    "LEAD_LABEL",
    "ROLES",
    "ActivePolicy",
    "Actor",
    "AgencyInfo",
    "AlertInfo",
    "CandidateInfo",
    "CandidateView",
    "CaseInfo",
    "DeploymentDraft",
    "DeploymentInfo",
    "Document",
    "EnrolItem",
    "EnrolmentReport",
    "EntryDraft",
    "EntryInfo",
    "EvaluationRecord",
    "EvaluationResult",
    "EvaluationSpec",
    "EventInfo",
    "FacePipeline",
    "FileContent",
    "GalleryInfo",
    "HoldInfo",
    "IssuedToken",
    "KeptPhoto",
    "Outcome",
    "PhotoInfo",
    "ProbeFaces",
    "RequestDraft",
    "RequestInfo",
    "RetentionReport",
    "ReviewInfo",
    "RunSummary",
    "SearchResult",
    "Service",
    "SignedIn",
    "SubjectInfo",
    "UserInfo",
    "WatchlistFloor",
    "WatchlistInfo",
    "WebUser",
    "WorkerStatus",
    "Workspace",
    "open_service",
    "read_source",
]
