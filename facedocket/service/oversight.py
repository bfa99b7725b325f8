"""Retention, legal holds, erasure, access, consent, and evaluations kept on record.

Retention periods come from the owning agency's active policy profile (a gallery may set
its own template period). ``retention_run`` deletes what has expired — probe photos,
candidate lists, templates (from the database and the index files), subjects past the
"last interaction" limit (BIPA: at most three years) and subjects of consent galleries
whose consent ended — and skips whatever a legal hold on its case or subject covers. The
audit log is append-only: its period is a minimum and nothing purges it. A dry run lists
what would go and changes nothing.

Erasure removes a subject's templates, index entries, consent records and every candidate
row that names the subject; the audit log records that an erasure happened (the subject's
reference only as a SHA-256), and the caller gets a certificate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from facedocket import audit
from facedocket.errors import Conflict, InvalidInput, NotFound
from facedocket.policy.schema import PolicyProfile
from facedocket.service.audit import SYSTEM
from facedocket.service.base import Actor
from facedocket.service.galleries import bump_generation
from facedocket.service.requests import RequestsMixin
from facedocket.store.tables import (
    Agency,
    Calibration,
    Candidate,
    Case,
    Consent,
    Erasure,
    EvaluationRun,
    Gallery,
    LegalHold,
    Request,
    Search,
    StoredImage,
    Subject,
    TemplateRow,
)

HOLDERS = ("supervisor", "admin")
ERASERS = ("supervisor", "admin")
HOLD_TYPES = ("case", "subject")


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


@dataclass
class RetentionReport:
    """What a retention run deleted (or, in a dry run, would delete), per record type, and
    what legal holds kept."""

    dry_run: bool
    now: datetime
    deleted: dict[str, list[int]] = field(default_factory=dict)
    held: dict[str, list[int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "now": self.now.isoformat(),
            "deleted": {k: sorted(v) for k, v in self.deleted.items()},
            "held": {k: sorted(v) for k, v in self.held.items()},
            "counts": {k: len(v) for k, v in self.deleted.items()},
        }


def _hold_info(h: LegalHold) -> HoldInfo:
    return HoldInfo(h.id, h.agency_id, h.object_type, h.object_id, h.reason, h.placed_by, h.placed, h.released)


def reference_hash(reference: str) -> str:
    return hashlib.sha256(reference.encode("utf-8")).hexdigest()


class OversightMixin(RequestsMixin):
    # --- legal holds --------------------------------------------------------------------

    def place_hold(self, actor: Actor, object_type: str, object_id: int, reason: str) -> HoldInfo:
        """Hold a case (its requests' probes and candidates) or a subject (its templates)
        against retention purges and erasure."""
        actor.require(*HOLDERS)
        if object_type not in HOLD_TYPES:
            raise InvalidInput(f"a legal hold is on one of: {', '.join(HOLD_TYPES)}")
        if not (reason or "").strip():
            raise InvalidInput("a legal hold needs a reason (the order or proceeding it serves)")
        with self.transaction() as session:
            if object_type == "case":
                case = session.get(Case, object_id)
                if case is None or case.agency_id != actor.agency_id:
                    raise NotFound(f"no case {object_id} in your agency")
            else:
                self._owned_gallery(session, actor, self._subject(session, actor, object_id).gallery_id)
            hold = LegalHold(agency_id=actor.agency_id, object_type=object_type, object_id=object_id,
                             reason=reason.strip(), placed_by=actor.user_id, placed=self.clock())  # fmt: skip
            session.add(hold)
            session.flush()
            self._audit(session, actor, "hold.placed", "legal_hold", hold.id,
                        {"object_type": object_type, "object_id": object_id, "reason": hold.reason})  # fmt: skip
            return _hold_info(hold)

    def release_hold(self, actor: Actor, hold_id: int) -> HoldInfo:
        actor.require(*HOLDERS)
        with self.transaction() as session:
            hold = session.get(LegalHold, hold_id)
            if hold is None or hold.agency_id != actor.agency_id:
                raise NotFound(f"no legal hold {hold_id} in your agency")
            if hold.released is not None:
                raise Conflict(f"legal hold {hold_id} was released already")
            hold.released, hold.released_by = self.clock(), actor.user_id
            self._audit(session, actor, "hold.released", "legal_hold", hold.id,
                        {"object_type": hold.object_type, "object_id": hold.object_id})  # fmt: skip
            return _hold_info(hold)

    def list_holds(self, actor: Actor, active_only: bool = True) -> list[HoldInfo]:
        actor.require(*HOLDERS, "auditor")
        with self.sessions() as session:
            query = select(LegalHold).where(LegalHold.agency_id == actor.agency_id).order_by(LegalHold.id)
            if active_only:
                query = query.where(LegalHold.released.is_(None))
            return [_hold_info(h) for h in session.scalars(query)]

    @staticmethod
    def _held(session: Session, object_type: str) -> set[int]:
        return set(
            session.scalars(
                select(LegalHold.object_id).where(LegalHold.object_type == object_type, LegalHold.released.is_(None))
            )
        )

    # --- retention ----------------------------------------------------------------------

    def retention_run(self, actor: Actor | None = None, dry_run: bool = False) -> RetentionReport:
        """Delete what has outlived its retention period, in every agency (``actor`` None is
        the scheduled job; otherwise an admin runs it for their agency, or for all when of
        the operator agency)."""
        if actor is not None:
            actor.require("admin")
        now = self.clock()
        report = RetentionReport(dry_run, now)
        touched: dict[int, np.ndarray] = {}
        with self.transaction() as session:
            agencies = session.scalars(select(Agency).order_by(Agency.id)).all()
            held_cases, held_subjects = self._held(session, "case"), self._held(session, "subject")
            for agency in agencies:
                if actor is not None and not actor.operator and agency.id != actor.agency_id:
                    continue
                profile = self._policy_of(session, agency.id)
                if profile is None:
                    continue
                part = RetentionReport(dry_run, now)
                self._expire_requests(session, agency.id, profile, now, held_cases, part)
                self._expire_subjects(session, agency.id, profile, now, held_subjects, part, touched)
                for kind, found in (("deleted", part.deleted), ("held", part.held)):
                    for record_type, ids in found.items():
                        getattr(report, kind).setdefault(record_type, []).extend(ids)
                        if ids and not dry_run:
                            action = "retention.purged" if kind == "deleted" else "retention.held"
                            self._audit(session, actor or SYSTEM, action, "retention", record_type,
                                        {"record_type": record_type, "count": len(ids), "profile": profile.name},
                                        agency_id=agency.id)  # fmt: skip
            if dry_run:
                session.rollback()
                return report
            generations = {g: bump_generation(session, g) for g in touched}
        for gallery_id, removed in touched.items():
            self.indexes.applied(gallery_id, generations[gallery_id], removed=removed)
            self.indexes.scrub(gallery_id)
        return report

    def _expire_requests(
        self, session: Session, agency_id: int, profile: PolicyProfile, now: datetime, held: set[int],
        report: RetentionReport,
    ) -> None:  # fmt: skip
        days = profile.retention.probe_images
        if days is not None:
            rows = session.execute(
                select(Request.id, Request.case_id, Request.probe_image_id).where(
                    Request.target_agency_id == agency_id, Request.probe_image_id.is_not(None),
                    Request.created <= now - timedelta(days=days),
                )
            ).all()  # fmt: skip
            _split(report, "probe_images", [(r, c in held) for r, c, _ in rows])
            if not report.dry_run:
                gone = [(r, i) for r, c, i in rows if c not in held]
                if gone:
                    session.execute(update(Request).where(Request.id.in_([r for r, _ in gone])).values(
                        probe_image_id=None))  # fmt: skip
                    session.execute(delete(StoredImage).where(StoredImage.id.in_([i for _, i in gone])))
        days = profile.retention.candidate_lists
        if days is not None:
            listed = session.execute(
                select(Candidate.id, Request.case_id)
                .join(Search, Search.id == Candidate.search_id)
                .join(Request, Request.id == Search.request_id)
                .where(Search.agency_id == agency_id, Search.created <= now - timedelta(days=days))
            ).all()
            _split(report, "candidate_lists", [(cid, case in held) for cid, case in listed])
            if not report.dry_run:
                dropped = [cid for cid, case in listed if case not in held]
                if dropped:
                    session.execute(delete(Candidate).where(Candidate.id.in_(dropped)))

    def _expire_subjects(
        self, session: Session, agency_id: int, profile: PolicyProfile, now: datetime, held: set[int],
        report: RetentionReport, touched: dict[int, np.ndarray],
    ) -> None:  # fmt: skip
        galleries = session.scalars(select(Gallery).where(Gallery.agency_id == agency_id)).all()
        for gallery in galleries:
            days = gallery.retention_days if gallery.retention_days is not None else profile.retention.templates
            if days is not None:
                rows = session.execute(
                    select(TemplateRow.id, TemplateRow.subject_id).where(
                        TemplateRow.gallery_id == gallery.id, TemplateRow.created <= now - timedelta(days=days)
                    )
                ).all()
                _split(report, "templates", [(t, s in held) for t, s in rows])
                gone = [t for t, s in rows if s not in held]
                if gone and not report.dry_run:
                    session.execute(delete(TemplateRow).where(TemplateRow.id.in_(gone)))
                    _touch(touched, gallery.id, gone)
            subjects: list[int] = []
            limit = profile.retention.last_interaction_days
            if limit is not None:
                last = func.coalesce(Subject.last_interaction, Subject.created)
                subjects += session.scalars(
                    select(Subject.id).where(Subject.gallery_id == gallery.id, last <= now - timedelta(days=limit))
                ).all()
            if gallery.requires_consent:
                subjects += _without_consent(session, gallery.id, now)
            subjects = sorted(set(subjects))
            _split(report, "subjects", [(s, s in held) for s in subjects])
            if not report.dry_run:
                for subject_id in subjects:
                    if subject_id not in held:
                        removed, _counts = self._erase_rows(session, subject_id)
                        _touch(touched, gallery.id, removed)

    # --- erasure and access -------------------------------------------------------------

    def erase_subject(self, actor: Actor, subject_id: int, reason: str) -> dict[str, Any]:
        """Erase a subject everywhere (see the module docstring) and return the erasure
        certificate. A legal hold on the subject refuses it."""
        actor.require(*ERASERS)
        if not (reason or "").strip():
            raise InvalidInput("an erasure needs a reason (e.g. the data subject's request and its date)")
        with self.transaction() as session:
            subject = self._subject(session, actor, subject_id)
            gallery = self._owned_gallery(session, actor, subject.gallery_id)
            if subject_id in self._held(session, "subject"):
                raise Conflict(f"subject {subject_id} is under a legal hold; release the hold before erasing")
            reference, gallery_id = subject.reference, gallery.id
            removed, counts = self._erase_rows(session, subject_id)
            generation = bump_generation(session, gallery_id)
            erasure = Erasure(agency_id=actor.agency_id, gallery_id=gallery_id, subject_id=subject_id,
                              reference_sha256=reference_hash(reference), reason=reason.strip(), counts=counts,
                              requested_by=actor.user_id, created=self.clock())  # fmt: skip
            session.add(erasure)
            session.flush()
            event = self._audit(session, actor, "subject.erased", "subject", subject_id,
                                {"erasure_id": erasure.id, "gallery_id": gallery_id,
                                 "reference_sha256": erasure.reference_sha256, "counts": counts,
                                 "reason": erasure.reason})  # fmt: skip
            certificate = {
                "certificate": "erasure",
                "erasure_id": erasure.id,
                "agency_id": actor.agency_id,
                "gallery_id": gallery_id,
                "subject_id": subject_id,
                "subject_reference": reference,
                "reference_sha256": erasure.reference_sha256,
                "erased": counts,
                "reason": erasure.reason,
                "erased_by": actor.username,
                "time": audit.format_time(erasure.created),
                "audit_event": {"seq": event.seq, "hash": event.hash},
                "statement": "The subject's templates, index entries, consent records and every candidate "
                "entry naming the subject were deleted. The audit log keeps that the erasure happened, "
                "with the reference only as a SHA-256.",
            }
        self.indexes.applied(gallery_id, generation, removed=removed)
        self.indexes.scrub(gallery_id)
        return certificate

    def _erase_rows(self, session: Session, subject_id: int) -> tuple[np.ndarray, dict[str, int]]:
        """Delete a subject's rows everywhere; returns the removed template ids and counts."""
        ids = np.array(
            session.scalars(select(TemplateRow.id).where(TemplateRow.subject_id == subject_id)).all(), dtype=np.int64
        )
        candidates = session.scalars(select(Candidate.id).where(Candidate.subject_id == subject_id)).all()
        if candidates:
            session.execute(delete(Candidate).where(Candidate.id.in_(candidates)))
        verified = session.scalar(select(func.count()).where(Search.subject_id == subject_id)) or 0
        consents = session.scalar(select(func.count()).where(Consent.subject_id == subject_id)) or 0
        session.execute(update(Search).where(Search.subject_id == subject_id).values(subject_id=None))
        session.execute(delete(Consent).where(Consent.subject_id == subject_id))
        session.execute(delete(TemplateRow).where(TemplateRow.subject_id == subject_id))
        session.execute(delete(Subject).where(Subject.id == subject_id))
        counts = {
            "templates": int(ids.size), "candidate_entries": len(candidates),
            "verifications_unlinked": int(verified), "consents": int(consents),
        }  # fmt: skip
        return ids, counts

    def export_subject(self, actor: Actor, subject_id: int) -> dict[str, Any]:
        """Everything held about a subject (an access request): the record, its templates
        (with their vectors), consents, candidate appearances and holds. Recorded."""
        actor.require(*ERASERS, "auditor")
        with self.transaction() as session:
            subject = self._subject(session, actor, subject_id)
            gallery = self._owned_gallery(session, actor, subject.gallery_id)
            templates = session.scalars(select(TemplateRow).where(TemplateRow.subject_id == subject_id)).all()
            appearances = session.execute(
                select(Candidate, Search.request_id, Search.created)
                .join(Search, Search.id == Candidate.search_id)
                .where(Candidate.subject_id == subject_id)
                .order_by(Candidate.id)
            ).all()
            consents = session.scalars(select(Consent).where(Consent.subject_id == subject_id)).all()
            holds = session.scalars(
                select(LegalHold).where(LegalHold.object_type == "subject", LegalHold.object_id == subject_id)
            ).all()
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
                "candidate_appearances": [{"search_id": c.search_id, "request_id": request_id, "rank": c.rank,
                                           "score": round(c.score, 6), "released": c.released,
                                           "time": created.isoformat()} for c, request_id, created in appearances],
                "consents": [{"given_by": c.given_by, "purpose": c.purpose, "given": c.given.isoformat(),
                              "expires": c.expires.isoformat() if c.expires else None,
                              "withdrawn": c.withdrawn.isoformat() if c.withdrawn else None} for c in consents],
                "legal_holds": [{"id": h.id, "reason": h.reason, "placed": h.placed.isoformat(),
                                 "released": h.released.isoformat() if h.released else None} for h in holds],
                "images_held": 0,
                "note": "Enrolment photos are not kept: only the templates made from them and the photos' SHA-256.",
            }  # fmt: skip
            self._audit(session, actor, "subject.exported", "subject", subject_id,
                        {"templates": len(templates), "appearances": len(appearances)})  # fmt: skip
            return record

    # --- consent ------------------------------------------------------------------------

    def create_subject(
        self, actor: Actor, gallery_id: int, reference: str, sex: str | None = None, birth_year: int | None = None
    ) -> int:
        """A subject without templates yet (for galleries that need consent before enrolment)."""
        actor.require("admin", "supervisor", "examiner")
        reference = (reference or "").strip()
        if not reference:
            raise InvalidInput("a subject reference is required")
        with self.transaction() as session:
            self._owned_gallery(session, actor, gallery_id)
            if session.scalar(select(Subject.id).where(Subject.gallery_id == gallery_id,
                                                       Subject.reference == reference)):  # fmt: skip
                raise Conflict(f"subject {reference!r} exists in gallery {gallery_id}")
            subject = Subject(gallery_id=gallery_id, reference=reference, sex=sex, birth_year=birth_year,
                              attributes={}, created=self.clock(), last_interaction=self.clock())  # fmt: skip
            session.add(subject)
            session.flush()
            self._audit(session, actor, "subject.created", "subject", subject.id, {"gallery_id": gallery_id})
            return subject.id

    def record_consent(
        self, actor: Actor, subject_id: int, given_by: str, purpose: str, given: datetime,
        expires: datetime | None = None,
    ) -> int:  # fmt: skip
        """Record who consented, when, to what purpose, until when."""
        actor.require("admin", "supervisor", "examiner")
        if not (given_by or "").strip() or not (purpose or "").strip():
            raise InvalidInput("consent needs who gave it and for what purpose")
        if expires is not None and expires <= given:
            raise InvalidInput("consent must expire after it is given")
        with self.transaction() as session:
            subject = self._subject(session, actor, subject_id)
            self._owned_gallery(session, actor, subject.gallery_id)
            consent = Consent(subject_id=subject_id, given_by=given_by.strip(), purpose=purpose.strip(), given=given,
                              expires=expires, recorded_by=actor.user_id, created=self.clock())  # fmt: skip
            session.add(consent)
            session.flush()
            self._audit(session, actor, "consent.recorded", "subject", subject_id,
                        {"consent_id": consent.id, "purpose": consent.purpose,
                         "expires": expires.isoformat() if expires else None})  # fmt: skip
            return consent.id

    def withdraw_consent(self, actor: Actor, subject_id: int) -> int:
        """Withdraw every live consent of a subject; the next retention run erases the subject
        from a gallery that needs consent. Returns how many were withdrawn."""
        actor.require("admin", "supervisor", "examiner")
        with self.transaction() as session:
            subject = self._subject(session, actor, subject_id)
            self._owned_gallery(session, actor, subject.gallery_id)
            live = session.scalars(select(Consent).where(Consent.subject_id == subject_id,
                                                         Consent.withdrawn.is_(None))).all()  # fmt: skip
            for consent in live:
                consent.withdrawn = self.clock()
            self._audit(session, actor, "consent.withdrawn", "subject", subject_id, {"count": len(live)})
            return len(live)

    def set_gallery_retention(self, actor: Actor, gallery_id: int, days: int | None) -> None:
        """Keep this gallery's templates ``days`` days (``None``: the policy profile's period)."""
        actor.require("admin", "supervisor")
        if days is not None and days < 0:
            raise InvalidInput("a retention period is zero or more days")
        with self.transaction() as session:
            gallery = self._owned_gallery(session, actor, gallery_id)
            gallery.retention_days = days
            self._audit(session, actor, "gallery.retention_set", "gallery", gallery_id, {"days": days})

    def require_consent(self, actor: Actor, gallery_id: int, required: bool = True) -> None:
        """Make enrolment in a gallery need a live consent for each subject."""
        actor.require("admin", "supervisor")
        with self.transaction() as session:
            gallery = self._owned_gallery(session, actor, gallery_id)
            lacking = _without_consent(session, gallery_id, self.clock()) if required else []
            if lacking:
                raise Conflict(
                    f"{len(lacking)} subject(s) of this gallery hold templates without a live consent; record "
                    "their consent or erase them first (the retention run would erase them)"
                )
            gallery.requires_consent = required
            self._audit(session, actor, "gallery.consent_required" if required else "gallery.consent_not_required",
                        "gallery", gallery_id, {})  # fmt: skip

    # --- evaluations on record ----------------------------------------------------------

    def save_evaluation(self, actor: Actor, result: dict[str, Any]) -> int:
        """Keep an evaluation result (``facedocket evaluate --json``) on record."""
        actor.require("auditor", "admin", "supervisor")
        for key in ("model", "detector", "verification"):
            if key not in result:
                raise InvalidInput(f"an evaluation result needs {key!r}; give the JSON of `facedocket evaluate`")
        fingerprint = result.get("fingerprint") or ""
        if isinstance(fingerprint, dict):  # `facedocket evaluate` gives {"sha256": ..., "files": ..., "method": ...}
            fingerprint = fingerprint.get("sha256", "")
        with self.transaction() as session:
            run = EvaluationRun(agency_id=actor.agency_id, user_id=actor.user_id,
                                fingerprint=str(fingerprint)[:64], model_id=str(result["model"]),
                                detector=str(result["detector"]), settings=dict(result.get("settings") or {}),
                                results=result, created=self.clock())  # fmt: skip
            session.add(run)
            session.flush()
            self._audit(session, actor, "evaluation.recorded", "evaluation_run", run.id,
                        {"fingerprint": run.fingerprint, "model": run.model_id,
                         "groups": sorted((result.get("groups") or {}).keys())})  # fmt: skip
            return run.id

    def list_evaluations(self, actor: Actor) -> list[dict[str, Any]]:
        actor.require("auditor", "admin", "supervisor")
        with self.sessions() as session:
            runs = session.scalars(
                select(EvaluationRun).where(EvaluationRun.agency_id == actor.agency_id).order_by(EvaluationRun.id)
            )
            return [{"id": r.id, "created": r.created.isoformat(), "fingerprint": r.fingerprint,
                     "model": r.model_id, "detector": r.detector} for r in runs]  # fmt: skip

    def get_evaluation(self, actor: Actor, run_id: int) -> dict[str, Any]:
        actor.require("auditor", "admin", "supervisor")
        with self.sessions() as session:
            run = session.get(EvaluationRun, run_id)
            if run is None or run.agency_id != actor.agency_id:
                raise NotFound(f"no evaluation run {run_id} in your agency")
            return dict(run.results) | {"id": run.id, "created": run.created.isoformat()}

    def calibrate(self, actor: Actor, run_id: int, target_fmr: float, gallery_id: int | None = None) -> float:
        """Store the threshold the run recommends for ``target_fmr`` (for the model, or one
        gallery); searches then default to it. Returns the threshold."""
        actor.require("admin")
        with self.transaction() as session:
            run = session.get(EvaluationRun, run_id)
            if run is None or run.agency_id != actor.agency_id:
                raise NotFound(f"no evaluation run {run_id} in your agency")
            if gallery_id is not None:
                self._owned_gallery(session, actor, gallery_id)
            threshold = recommended_threshold(run.results, target_fmr)
            session.add(Calibration(agency_id=actor.agency_id, model_id=run.model_id, gallery_id=gallery_id,
                                    target_fmr=target_fmr, threshold=threshold, evaluation_run_id=run.id,
                                    created_by=actor.user_id, created=self.clock()))  # fmt: skip
            self._audit(session, actor, "calibration.set", "evaluation_run", run.id,
                        {"target_fmr": target_fmr, "threshold": threshold, "gallery_id": gallery_id})  # fmt: skip
            return threshold


def recommended_threshold(results: dict[str, Any], target_fmr: float) -> float:
    """The run's threshold for ``target_fmr`` from its ``fmr_table`` (or ``thresholds``)."""
    verification = results.get("verification") or {}
    table = verification.get("fmr_table")
    for row in table or []:
        if abs(float(row["fmr"]) - target_fmr) <= target_fmr * 1e-9:
            return float(row["threshold"])
    # threshold_at_fmr holds every target even where too few impostor pairs measure it (the
    # table leaves those out), so it is only the fallback for a result without a table
    thresholds = (verification.get("threshold_at_fmr") or {}) if table is None else {}
    for key, value in thresholds.items():
        if abs(float(key) - target_fmr) <= target_fmr * 1e-9:
            return float(value)
    raise InvalidInput(f"the evaluation run has no threshold for FMR {target_fmr:g}; pick one it measured")


def consented_references(session: Session, gallery_id: int, references: Iterable[str], now: datetime) -> set[str]:
    """References of subjects in the gallery with a live consent at ``now``."""
    rows = session.execute(
        select(Subject.id, Subject.reference).where(
            Subject.gallery_id == gallery_id, Subject.reference.in_(list(references))
        )
    ).all()
    return {ref for sid, ref in rows if _consented(session, sid, now)}


def _without_consent(session: Session, gallery_id: int, now: datetime) -> list[int]:
    """Subjects of a consent gallery that hold templates, or once had a consent, and have no
    live consent at ``now`` (a subject just created, awaiting its consent, is left alone)."""
    with_templates = set(
        session.scalars(select(TemplateRow.subject_id).where(TemplateRow.gallery_id == gallery_id).distinct())
    )
    consented_once = set(
        session.scalars(
            select(Consent.subject_id)
            .join(Subject, Subject.id == Consent.subject_id)
            .where(Subject.gallery_id == gallery_id)
        )
    )
    return sorted(s for s in with_templates | consented_once if not _consented(session, s, now))


def _consented(session: Session, subject_id: int, now: datetime) -> bool:
    return (
        session.scalar(
            select(Consent.id)
            .where(
                Consent.subject_id == subject_id,
                Consent.withdrawn.is_(None),
                Consent.given <= now,
                (Consent.expires.is_(None)) | (Consent.expires > now),
            )
            .limit(1)
        )
        is not None
    )


def _split(report: RetentionReport, record_type: str, items: list[tuple[int, bool]]) -> None:
    report.deleted.setdefault(record_type, []).extend(i for i, held in items if not held)
    report.held.setdefault(record_type, []).extend(i for i, held in items if held)


def _touch(touched: dict[int, np.ndarray], gallery_id: int, ids: Iterable[int] | np.ndarray) -> None:
    array = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
    touched[gallery_id] = np.concatenate([touched.get(gallery_id, np.zeros(0, dtype=np.int64)), array])
