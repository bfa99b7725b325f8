"""What every use case shares: settings, database, indexes, the face pipeline, the actor."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from facedocket.config import Settings
from facedocket.errors import Forbidden, NotFound
from facedocket.service.indexes import IndexManager
from facedocket.store import db
from facedocket.store.tables import Agency, Gallery, GalleryShare, Subject

if TYPE_CHECKING:
    from facedocket.vision.pipeline import FacePipeline

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user of an agency, with one role."""

    user_id: int
    username: str
    agency_id: int
    role: str
    operator: bool = False

    def require(self, *roles: str) -> None:
        """Raise :class:`Forbidden` unless the actor has one of ``roles``."""
        if self.role not in roles:
            raise Forbidden(f"{self.username} is {self.role}; this needs one of: {', '.join(roles)}")


class ServiceBase:
    """Holds the engine, sessions, index manager and (built on first use) the pipeline."""

    def __init__(
        self, settings: Settings, engine: Engine, clock: Clock = system_clock, pipeline: FacePipeline | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions: sessionmaker[Session] = db.session_factory(engine)
        self.indexes = IndexManager(settings.home / "index", self.sessions)
        self.clock = clock
        self._pipeline: FacePipeline | None = pipeline
        self._pipeline_lock = threading.Lock()

    @property
    def pipeline(self) -> FacePipeline:
        """The face pipeline, built on first use (models load in about a second)."""
        with self._pipeline_lock:
            if self._pipeline is None:
                from facedocket.vision.pipeline import FacePipeline

                self._pipeline = FacePipeline(self.settings.pipeline_options())
            return self._pipeline

    def close(self) -> None:
        """Write indexes with unsaved changes and release the database connections."""
        self.indexes.flush()
        self.engine.dispose()

    def transaction(self) -> db.TransactionContext:
        return db.transaction(self.sessions)

    # --- visibility rules, used by every area -------------------------------------------

    @staticmethod
    def _usable_gallery(session: Session, actor: Actor, gallery_id: int) -> Gallery:
        """A gallery the actor's agency owns or that is shared with it; else NotFound."""
        gallery = session.get(Gallery, gallery_id)
        if gallery is None or not ServiceBase._can_use(session, actor, gallery):
            raise NotFound(f"no gallery {gallery_id}; list the galleries to see the ones you can use")
        return gallery

    @staticmethod
    def _can_use(session: Session, actor: Actor, gallery: Gallery) -> bool:
        if gallery.agency_id == actor.agency_id:
            return True
        return session.get(GalleryShare, (gallery.id, actor.agency_id)) is not None

    @staticmethod
    def _owned_gallery(session: Session, actor: Actor, gallery_id: int) -> Gallery:
        """A gallery the actor's agency owns; a shared one may be searched, not changed."""
        gallery = ServiceBase._usable_gallery(session, actor, gallery_id)
        if gallery.agency_id != actor.agency_id:
            raise Forbidden(
                f"gallery {gallery_id} is shared with your agency, not owned by it; only its owner can change it"
            )
        return gallery

    @staticmethod
    def _subject(session: Session, actor: Actor, subject_id: int) -> Subject:
        subject = session.get(Subject, subject_id)
        if subject is None:
            raise NotFound(f"no subject {subject_id}")
        try:
            ServiceBase._usable_gallery(session, actor, subject.gallery_id)
        except NotFound:
            raise NotFound(f"no subject {subject_id}") from None
        return subject

    @staticmethod
    def _agency(session: Session, agency_id: int) -> Agency:
        agency = session.get(Agency, agency_id)
        if agency is None:
            raise NotFound(f"no agency {agency_id}")
        return agency
