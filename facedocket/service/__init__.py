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
from facedocket.errors import StorageReadOnly
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
from facedocket.service.models import ModelInfo, Models
from facedocket.service.oversight import Document, HoldInfo, Oversight, RetentionReport
from facedocket.service.photos import FileContent, KeptPhoto, PhotoInfo, Photos
from facedocket.service.policy import ActivePolicy, Policies
from facedocket.service.reembedding import Reembedding, ReembedReport
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
        self.photos = Photos(ctx, self.requests)
        self.reembedding = Reembedding(ctx, self.photos)
        self.review = ReviewArea(ctx, self.requests)
        self.searches = Searches(ctx, self.requests)
        self.oversight = Oversight(ctx)
        self.evaluation = Evaluations(ctx)
        self.models = Models(ctx, self.evaluation)
        self.reports = Reports(ctx, self.requests, self.searches, self.review)
        self.audit = AuditLog(ctx)
        self.watchlists = Watchlists(ctx, self.galleries)
        self.deployments = Deployments(ctx)
        self.alerts = Alerts(ctx)
        self.watching = Watching(ctx, self.deployments, self.alerts)
        self.video_workers = VideoWorkers(ctx, self.deployments, self.watching)
        self.comparison = Comparisons(ctx, self.requests, self.searches, self.review)
        self.signin = Sessions(ctx)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def read_only(self) -> bool:
        """Whether the database was opened read-only (nothing can be recorded or changed)."""
        return self.ctx.read_only

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

    def require_writable(self, why: str) -> None:
        """Raise :class:`StorageReadOnly` (its message naming what cannot be written, then
        ``why``) when the database or the data directory cannot be written."""
        where = []
        if self.read_only:
            where.append(f"the database {self.ctx.where()}")
        home = self.settings.home
        if not db.directory_writable(home) or not db.directory_writable(home / "index"):
            where.append(f"the data directory {home}")
        if where:
            raise StorageReadOnly(f"{' and '.join(where)} cannot be written (read-only); {why}")

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
    """Open (and by default migrate) the database named by ``settings`` and return the service,
    with the operator's registered template models loaded (a model whose files fail their
    check is reported when it is used, and does not stop the others).

    ``clock`` and ``pipeline`` are seams: tests pass a fixed clock, and one pipeline shared
    by many services so the models load once.

    A SQLite database that cannot be written (a read-only file system, say) opens read-only
    when it needs no migration: everything that only reads works, and whatever would write
    raises :class:`~facedocket.errors.StorageReadOnly` (``service.read_only`` says so).
    """
    settings = settings or Settings()
    settings.prepare_home()
    url = settings.resolved_database_url()
    read_only = db.opens_read_only(url)
    engine = db.make_engine(url)
    if migrate and read_only:
        current, head = db.current_revision(engine), db.head_revision()
        if current != head:
            engine.dispose()
            raise StorageReadOnly(
                f"the database {db.sqlite_path(url)} is read-only and at schema {current}, not {head}: "
                "open it once where it can be written, so it is migrated"
            )
    elif migrate:
        db.migrate(engine)
    service = Service(Context(settings, engine, clock, pipeline, read_only=read_only))
    if migrate or db.has_table(engine, "registered_model"):
        service.ctx.models.load_all()
    return service


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
    "ModelInfo",
    "Outcome",
    "PhotoInfo",
    "ProbeFaces",
    "ReembedReport",
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
