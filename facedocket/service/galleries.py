"""Galleries, sharing, subjects, and deleting a subject everywhere at once.

A gallery belongs to one agency; another agency may search it only once it is shared with
it, and never changes it. A gallery has one template model, recorded on it and on every
template: new galleries get the measured default (SFace), galleries made before keep dlib's
until they are re-embedded (:mod:`facedocket.service.reembedding`). Subject records (with
their recorded sex and birth year) are read only by the roles the permission table allows,
and every read of them is recorded.

A gallery keeps each subject's enrolment photo and aligned face crop (encrypted, for
examiners to compare candidates with) unless its ``keep_photos`` setting is off or the
agency's policy profile forbids it (``retention.keep_enrolment_photos``); turning the setting
off deletes the photos it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facedocket.errors import Conflict, Forbidden, IndexFileNotWritten, InvalidInput, NotFound, PolicyDenied
from facedocket.governance.permissions import Actor, permits, require
from facedocket.governance.policy import PolicyProfile
from facedocket.governance.retention import (
    PHOTO_RULE,
    check_period,
    enrolment_photos_note,
    photo_refusal,
    photos_allowed,
    photos_kept,
)
from facedocket.matching.index import KINDS
from facedocket.service.context import Area
from facedocket.service.indexes import bump
from facedocket.service.inputs import birth_year as checked_birth_year
from facedocket.service.inputs import text
from facedocket.service.policy import policy_of
from facedocket.store.queries import accounts as account_queries
from facedocket.store.queries import galleries as queries
from facedocket.store.queries import oversight as oversight_queries
from facedocket.store.queries import photos as photo_queries
from facedocket.store.queries import reembedding as reembed_queries
from facedocket.store.tables import Gallery, GalleryShare, Subject
from facedocket.vision.models import DEFAULT_MODEL_ID, WATCHLIST_MODEL_ID
from facedocket.vocab import WATCHLIST_PURPOSE

MAX_PAGE = 1000


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
    keep_photos: bool = True
    """The gallery's setting: keep enrolment photos."""
    photos_kept: bool = True
    """Whether enrolment keeps photos now: the setting, unless the policy profile forbids it."""
    photos_note: str = ""
    """What is kept of enrolment photos here, in one sentence (the one truth)."""


@dataclass(frozen=True)
class SubjectInfo:
    id: int
    gallery_id: int
    reference: str
    sex: str | None
    birth_year: int | None
    attributes: dict[str, Any]
    templates: int
    photos: tuple[tuple[int, str], ...] = ()
    """(file id, kind) of the enrolment photos kept of the subject, for readers allowed to see them."""


def _profile(session: Session, agency_id: int) -> PolicyProfile | None:
    active = policy_of(session, agency_id)
    return active.profile if active else None


def _in_gallery(session: Session, subject_id: int, gallery_id: int) -> bool:
    subject = queries.subject(session, subject_id)
    return subject is not None and subject.gallery_id == gallery_id


def usable_gallery(session: Session, actor: Actor, gallery_id: int) -> Gallery:
    """A gallery the actor's agency owns or that is shared with it; else NotFound."""
    gallery = queries.gallery(session, gallery_id)
    if gallery is None or not (gallery.agency_id == actor.agency_id
                               or queries.shared_with(session, gallery.id, actor.agency_id)):  # fmt: skip
        raise NotFound(f"no gallery {gallery_id}; list the galleries to see the ones you can use")
    return gallery


def owned_gallery(session: Session, actor: Actor, gallery_id: int) -> Gallery:
    """A gallery the actor's agency owns; a shared one may be searched, not changed."""
    gallery = usable_gallery(session, actor, gallery_id)
    if gallery.agency_id != actor.agency_id:
        raise Forbidden(
            f"gallery {gallery_id} is shared with your agency, not owned by it; only its owner can change it"
        )
    return gallery


def visible_subject(session: Session, actor: Actor, subject_id: int) -> Subject:
    """A subject of a gallery the actor's agency may use; else NotFound."""
    subject = queries.subject(session, subject_id)
    if subject is None:
        raise NotFound(f"no subject {subject_id}")
    try:
        usable_gallery(session, actor, subject.gallery_id)
    except NotFound:
        raise NotFound(f"no subject {subject_id}") from None
    return subject


def _subject_info(subject: Subject, templates: int, photos: list[tuple[int, str]] | None = None) -> SubjectInfo:
    return SubjectInfo(subject.id, subject.gallery_id, subject.reference, subject.sex, subject.birth_year,
                       dict(subject.attributes or {}), templates, tuple(photos or ()))  # fmt: skip


class Galleries(Area):
    """Galleries, shares and subjects (see the module docstring)."""

    def create_gallery(self, actor: Actor, name: str, source: str, purpose: str, index_kind: str = "auto",
                       model_id: str | None = None, keep_photos: bool | None = None) -> GalleryInfo:  # fmt: skip
        """A new, empty gallery owned by the actor's agency. Source and purpose are required:
        they say where the photos come from and what they may be searched for. Its templates
        are made with ``model_id``, a template model of this installation (default
        :data:`~facedocket.vision.models.DEFAULT_MODEL_ID`, the measured best; a watchlist's
        is :data:`~facedocket.vision.models.WATCHLIST_MODEL_ID`), for good: changing it means
        re-embedding the gallery. ``keep_photos`` (default: whatever the policy profile
        allows) keeps enrolment photos for review; True under a profile that forbids it is
        refused, naming the rule."""
        require(actor, "gallery.create")
        if index_kind not in ("auto", *KINDS):
            raise InvalidInput(f"index kind must be auto, {' or '.join(KINDS)}")
        values = {key: text(value, f"gallery {key}") for key, value in
                  (("name", name), ("source", source), ("purpose", purpose))}  # fmt: skip
        for key, value in values.items():
            if not value:
                raise InvalidInput(f"a gallery needs a {key}; pass --{key}")
        model = model_id or (WATCHLIST_MODEL_ID if values["purpose"] == WATCHLIST_PURPOSE else DEFAULT_MODEL_ID)
        if values["purpose"] == WATCHLIST_PURPOSE and model != WATCHLIST_MODEL_ID:
            raise InvalidInput(
                f"watchlists use {WATCHLIST_MODEL_ID}: the video path's thresholds were measured with it"
            )
        self.ctx.models.choose(model)  # a template model this installation knows, its files checked
        with self.ctx.write() as session:
            profile = _profile(session, actor.agency_id)
            keep = photos_allowed(profile) if keep_photos is None else keep_photos
            refused = photo_refusal(profile) if keep else None
            if refused:
                raise PolicyDenied([(PHOTO_RULE, refused)])
            gallery = Gallery(agency_id=actor.agency_id, model_id=model, index_kind=index_kind,
                              keep_photos=keep, created=self.clock(), **values)  # fmt: skip
            session.add(gallery)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"your agency already has a gallery named {values['name']!r}") from None
            self.ctx.audit(session, actor, "gallery.created", "gallery", gallery.id,
                           values | {"model_id": model, "keep_photos": keep})  # fmt: skip
            return self._info(session, actor, gallery)

    def _info(self, session: Session, actor: Actor, gallery: Gallery) -> GalleryInfo:
        subjects, templates = queries.counts(session, gallery.id)
        owned = gallery.agency_id == actor.agency_id
        shares = queries.shares(session, gallery.id) if owned else ()
        profile = _profile(session, gallery.agency_id)
        return GalleryInfo(gallery.id, gallery.name, gallery.source, gallery.purpose, gallery.agency_id,
                           gallery.model_id, gallery.index_kind, subjects, templates, shares, owned,
                           gallery.keep_photos, photos_kept(profile, gallery.keep_photos),
                           enrolment_photos_note(profile, gallery.keep_photos and photos_allowed(profile)))  # fmt: skip

    def set_keep_photos(self, actor: Actor, gallery_id: int, keep: bool) -> GalleryInfo:
        """Keep enrolment photos in a gallery from now on, or stop: stopping deletes the photos
        and crops it holds (a legal hold on a subject refuses it). Keeping them under a policy
        profile that forbids it is refused, naming the rule."""
        require(actor, "gallery.manage")
        with self.ctx.write() as session:
            gallery = owned_gallery(session, actor, gallery_id)
            refused = photo_refusal(_profile(session, actor.agency_id)) if keep else None
            if refused:
                raise PolicyDenied([(PHOTO_RULE, refused)])
            deleted = 0
            if not keep:
                held = oversight_queries.held(session, "subject", actor.agency_id)
                holding = sorted(s for s in held if _in_gallery(session, s, gallery_id))
                if holding and photo_queries.count_of_gallery(session, gallery_id):
                    raise Conflict(f"subjects {', '.join(map(str, holding))} of this gallery are under a legal hold; "
                                   "release the holds before deleting the gallery's photos")  # fmt: skip
                deleted = photo_queries.delete_of_gallery(session, gallery_id)
            gallery.keep_photos = keep
            action = "gallery.photos_kept" if keep else "gallery.photos_not_kept"
            self.ctx.audit(session, actor, action, "gallery", gallery_id, {"photos_deleted": deleted})
            return self._info(session, actor, gallery)

    def list_galleries(self, actor: Actor) -> list[GalleryInfo]:
        """Galleries the actor's agency owns or may search."""
        require(actor, "gallery.read")
        with self.ctx.read() as session:
            return [self._info(session, actor, g) for g in queries.usable(session, actor.agency_id)]

    def get_gallery(self, actor: Actor, gallery_id: int) -> GalleryInfo:
        require(actor, "gallery.read")
        with self.ctx.read() as session:
            return self._info(session, actor, usable_gallery(session, actor, gallery_id))

    def gallery_by_name(self, actor: Actor, name: str) -> GalleryInfo:
        """A gallery of the actor's agency by name (or a usable one by numeric id)."""
        if name.isdigit():
            return self.get_gallery(actor, int(name))
        require(actor, "gallery.read")
        with self.ctx.read() as session:
            gallery = queries.by_name(session, actor.agency_id, name)
            if gallery is None:
                raise NotFound(f"no gallery named {name!r} in your agency; list the galleries to see them")
            return self._info(session, actor, gallery)

    def share_gallery(self, actor: Actor, gallery_id: int, agency_id: int, shared: bool = True) -> GalleryInfo:
        """Let another agency search this gallery (or stop it)."""
        require(actor, "gallery.manage")
        with self.ctx.write() as session:
            gallery = owned_gallery(session, actor, gallery_id)
            if account_queries.agency(session, agency_id) is None:
                raise NotFound(f"no agency {agency_id}")
            if agency_id == actor.agency_id:
                raise InvalidInput("a gallery is always usable by the agency that owns it")
            existing = queries.share(session, gallery_id, agency_id)
            if shared and existing is None:
                session.add(GalleryShare(gallery_id=gallery_id, agency_id=agency_id, created=self.clock()))
            if not shared and existing is not None:
                queries.unshare(session, gallery_id, agency_id)
            session.flush()
            self.ctx.audit(session, actor, "gallery.shared" if shared else "gallery.unshared", "gallery", gallery_id,
                           {"agency_id": agency_id})  # fmt: skip
            return self._info(session, actor, gallery)

    def list_subjects(self, actor: Actor, gallery_id: int, offset: int = 0, limit: int = 100) -> list[SubjectInfo]:
        """One page of a gallery's subjects with their recorded attributes; the read is recorded."""
        with self.ctx.write() as session:
            gallery = usable_gallery(session, actor, gallery_id)
            require(actor, "subject.read", actor.side(gallery.agency_id))
            if not 0 <= offset <= 2**62:
                raise InvalidInput("offset must be 0 or more")
            page = queries.subjects_page(session, gallery_id, offset, max(1, min(limit, MAX_PAGE)))
            photos = (photo_queries.descriptions(session, [s.id for s, _ in page])
                      if permits(actor, "photo.read", actor.side(gallery.agency_id)) else {})  # fmt: skip
            self.ctx.audit(session, actor, "gallery.subjects_listed", "gallery", gallery_id,
                           {"offset": offset, "count": len(page)})  # fmt: skip
            return [_subject_info(s, n, photos.get(s.id)) for s, n in page]

    def get_subject(self, actor: Actor, subject_id: int) -> SubjectInfo:
        """One subject's record; the read is recorded."""
        with self.ctx.write() as session:
            subject = visible_subject(session, actor, subject_id)
            gallery = usable_gallery(session, actor, subject.gallery_id)
            require(actor, "subject.read", actor.side(gallery.agency_id))
            info = _subject_info(subject, queries.subject_template_count(session, subject.id))
            self.ctx.audit(session, actor, "subject.viewed", "subject", subject.id, {"gallery_id": gallery.id})
            return info

    def delete_subject(self, actor: Actor, subject_id: int) -> int:
        """Delete a subject and its templates from the database and the index, in one
        operation. Past searches keep their candidate rows with the subject removed.
        Returns the number of templates deleted."""
        require(actor, "subject.delete")
        with self.ctx.write() as session:
            subject = visible_subject(session, actor, subject_id)
            gallery = owned_gallery(session, actor, subject.gallery_id)
            ids = np.array(queries.subject_template_ids(session, subject_id), dtype=np.int64)
            reembed_queries.delete_staged_of_subject(session, subject_id)
            queries.delete_subject(session, subject_id)
            generation = bump(session, gallery.id)
            self.ctx.audit(session, actor, "subject.deleted", "subject", subject_id,
                           {"gallery_id": gallery.id, "templates": int(ids.size)})  # fmt: skip
        self.ctx.indexes.applied(gallery.id, generation, removed=ids)
        self.ctx.indexes.get(gallery.id)
        self.ctx.indexes.save_if_due(gallery.id)
        return int(ids.size)

    def rebuild_index(self, actor: Actor, gallery_id: int) -> int:
        """Rebuild a gallery's index from the database; returns the number of templates. The
        rebuild is recorded."""
        require(actor, "index.rebuild")
        with self.ctx.read() as session:
            owned_gallery(session, actor, gallery_id)
        size = self.ctx.indexes.rebuild(gallery_id)
        failure = self.ctx.indexes.take_failure(gallery_id)
        self.ctx.record(actor, "index.rebuilt", "gallery", gallery_id,
                        {"templates": size, "file_written": failure is None})  # fmt: skip
        if failure is not None:
            raise IndexFileNotWritten(f"the index was rebuilt in memory with {size} templates, but {failure}")
        return size

    def set_gallery_retention(self, actor: Actor, gallery_id: int, days: int | None) -> None:
        """Keep this gallery's templates ``days`` days (``None``: the policy profile's period)."""
        require(actor, "gallery.manage")
        days = check_period(days)
        with self.ctx.write() as session:
            gallery = owned_gallery(session, actor, gallery_id)
            gallery.retention_days = days
            self.ctx.audit(session, actor, "gallery.retention_set", "gallery", gallery_id, {"days": days})

    def require_consent(self, actor: Actor, gallery_id: int, required: bool = True) -> None:
        """Make enrolment in a gallery need a live consent for each subject."""
        require(actor, "gallery.manage")
        with self.ctx.write() as session:
            gallery = owned_gallery(session, actor, gallery_id)
            lacking = oversight_queries.without_consent(session, gallery_id, self.clock()) if required else []
            if lacking:
                raise Conflict(
                    f"{len(lacking)} subject(s) of this gallery hold templates without a live consent; record "
                    "their consent or erase them first (the retention run would erase them)"
                )
            gallery.requires_consent = required
            action = "gallery.consent_required" if required else "gallery.consent_not_required"
            self.ctx.audit(session, actor, action, "gallery", gallery_id, {})

    def create_subject(self, actor: Actor, gallery_id: int, reference: str, sex: str | None = None,
                       birth_year: int | None = None) -> int:  # fmt: skip
        """A subject without templates yet (for galleries that need consent before enrolment)."""
        require(actor, "subject.create")
        reference = text(reference, "subject reference", required=True)
        sex = text(sex, "sex") or None if sex is not None else None
        birth_year = checked_birth_year(birth_year)
        with self.ctx.write() as session:
            owned_gallery(session, actor, gallery_id)
            if queries.subject_by_reference(session, gallery_id, reference) is not None:
                raise Conflict(f"subject {reference!r} exists in gallery {gallery_id}")
            subject = Subject(gallery_id=gallery_id, reference=reference, sex=sex, birth_year=birth_year,
                              attributes={}, created=self.clock(), last_interaction=self.clock())  # fmt: skip
            session.add(subject)
            session.flush()
            self.ctx.audit(session, actor, "subject.created", "subject", subject.id, {"gallery_id": gallery_id})
            return subject.id
