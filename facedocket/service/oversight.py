"""Retention, legal holds, erasure, access and consent.

Retention periods come from the owning agency's active policy profile (a gallery may set
its own template period); :mod:`facedocket.governance.retention` decides what is due.
``retention_run`` deletes what has expired — probe photos, candidate lists, templates (from
the database and the index files), subjects past the "last interaction" limit (BIPA: at
most three years), subjects of consent galleries whose consent ended, and on the video
side expired watchlist entries' templates, unconfirmed alerts and old incident records with
their face crops (:mod:`.video_retention`) — and skips
whatever a legal hold on its case or subject covers. Each agency is one transaction: one
agency's failure is recorded (``retention.failed``) and never stops another's run. The audit
log is append-only: its period is a minimum and nothing purges it. A dry run lists what
would go and changes nothing.

Enrolment photos (a subject's source photo and face crop, kept encrypted when the gallery
keeps photos) follow the profile's ``enrolment_images`` period, or go at the next run when
the profile forbids keeping them (``retention.keep_enrolment_photos``); a legal hold on the
subject keeps them.

Erasure removes a subject's templates, index entries, enrolment photos, consent records and
every candidate row that names the subject; the audit log records that an erasure happened
(the subject's reference only as a keyed hash, :func:`reference_hmac`), and the caller gets a
certificate listing each photo deleted (kind and SHA-256). An access export carries the photos themselves (base64).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from facedocket.config import Settings
from facedocket.crypto import keyed_hash
from facedocket.errors import Conflict, FaceDocketError, InvalidInput, NotFound
from facedocket.governance import audit as chain
from facedocket.governance import retention as rules
from facedocket.governance.permissions import Actor, require
from facedocket.governance.policy import PolicyProfile
from facedocket.governance.retention import enrolment_photos_note, photo_days
from facedocket.service.context import SYSTEM, Area
from facedocket.service.galleries import owned_gallery, visible_subject
from facedocket.service.indexes import bump
from facedocket.service.inputs import text
from facedocket.service.policy import policy_of
from facedocket.service.video_retention import video_due
from facedocket.store.queries import accounts as account_queries
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.queries import oversight as queries
from facedocket.store.queries import photos as photo_queries
from facedocket.store.queries import requests as request_queries
from facedocket.store.tables import Consent, Erasure, LegalHold, StoredImage
from facedocket.vocab import HOLD_TYPES

log = logging.getLogger("facedocket.retention")


@dataclass(frozen=True)
class HoldInfo:
    id: int
    agency_id: int
    object_type: str
    object_id: int
    reason: str
    placed_by: int
    placed: datetime
    released: datetime | None


@dataclass(frozen=True)
class RetentionReport:
    """What a retention run deleted (or, in a dry run, would delete), per record type; what
    legal holds kept; and the agencies whose run failed (with why)."""

    dry_run: bool
    now: datetime
    deleted: dict[str, list[int]] = field(default_factory=dict)
    held: dict[str, list[int]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "now": self.now.isoformat(),
            "deleted": {k: sorted(v) for k, v in self.deleted.items()},
            "held": {k: sorted(v) for k, v in self.held.items()},
            "counts": {k: len(v) for k, v in self.deleted.items()},
            "failed": {str(k): v for k, v in self.failed.items()},
        }


@dataclass(frozen=True)
class Document:
    """A record handed out as JSON (an erasure certificate, a subject access export)."""

    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.data)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def _hold_info(h: LegalHold) -> HoldInfo:
    return HoldInfo(h.id, h.agency_id, h.object_type, h.object_id, h.reason, h.placed_by, h.placed, h.released)


ERASED_REFERENCE = "erasure-reference"
"""The purpose the key of erased subjects' references is derived for (from the server secret)."""


def reference_hmac(settings: Settings, reference: str) -> str:
    """The keyed hash an erasure keeps of a subject's reference: HMAC-SHA256 under a key
    derived from ``secret_key``. Whoever holds the secret can tell whether a given reference
    was erased; a list of names alone cannot (an unsalted SHA-256 could)."""
    return keyed_hash(settings.session_secret(), ERASED_REFERENCE, reference)


@dataclass
class _Run:
    """One agency's part of a retention run, built up before it is written."""

    deleted: dict[str, list[int]] = field(default_factory=dict)
    held: dict[str, list[int]] = field(default_factory=dict)
    touched: dict[int, list[int]] = field(default_factory=dict)

    def add(self, record_type: str, due: rules.Due) -> None:
        self.deleted.setdefault(record_type, []).extend(due.deleted)
        self.held.setdefault(record_type, []).extend(due.held)


class Oversight(Area):
    """Legal holds, retention, erasure, access and consent (see the module docstring)."""

    # --- legal holds --------------------------------------------------------------------

    def place_hold(self, actor: Actor, object_type: str, object_id: int, reason: str) -> HoldInfo:
        """Hold a case (its requests' probes and candidates) or a subject (its templates)
        against retention purges and erasure."""
        require(actor, "hold.manage")
        if object_type not in HOLD_TYPES:
            raise InvalidInput(f"a legal hold is on one of: {', '.join(HOLD_TYPES)}")
        reason = text(reason, "reason")
        if not reason:
            raise InvalidInput("a legal hold needs a reason (the order or proceeding it serves)")
        with self.ctx.write() as session:
            if object_type == "case":
                case = request_queries.case(session, object_id)
                if case is None or case.agency_id != actor.agency_id:
                    raise NotFound(f"no case {object_id} in your agency")
            else:
                owned_gallery(session, actor, visible_subject(session, actor, object_id).gallery_id)
            hold = LegalHold(agency_id=actor.agency_id, object_type=object_type, object_id=object_id, reason=reason,
                             placed_by=actor.user_id, placed=self.clock())  # fmt: skip
            session.add(hold)
            session.flush()
            self.ctx.audit(session, actor, "hold.placed", "legal_hold", hold.id,
                           {"object_type": object_type, "object_id": object_id, "reason": hold.reason})  # fmt: skip
            return _hold_info(hold)

    def release_hold(self, actor: Actor, hold_id: int) -> HoldInfo:
        require(actor, "hold.manage")
        with self.ctx.write() as session:
            hold = queries.hold(session, hold_id)
            if hold is None or hold.agency_id != actor.agency_id:
                raise NotFound(f"no legal hold {hold_id} in your agency")
            if hold.released is not None:
                raise Conflict(f"legal hold {hold_id} was released already")
            hold.released, hold.released_by = self.clock(), actor.user_id
            self.ctx.audit(session, actor, "hold.released", "legal_hold", hold.id,
                           {"object_type": hold.object_type, "object_id": hold.object_id})  # fmt: skip
            return _hold_info(hold)

    def list_holds(self, actor: Actor, active_only: bool = True) -> list[HoldInfo]:
        require(actor, "hold.read")
        with self.ctx.read() as session:
            return [_hold_info(h) for h in queries.holds(session, actor.agency_id, active_only)]

    # --- retention ----------------------------------------------------------------------

    def retention_run(self, actor: Actor | None = None, dry_run: bool = False) -> RetentionReport:
        """Delete what has outlived its retention period (``actor`` None is the scheduled job,
        for every agency; otherwise an admin runs it for their agency, or for all when of the
        operator agency). Each agency is its own transaction; one that fails is reported and
        recorded, and the others go on."""
        if actor is not None:
            require(actor, "retention.run")
        now = self.clock()
        report = RetentionReport(dry_run, now)
        with self.ctx.read() as session:
            agencies = [a.id for a in account_queries.agencies(session)]
        for agency_id in agencies:
            if actor is not None and not actor.operator and agency_id != actor.agency_id:
                continue
            try:
                part = self._run_agency(actor, agency_id, now, dry_run)
            except (FaceDocketError, ArithmeticError, ValueError) as exc:
                report.failed[agency_id] = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("retention for agency %s failed: %s", agency_id, exc)
                self.ctx.record(actor or SYSTEM, "retention.failed", "agency", agency_id,
                                {"error": report.failed[agency_id]}, agency_id=agency_id)  # fmt: skip
                continue
            for record_type, ids in part.deleted.items():
                report.deleted.setdefault(record_type, []).extend(ids)
            for record_type, ids in part.held.items():
                report.held.setdefault(record_type, []).extend(ids)
        return report

    def _run_agency(self, actor: Actor | None, agency_id: int, now: datetime, dry_run: bool) -> _Run:
        part = _Run()
        with self.ctx.write() as session:
            active = policy_of(session, agency_id)
            if active is None:
                return part
            self._requests_due(session, agency_id, active.profile, now, part)
            self._subjects_due(session, agency_id, active.profile, now, part)
            video, touched = video_due(self.ctx, session, agency_id, active.profile, now)
            for record_type, due in video.items():
                part.add(record_type, due)
            for gallery_id, removed in touched.items():
                part.touched.setdefault(gallery_id, []).extend(removed)
            if dry_run:
                session.rollback()
                return part
            self._record_run(session, actor, agency_id, active.profile.name, part)
            generations = {g: bump(session, g) for g in part.touched}
        for gallery_id, removed in part.touched.items():
            self.ctx.indexes.applied(gallery_id, generations[gallery_id], removed=np.array(removed, dtype=np.int64))
            self.ctx.indexes.scrub(gallery_id)
        return part

    def _record_run(self, session: Session, actor: Actor | None, agency_id: int, profile: str, part: _Run) -> None:
        for kind, found in (("retention.purged", part.deleted), ("retention.held", part.held)):
            for record_type, ids in found.items():
                if ids:
                    self.ctx.audit(session, actor or SYSTEM, kind, "retention", record_type,
                                   {"record_type": record_type, "count": len(ids), "profile": profile},
                                   agency_id=agency_id)  # fmt: skip

    def _requests_due(self, session: Session, agency_id: int, profile: PolicyProfile, now: datetime,
                      part: _Run) -> None:  # fmt: skip
        held = queries.held(session, "case", agency_id)
        probes = queries.probes(session, agency_id)
        due = rules.due([(r, t, case) for r, t, case, _ in probes], now, profile.retention.probe_images, held)
        part.add("probe_images", due)
        queries.drop_probes(session, due.deleted)
        if due.deleted:
            self.ctx.probes.clear()  # their faces go from memory too (a dry run only costs recomputing them)
        due = rules.due(queries.candidate_rows(session, agency_id), now, profile.retention.candidate_lists, held)
        part.add("candidate_lists", due)
        queries.drop_candidates(session, due.deleted)

    def _subjects_due(self, session: Session, agency_id: int, profile: PolicyProfile, now: datetime,
                      part: _Run) -> None:  # fmt: skip
        held = queries.held(session, "subject", agency_id)
        for gallery in gallery_queries.owned(session, agency_id):
            days = rules.template_days(gallery.retention_days, profile.retention.templates)
            due = rules.due(queries.template_rows(session, gallery.id), now, days, held)
            part.add("templates", due)
            queries.drop_templates(session, due.deleted)
            if due.deleted:
                part.touched.setdefault(gallery.id, []).extend(due.deleted)
            photos = rules.due(photo_queries.enrolment_rows(session, gallery.id), now, photo_days(profile), held)
            part.add("enrolment_images", photos)
            photo_queries.delete_files(session, photos.deleted)
            subjects = rules.due(queries.subject_interactions(session, gallery.id), now,
                                 profile.retention.last_interaction_days, held)  # fmt: skip
            gone = set(subjects.deleted)
            kept = set(subjects.held)
            if gallery.requires_consent:
                for subject_id in queries.without_consent(session, gallery.id, now):
                    (kept if subject_id in held else gone).add(subject_id)
            part.add("subjects", rules.Due(sorted(gone), sorted(kept)))
            for subject_id in sorted(gone):
                removed, _counts = queries.erase_subject_rows(session, subject_id)
                if removed:
                    part.touched.setdefault(gallery.id, []).extend(removed)

    # --- erasure and access -------------------------------------------------------------

    def erase_subject(self, actor: Actor, subject_id: int, reason: str) -> Document:
        """Erase a subject everywhere (see the module docstring) and return the erasure
        certificate. A legal hold on the subject refuses it."""
        require(actor, "subject.erase")
        reason = text(reason, "reason")
        if not reason:
            raise InvalidInput("an erasure needs a reason (e.g. the data subject's request and its date)")
        with self.ctx.write() as session:
            subject = visible_subject(session, actor, subject_id)
            gallery = owned_gallery(session, actor, subject.gallery_id)
            if subject_id in queries.held(session, "subject"):
                raise Conflict(f"subject {subject_id} is under a legal hold; release the hold before erasing")
            reference, gallery_id = subject.reference, gallery.id
            photos = [
                {"kind": kind, "sha256": sha} for kind, sha in photo_queries.listed_of_subject(session, subject_id)
            ]
            removed, counts = queries.erase_subject_rows(session, subject_id)
            generation = bump(session, gallery_id)
            digest = reference_hmac(self.ctx.settings, reference)
            erasure = Erasure(agency_id=actor.agency_id, gallery_id=gallery_id, subject_id=subject_id,
                              reference_hash=f"hmac-sha256:{digest}", reason=reason, counts=counts,
                              requested_by=actor.user_id, created=self.clock())  # fmt: skip
            session.add(erasure)
            session.flush()
            event = self.ctx.audit(session, actor, "subject.erased", "subject", subject_id,
                                   {"erasure_id": erasure.id, "gallery_id": gallery_id,
                                    "reference_hmac": digest, "counts": counts,
                                    "reason": erasure.reason})  # fmt: skip
            certificate = {
                "certificate": "erasure", "erasure_id": erasure.id, "agency_id": actor.agency_id,
                "gallery_id": gallery_id, "subject_id": subject_id, "subject_reference": reference,
                "reference_hmac": digest, "erased": counts, "photos": photos,
                "reason": erasure.reason, "erased_by": actor.username, "time": chain.format_time(erasure.created),
                "audit_event": {"seq": event.seq, "hash": event.hash},
                "statement": "The subject's templates, index entries, enrolment photos and face crops (listed "
                "by SHA-256), consent records and every candidate entry naming the subject were deleted. The "
                "audit log keeps that the erasure happened, with the reference only as a keyed hash "
                "(HMAC-SHA256 under a key derived from the server's secret), which a list of names cannot confirm.",
                "warnings": [],
            }  # fmt: skip
        self.ctx.indexes.applied(gallery_id, generation, removed=np.array(removed, dtype=np.int64))
        self.ctx.indexes.scrub(gallery_id)
        if (failure := self.ctx.indexes.take_failure(gallery_id)) is not None:
            certificate["warnings"] = [f"the erasure is committed and the index in memory no longer holds the "
                                       f"subject, but {failure}"]  # fmt: skip
        return Document(certificate)

    def export_subject(self, actor: Actor, subject_id: int) -> Document:
        """Everything held about a subject (an access request): the record, its templates
        (with their vectors; also those an unfinished re-embedding made), its enrolment photos
        (base64), consents, candidate appearances and holds. Recorded."""
        require(actor, "subject.export")
        with self.ctx.write() as session:
            subject = visible_subject(session, actor, subject_id)
            gallery = owned_gallery(session, actor, subject.gallery_id)
            templates = queries.subject_templates(session, subject_id)
            appearances = queries.appearances(session, subject_id)
            photos = [
                _photo_dict(row, self.ctx.files.open(row)) for row in photo_queries.of_subject(session, subject_id)
            ]
            active = policy_of(session, gallery.agency_id)
            note = enrolment_photos_note(active.profile if active else None, gallery.keep_photos, len(photos))
            record = {
                "subject": {"id": subject.id, "reference": subject.reference, "gallery": gallery.name,
                            "gallery_source": gallery.source, "gallery_purpose": gallery.purpose, "sex": subject.sex,
                            "birth_year": subject.birth_year, "attributes": subject.attributes,
                            "created": subject.created.isoformat(),
                            "last_interaction": subject.last_interaction.isoformat()
                            if subject.last_interaction else None},
                "templates": [{"id": t.id, "model_id": t.model_id, "quality": t.quality,
                               "source_image_sha256": t.source_sha256, "box": t.box, "created": t.created.isoformat(),
                               "vector": np.frombuffer(t.vector, dtype=np.float32).round(7).tolist()}
                              for t in templates],
                "reembedding_templates": [{"model_id": model, "quality": row.quality, "outcome": row.outcome,
                                           "source_image_sha256": row.source_sha256, "box": row.box,
                                           "created": row.created.isoformat(),
                                           "vector": np.frombuffer(row.vector, dtype=np.float32).round(7).tolist()
                                           if row.vector is not None else None}
                                          for row, model in queries.staged_of_subject(session, subject_id)],
                "candidate_appearances": [{"search_id": c.search_id, "request_id": request_id, "rank": c.rank,
                                           "score": round(c.score, 6), "released": c.released,
                                           "time": created.isoformat()} for c, request_id, created in appearances],
                "consents": [_consent_dict(c) for c in queries.consents(session, subject_id)],
                "legal_holds": [{"id": h.id, "reason": h.reason, "placed": h.placed.isoformat(),
                                 "released": h.released.isoformat() if h.released else None}
                                for h in queries.subject_holds(session, subject_id)],
                "images_held": len(photos),
                "photos": photos,
                "note": note,
            }  # fmt: skip
            self.ctx.audit(session, actor, "subject.exported", "subject", subject_id,
                           {"templates": len(templates), "appearances": len(appearances),
                            "photos": len(photos)})  # fmt: skip
            return Document(record)

    # --- consent ------------------------------------------------------------------------

    def record_consent(self, actor: Actor, subject_id: int, given_by: str, purpose: str, given: datetime,
                       expires: datetime | None = None) -> int:  # fmt: skip
        """Record who consented, when, to what purpose, until when."""
        require(actor, "consent.record")
        given_by, purpose = text(given_by, "consent given by"), text(purpose, "consent purpose")
        if not given_by or not purpose:
            raise InvalidInput("consent needs who gave it and for what purpose")
        if expires is not None and expires <= given:
            raise InvalidInput("consent must expire after it is given")
        with self.ctx.write() as session:
            subject = visible_subject(session, actor, subject_id)
            owned_gallery(session, actor, subject.gallery_id)
            consent = Consent(subject_id=subject_id, given_by=given_by, purpose=purpose, given=given, expires=expires,
                              recorded_by=actor.user_id, created=self.clock())  # fmt: skip
            session.add(consent)
            session.flush()
            self.ctx.audit(session, actor, "consent.recorded", "subject", subject_id,
                           {"consent_id": consent.id, "purpose": consent.purpose,
                            "expires": expires.isoformat() if expires else None})  # fmt: skip
            return consent.id

    def withdraw_consent(self, actor: Actor, subject_id: int) -> int:
        """Withdraw every live consent of a subject; the next retention run erases the subject
        from a gallery that needs consent. Returns how many were withdrawn."""
        require(actor, "consent.record")
        with self.ctx.write() as session:
            subject = visible_subject(session, actor, subject_id)
            owned_gallery(session, actor, subject.gallery_id)
            count = queries.withdraw(session, subject_id, self.clock())
            self.ctx.audit(session, actor, "consent.withdrawn", "subject", subject_id, {"count": count})
            return count


def _photo_dict(row: StoredImage, data: bytes) -> dict[str, Any]:
    return {"kind": row.kind, "sha256": row.sha256, "media_type": row.media_type, "template_id": row.template_id,
            "created": row.created.isoformat(), "data_base64": base64.b64encode(data).decode("ascii")}  # fmt: skip


def _consent_dict(c: Consent) -> dict[str, Any]:
    return {"given_by": c.given_by, "purpose": c.purpose, "given": c.given.isoformat(),
            "expires": c.expires.isoformat() if c.expires else None,
            "withdrawn": c.withdrawn.isoformat() if c.withdrawn else None}  # fmt: skip
