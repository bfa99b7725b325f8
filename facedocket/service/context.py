"""What every area of the service shares: settings, the database, the clock, the audit
writer, the indexes, the encrypted file store, the template models of the installation and
(built on first use) the face pipeline.

Transactions come in two kinds. :meth:`Context.read` is a session for reading.
:meth:`Context.write` is one write transaction that commits or rolls back as a whole; on
SQLite it begins ``IMMEDIATE`` (the write lock is taken at the start, so a row read inside is
the row the transaction changes), on PostgreSQL the operation locks its row with
``SELECT … FOR NO KEY UPDATE`` (``store/queries``, ``store/locks.py``). An operation re-reads its row inside the write
transaction and re-checks permission, state and policy there, next to the write and its
audit event.

Every event goes through :meth:`Context.audit`, inside the caller's transaction: the action
must be registered in :data:`facedocket.vocab.AUDIT_ACTIONS`, and details are bounded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from facedocket.config import Settings
from facedocket.errors import FaceDocketError, StorageFull, StorageReadOnly
from facedocket.governance import audit as chain
from facedocket.governance.permissions import Actor
from facedocket.service.files import FileStore
from facedocket.service.indexes import IndexManager
from facedocket.service.model_registry import ModelRegistry
from facedocket.service.probes import AnalysedProbe, ProbeCache, analyse
from facedocket.service.signins import SignInGuard
from facedocket.store import db
from facedocket.store.queries import audit as audit_queries
from facedocket.store.tables import AuditEvent
from facedocket.vocab import audit_action

if TYPE_CHECKING:
    from facedocket.vision.pipeline import FacePipeline

Clock = Callable[[], datetime]

MAX_DETAIL_TEXT = 1000
"""Longest text kept in an audit event's details; longer text is cut with a note (the audit
log is append-only, so nothing unbounded may go in)."""
MAX_DETAIL_ITEMS = 1000
"""Most items of a list kept in an audit event's details."""


def system_clock() -> datetime:
    return datetime.now(UTC)


_FULL = ("database or disk is full", "no space left on device", "could not extend file", "disk full")
_READ_ONLY = ("readonly database", "read-only file system", "read-only transaction")


def storage_error(exc: OperationalError, where: str) -> FaceDocketError | OperationalError:
    """SQLite's and PostgreSQL's "disk is full" as :class:`StorageFull` and "read-only" as
    :class:`StorageReadOnly`, with the database's own words; any other error as it is."""
    words = str(exc.orig) if exc.orig is not None else str(exc)
    lowered = words.lower()
    if any(marker in lowered for marker in _FULL):
        return StorageFull(f"the database {where} could not be written ({words}); nothing of this was saved: "
                           "free space on its disk")  # fmt: skip
    if any(marker in lowered for marker in _READ_ONLY):
        return StorageReadOnly(f"the database {where} cannot be written ({words}); nothing of this was saved")
    return exc


class Who:
    """The actor of an event: a user, or ``system`` (scheduled jobs, migrations)."""

    def __init__(self, user_id: int | None, name: str, agency_id: int | None) -> None:
        self.user_id, self.name, self.agency_id = user_id, name, agency_id


SYSTEM = Who(None, "system", None)


def who(actor: Actor | Who | None) -> Who:
    if actor is None:
        return SYSTEM
    return actor if isinstance(actor, Who) else Who(actor.user_id, actor.username, actor.agency_id)


def bounded(value: Any) -> Any:
    """``value`` with every text cut to MAX_DETAIL_TEXT and every list to MAX_DETAIL_ITEMS."""
    if isinstance(value, str):
        if len(value) <= MAX_DETAIL_TEXT:
            return value
        return value[:MAX_DETAIL_TEXT] + f"…[{len(value) - MAX_DETAIL_TEXT} more characters not kept]"
    if isinstance(value, dict):
        return {str(k)[:MAX_DETAIL_TEXT]: bounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [bounded(v) for v in list(value)[:MAX_DETAIL_ITEMS]]
        if len(value) > MAX_DETAIL_ITEMS:
            items.append(f"…[{len(value) - MAX_DETAIL_ITEMS} more items not kept]")
        return items
    return value


class Hooks:
    """Seams for tests: points in an operation where a test may run something (another
    user's action landing in between). Each is None (nothing runs) unless a test sets it."""

    after_gate: Callable[[int], None] | None = None
    """Called with the request id after a search passed the policy gate and before its
    candidates are written, with no transaction of the search open."""

    def call_after_gate(self, request_id: int) -> None:
        if self.after_gate is not None:
            self.after_gate(request_id)


class Context:
    """The shared parts of every area (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        clock: Clock = system_clock,
        pipeline: FacePipeline | None = None,
        read_only: bool = False,
    ) -> None:
        self.settings = settings
        self.read_only = read_only
        self.engine = engine
        self.clock = clock
        self.sessions = db.session_factory(engine)
        self.sqlite = engine.dialect.name == "sqlite"
        self._sqlite_writer = threading.RLock()
        self.indexes = IndexManager(settings.home / "index", self.sessions)
        self.files = FileStore(settings, clock)
        self.sign_ins = SignInGuard(settings.auth_failure_limit, timedelta(seconds=settings.auth_failure_window_s))
        self.probes = ProbeCache(settings.probe_cache_size, timedelta(seconds=settings.probe_cache_ttl_s), clock)
        self.models = ModelRegistry(settings.home / "models", self.sessions)
        self._pipeline: FacePipeline | None = pipeline
        self._pipeline_lock = threading.Lock()
        self.hooks = Hooks()

    @property
    def pipeline(self) -> FacePipeline:
        """The face pipeline, built on first use (models load in about a second)."""
        with self._pipeline_lock:
            if self._pipeline is None:
                from facedocket.vision.pipeline import FacePipeline

                self._pipeline = FacePipeline.from_settings(self.settings)
            return self._pipeline

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (nothing it changes is committed)."""
        with self.sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: commits when the block ends, rolls back on any error. On
        SQLite it takes the write lock at once (BEGIN IMMEDIATE).

        Raises:
            StorageReadOnly: the database cannot be written (opened read-only, a read-only
                file system, a read-only PostgreSQL transaction).
            StorageFull: the disk under the database is full; nothing of the block was saved.
        """
        if self.read_only:
            raise StorageReadOnly(f"the database is read-only ({self.where()}); nothing can be recorded or changed")
        # On SQLite the threads of this process queue for the write lock here, woken as soon
        # as it is free, instead of in SQLite's busy handler, which polls with sleeps of up to
        # 100 ms and under 30 concurrent writers left some waiting for seconds.
        with self._sqlite_writer if self.sqlite else contextlib.nullcontext():
            try:
                with self.sessions() as session, session.begin():
                    if self.sqlite:
                        session.connection().exec_driver_sql("BEGIN IMMEDIATE")
                    yield session
            except OperationalError as exc:
                mapped = storage_error(exc, self.where())
                if mapped is exc:
                    raise
                raise mapped from exc

    def where(self) -> str:
        """The database, for messages: the SQLite file, or the PostgreSQL host and name."""
        url = self.engine.url
        return str(db.sqlite_path(self.settings.resolved_database_url()) or url.render_as_string(hide_password=True))

    def audit(
        self,
        session: Session,
        actor: Actor | Who | None,
        action: str,
        object_type: str,
        object_id: object,
        details: dict[str, Any] | None = None,
        agency_id: int | None = None,
    ) -> AuditEvent:
        """Append one event inside ``session``'s transaction (the action and its record commit
        together). ``action`` must be registered in facedocket.vocab."""
        audit_action(action)
        person = who(actor)
        seq, prev = audit_queries.advance_head(session)
        moment = self.clock()
        body = {
            "seq": seq,
            "time": chain.format_time(moment),
            "actor_id": person.user_id,
            "actor": person.name,
            "agency_id": person.agency_id if agency_id is None else agency_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id)[:80],
            "details": json.loads(chain.canonical_json(bounded(details or {}))),
        }
        digest = chain.event_hash(body, prev)
        return audit_queries.append(session, body, chain.canonical_json(body["details"]), moment, digest, prev)

    def record(
        self, actor: Actor | Who | None, action: str, object_type: str, object_id: object,
        details: dict[str, Any] | None = None, agency_id: int | None = None,
    ) -> None:  # fmt: skip
        """Append one event in a transaction of its own (an action with nothing else to write)."""
        with self.write() as session:
            self.audit(session, actor, action, object_type, object_id, details, agency_id)

    def probe_faces(self, data: bytes, model_id: str | None = None) -> AnalysedProbe:
        """A probe photo's size and faces (decoded with the limits, so InvalidImage for what is
        not a safe image) with the templates of ``model_id`` (default: the pipeline's model),
        computed once and kept a while (:mod:`facedocket.service.probes`)."""
        pipeline = self.pipeline if model_id is None else self.pipeline.for_model(model_id)
        key = (hashlib.sha256(data).hexdigest(), pipeline.model_id)
        return self.probes.get(key, lambda: analyse(pipeline, data))

    def close(self) -> None:
        """Write indexes with unsaved changes, forget this installation's registered models
        and release the database connections."""
        self.indexes.flush()
        self.models.forget()
        self.engine.dispose()


class Area:
    """An area of the service (accounts, galleries, requests...): holds the shared context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def clock(self) -> Clock:
        return self.ctx.clock
