"""Galleries, sharing, subjects, and deleting a subject everywhere at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facedocket.errors import Conflict, InvalidInput, NotFound
from facedocket.matching.index import KINDS
from facedocket.service.audit import AuditMixin
from facedocket.service.base import Actor
from facedocket.store.tables import Gallery, GalleryShare, Subject, TemplateRow
from facedocket.vision.models import TEMPLATE_MODEL_ID

GALLERY_ADMINS = ("admin", "supervisor")


@dataclass(frozen=True)
class GalleryInfo:
    id: int
    name: str
    source: str
    purpose: str
    agency_id: int
    model_id: str
    index_kind: str
    subjects: int
    templates: int
    shared_with: tuple[int, ...]
    owned: bool


@dataclass(frozen=True)
class SubjectInfo:
    id: int
    gallery_id: int
    reference: str
    sex: str | None
    birth_year: int | None
    attributes: dict[str, Any]
    templates: int


class GalleriesMixin(AuditMixin):
    def create_gallery(
        self, actor: Actor, name: str, source: str, purpose: str, index_kind: str = "auto"
    ) -> GalleryInfo:
        """A new, empty gallery owned by the actor's agency. Source and purpose are required:
        they say where the photos come from and what they may be searched for."""
        actor.require(*GALLERY_ADMINS)
        if index_kind not in ("auto", *KINDS):
            raise InvalidInput(f"index kind must be auto, {' or '.join(KINDS)}")
        fields = {"name": name, "source": source, "purpose": purpose}
        for key, value in fields.items():
            if not (value or "").strip():
                raise InvalidInput(f"a gallery needs a {key}; pass --{key}")
        with self.transaction() as session:
            gallery = Gallery(
                agency_id=actor.agency_id,
                name=name.strip(),
                source=source.strip(),
                purpose=purpose.strip(),
                model_id=TEMPLATE_MODEL_ID,
                index_kind=index_kind,
                created=self.clock(),
            )
            session.add(gallery)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"your agency already has a gallery named {name!r}") from None
            self._audit(session, actor, "gallery.created", "gallery", gallery.id,
                        {"name": gallery.name, "source": gallery.source, "purpose": gallery.purpose})  # fmt: skip
            return self._gallery_info(session, actor, gallery)

    def _gallery_info(self, session: Session, actor: Actor, gallery: Gallery) -> GalleryInfo:
        subjects = session.scalar(select(func.count()).where(Subject.gallery_id == gallery.id)) or 0
        templates = session.scalar(select(func.count()).where(TemplateRow.gallery_id == gallery.id)) or 0
        owned = gallery.agency_id == actor.agency_id
        shares = (
            tuple(session.scalars(select(GalleryShare.agency_id).where(GalleryShare.gallery_id == gallery.id)))
            if owned
            else ()
        )
        return GalleryInfo(
            gallery.id, gallery.name, gallery.source, gallery.purpose, gallery.agency_id,
            gallery.model_id, gallery.index_kind, subjects, templates, shares, owned,
        )  # fmt: skip

    def list_galleries(self, actor: Actor) -> list[GalleryInfo]:
        """Galleries the actor's agency owns or may search."""
        with self.sessions() as session:
            shared = select(GalleryShare.gallery_id).where(GalleryShare.agency_id == actor.agency_id)
            query = select(Gallery).where((Gallery.agency_id == actor.agency_id) | Gallery.id.in_(shared))
            return [self._gallery_info(session, actor, g) for g in session.scalars(query.order_by(Gallery.id))]

    def get_gallery(self, actor: Actor, gallery_id: int) -> GalleryInfo:
        with self.sessions() as session:
            return self._gallery_info(session, actor, self._usable_gallery(session, actor, gallery_id))

    def gallery_by_name(self, actor: Actor, name: str) -> GalleryInfo:
        """A gallery of the actor's agency by name (or a usable one by numeric id)."""
        if name.isdigit():
            return self.get_gallery(actor, int(name))
        with self.sessions() as session:
            gallery = session.scalar(select(Gallery).where(Gallery.agency_id == actor.agency_id, Gallery.name == name))
            if gallery is None:
                raise NotFound(f"no gallery named {name!r} in your agency; list the galleries to see them")
            return self._gallery_info(session, actor, gallery)

    def share_gallery(self, actor: Actor, gallery_id: int, agency_id: int, shared: bool = True) -> GalleryInfo:
        """Let another agency search this gallery (or stop it)."""
        actor.require(*GALLERY_ADMINS)
        with self.transaction() as session:
            gallery = self._owned_gallery(session, actor, gallery_id)
            self._agency(session, agency_id)
            if agency_id == actor.agency_id:
                raise InvalidInput("a gallery is always usable by the agency that owns it")
            existing = session.get(GalleryShare, (gallery_id, agency_id))
            if shared and existing is None:
                session.add(GalleryShare(gallery_id=gallery_id, agency_id=agency_id, created=self.clock()))
            if not shared and existing is not None:
                session.delete(existing)
            session.flush()
            self._audit(session, actor, "gallery.shared" if shared else "gallery.unshared", "gallery", gallery_id,
                        {"agency_id": agency_id})  # fmt: skip
            return self._gallery_info(session, actor, gallery)

    def list_subjects(self, actor: Actor, gallery_id: int, offset: int = 0, limit: int = 100) -> list[SubjectInfo]:
        with self.sessions() as session:
            self._usable_gallery(session, actor, gallery_id)
            counts = (
                select(TemplateRow.subject_id, func.count().label("n"))
                .where(TemplateRow.gallery_id == gallery_id)
                .group_by(TemplateRow.subject_id)
                .subquery()
            )
            rows = session.execute(
                select(Subject, counts.c.n)
                .outerjoin(counts, counts.c.subject_id == Subject.id)
                .where(Subject.gallery_id == gallery_id)
                .order_by(Subject.id)
                .offset(max(0, offset))
                .limit(max(1, min(limit, 1000)))
            ).all()
            return [_subject_info(s, n or 0) for s, n in rows]

    def get_subject(self, actor: Actor, subject_id: int) -> SubjectInfo:
        with self.sessions() as session:
            subject = self._subject(session, actor, subject_id)
            n = session.scalar(select(func.count()).where(TemplateRow.subject_id == subject.id)) or 0
            return _subject_info(subject, n)

    def delete_subject(self, actor: Actor, subject_id: int) -> int:
        """Delete a subject and its templates from the database and the index, in one
        operation. Past searches keep their candidate rows with the subject removed.
        Returns the number of templates deleted."""
        actor.require(*GALLERY_ADMINS)
        with self.transaction() as session:
            subject = self._subject(session, actor, subject_id)
            gallery = self._owned_gallery(session, actor, subject.gallery_id)
            ids = np.array(
                session.scalars(select(TemplateRow.id).where(TemplateRow.subject_id == subject_id)).all(),
                dtype=np.int64,
            )
            session.query(TemplateRow).filter(TemplateRow.subject_id == subject_id).delete()
            session.delete(subject)
            generation = bump_generation(session, gallery.id)
            self._audit(session, actor, "subject.deleted", "subject", subject_id,
                        {"gallery_id": gallery.id, "templates": int(ids.size)})  # fmt: skip
        self.indexes.applied(gallery.id, generation, removed=ids)
        self.indexes.get(gallery.id)
        self.indexes.save_if_due(gallery.id)
        return int(ids.size)

    def rebuild_index(self, actor: Actor, gallery_id: int) -> int:
        """Rebuild a gallery's index from the database; returns the number of templates."""
        actor.require(*GALLERY_ADMINS, "examiner")
        with self.sessions() as session:
            self._owned_gallery(session, actor, gallery_id)
        return self.indexes.rebuild(gallery_id)


def bump_generation(session: Session, gallery_id: int) -> int:
    """Increment the gallery's generation inside the caller's transaction; returns it."""
    session.execute(update(Gallery).where(Gallery.id == gallery_id).values(generation=Gallery.generation + 1))
    generation = session.scalar(select(Gallery.generation).where(Gallery.id == gallery_id))
    return int(generation or 0)


def _subject_info(subject: Subject, templates: int) -> SubjectInfo:
    return SubjectInfo(
        subject.id, subject.gallery_id, subject.reference, subject.sex, subject.birth_year,
        dict(subject.attributes or {}), templates,
    )  # fmt: skip
