"""1:N search and 1:1 verification, only ever under a written request, through the gate.

Every search names a request. Before any template is compared, the policy gate
(:func:`facedocket.policy.gate.check_search`) checks the request, the probe and what the
search asks for against the receiving agency's active profile; a refusal names every failed
rule and is recorded in the audit log. A search returns a ranked candidate list (one row per
subject, its best template) of everything at or above the threshold, at most ``k`` long,
each with an estimate of how many false candidates a gallery of this size yields at that
score. It is an investigative lead for human review, never an identification; an empty list
("no candidate above threshold") is a normal result. The search, its candidates, the
request's new state and the audit event are written in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from facedocket.errors import InvalidInput, ModelMismatch, NotFound, PolicyDenied
from facedocket.policy.gate import SearchContext, check_search
from facedocket.service.base import Actor
from facedocket.service.requests import READERS, SEARCHERS, RequestsMixin, _fields, deadline_after
from facedocket.store.tables import Calibration, Candidate, Gallery, Request, Search, StoredImage, Subject, TemplateRow
from facedocket.types import Template
from facedocket.vision import models
from facedocket.vision.models import default_threshold

LEAD_LABEL = "investigative lead — not a positive identification"
EMPTY_LABEL = "no candidate above threshold"


@dataclass(frozen=True)
class CandidateInfo:
    id: int
    rank: int
    subject_id: int | None
    subject_reference: str | None
    gallery_id: int | None
    template_id: int | None
    score: float
    expected_false: float | None
    released: bool


@dataclass(frozen=True)
class SearchResult:
    id: int
    request_id: int
    kind: str
    agency_id: int
    case_number: str
    legal_basis: str
    probe_sha256: str
    probe_quality: float
    galleries: list[int]
    gallery_size: int
    model_id: str
    threshold: float
    k: int
    duration_ms: float
    created: datetime
    candidates: list[CandidateInfo]
    subject_id: int | None = None
    best_score: float | None = None
    purged: bool = False
    label: str = LEAD_LABEL

    @property
    def empty(self) -> bool:
        return not self.candidates

    @property
    def summary(self) -> str:
        return EMPTY_LABEL if self.empty else f"{len(self.candidates)} candidate(s): {LEAD_LABEL}"


def expected_false_candidates(model_id: str, score: float, gallery_size: int) -> float | None:
    """How many false candidates a gallery of ``gallery_size`` templates is expected to yield
    at or above ``score``: gallery size × FMR(score), from the model's calibration."""
    fmr = models.fmr_at_score(model_id, score)
    return None if fmr is None else round(gallery_size * fmr, 4)


class SearchMixin(RequestsMixin):
    def search(
        self,
        actor: Actor,
        request_id: int,
        gallery_ids: list[int] | None = None,
        k: int | None = None,
        threshold: float | None = None,
        face: int | None = None,
    ) -> SearchResult:
        """Search the request's probe against galleries the receiving agency may use (the
        request's, or ``gallery_ids``), after the policy gate allows it."""
        actor.require(*SEARCHERS)
        asked, k = k, self._check_k(k)
        self.expire_overdue()
        with self.sessions() as session:
            row = self._gated_request(session, actor, request_id)
            probe = self._probe_bytes(session, row)
            profile = self._policy_of(session, row.target_agency_id)
            if asked is None and profile is not None:  # the default k never exceeds the policy's cap
                k = min(k, profile.search.max_candidates)
            chosen = list(dict.fromkeys(gallery_ids or row.galleries or []))
            if not chosen:
                raise InvalidInput("name at least one gallery to search (the request names none)")
            galleries = [self._usable_gallery(session, actor, g) for g in chosen]
        template = self._request_template(actor, request_id, probe, face, galleries)
        limit = self._default_threshold(actor, template.model_id, galleries) if threshold is None else float(threshold)
        self._gate(actor, request_id, "search", template, k, limit, galleries)
        start = time.perf_counter()
        hits, size = self._top_templates(template, [g.id for g in galleries], k)
        with self.transaction() as session:
            row = self._request_for(session, actor, request_id, write=True)
            ranked = _collapse(session, hits, limit, k)
            duration = (time.perf_counter() - start) * 1000
            search = self._record(session, actor, row, "search", template, galleries, limit, k, duration, size)
            session.add_all(
                Candidate(search_id=search.id, rank=i + 1, subject_id=s, template_id=t, gallery_id=g, score=sc)
                for i, (s, t, g, sc) in enumerate(ranked)
            )
            session.flush()
            self._audit(session, actor, "search.run", "search", search.id,
                        {"request_id": row.id, "galleries": [g.id for g in galleries], "k": k, "threshold": limit,
                         "candidates": len(ranked), "gallery_size": size})  # fmt: skip
            return self._result(session, actor, search)

    def verify(
        self,
        actor: Actor,
        request_id: int,
        subject_id: int,
        threshold: float | None = None,
        face: int | None = None,
    ) -> SearchResult:
        """Compare the request's probe with one subject's templates (1:1), after the gate."""
        actor.require(*SEARCHERS)
        self.expire_overdue()
        with self.sessions() as session:
            probe = self._probe_bytes(session, self._gated_request(session, actor, request_id))
            subject = self._subject(session, actor, subject_id)
            gallery = self._usable_gallery(session, actor, subject.gallery_id)
            rows = session.execute(
                select(TemplateRow.id, TemplateRow.vector).where(TemplateRow.subject_id == subject_id)
            ).all()
        template = self._request_template(actor, request_id, probe, face, [gallery])
        limit = self._default_threshold(actor, template.model_id, [gallery]) if threshold is None else float(threshold)
        self._gate(actor, request_id, "verify", template, 1, limit, [gallery])
        start = time.perf_counter()
        scores = [float(np.frombuffer(v, dtype=np.float32) @ template.vector) for _, v in rows]
        best = int(np.argmax(scores)) if scores else -1
        with self.transaction() as session:
            row = self._request_for(session, actor, request_id, write=True)
            duration = (time.perf_counter() - start) * 1000
            search = self._record(session, actor, row, "verify", template, [gallery], limit, 1, duration, len(rows))
            search.subject_id = subject_id
            search.best_score = scores[best] if best >= 0 else None
            if best >= 0 and scores[best] >= limit:
                hit = Candidate(search_id=search.id, rank=1, subject_id=subject_id, template_id=rows[best][0],
                                gallery_id=gallery.id, score=scores[best])  # fmt: skip
                session.add(hit)
            session.flush()
            self._audit(session, actor, "verify.run", "search", search.id,
                        {"request_id": row.id, "subject_id": subject_id, "threshold": limit,
                         "above_threshold": best >= 0 and scores[best] >= limit})  # fmt: skip
            return self._result(session, actor, search)

    def get_search(self, actor: Actor, search_id: int) -> SearchResult:
        """A search made under a request of (or addressed to) the actor's agency. The
        requesting agency of a cross-agency request sees only released candidates, without
        gallery or template ids."""
        actor.require(*READERS)
        self.expire_overdue()
        with self.transaction() as session:
            row = session.get(Search, search_id)
            request = session.get(Request, row.request_id) if row else None
            if row is None or request is None or actor.agency_id not in (request.agency_id, request.target_agency_id):
                raise NotFound(f"no search {search_id} in your agency")
            result = self._result(session, actor, row)
            self._audit(session, actor, "search.viewed", "search", row.id, {"request_id": request.id})
            return result

    def list_searches(self, actor: Actor, limit: int = 50) -> list[SearchResult]:
        """Searches the actor's agency ran, newest first."""
        actor.require("examiner", "supervisor", "auditor", "admin")
        with self.sessions() as session:
            rows = session.scalars(
                select(Search).where(Search.agency_id == actor.agency_id).order_by(Search.id.desc()).limit(limit)
            )
            return [self._result(session, actor, row) for row in rows]

    def request_searches(self, actor: Actor, request_id: int) -> list[SearchResult]:
        """The searches made under one request, as the actor may see them."""
        actor.require(*READERS)
        self.expire_overdue()
        with self.sessions() as session:
            row = self._request_for(session, actor, request_id)
            rows = session.scalars(select(Search).where(Search.request_id == row.id).order_by(Search.id))
            return [self._result(session, actor, s) for s in rows]

    # --- the gate -----------------------------------------------------------------------

    def _gated_request(self, session: Session, actor: Actor, request_id: int) -> Request:
        """The request a search is made under, or a recorded refusal: it must exist and be
        addressed to the actor's agency."""
        row = session.get(Request, request_id)
        if row is None or row.target_agency_id != actor.agency_id:
            why = "no such request" if row is None else "the request is not addressed to your agency"
            self.audit_event(actor, "search.denied", "request", request_id, {"failed": ["request"], "why": why})
            raise NotFound(f"no request {request_id} addressed to your agency; a search needs one")
        return row

    @staticmethod
    def _probe_bytes(session: Session, row: Request) -> bytes | None:
        """The request's stored probe photo; None once purged."""
        image = session.get(StoredImage, row.probe_image_id) if row.probe_image_id else None
        return None if image is None else image.data

    def _request_template(
        self, actor: Actor, request_id: int, probe: bytes | None, face: int | None, galleries: list[Gallery]
    ) -> Template:
        if probe is None:
            self._refuse(actor, request_id, [("request.purged", "the request holds no probe: it was purged")])
        assert probe is not None
        template = self.pipeline.template(self.pipeline.load(probe), face)
        for gallery in galleries:
            if gallery.model_id != template.model_id:
                raise ModelMismatch(
                    f"gallery {gallery.name!r} holds {gallery.model_id} templates; the probe is "
                    f"{template.model_id}: re-enrol the gallery with this model"
                )
        return template

    def _gate(
        self, actor: Actor, request_id: int, kind: str, template: Template, k: int, threshold: float,
        galleries: list[Gallery],
    ) -> None:  # fmt: skip
        with self.sessions() as session:
            row = session.get(Request, request_id)
            assert row is not None
            ctx = SearchContext(
                kind=kind, status=row.status, approval=row.approval, legal_basis=row.legal_basis,
                offence_category=row.case.offence_category, fields=_fields(row, row.case),
                probe_source=row.probe_source, probe_quality=template.quality, k=k, threshold=threshold,
                gallery_purposes={g.name: g.purpose for g in galleries},
                cross_agency=row.agency_id != row.target_agency_id, purged=row.purged is not None,
            )  # fmt: skip
            failures = check_search(self._policy_of(session, row.target_agency_id), ctx)
        if failures:
            self._refuse(actor, request_id, failures)

    def _refuse(self, actor: Actor, request_id: int, failures: list[tuple[str, str]]) -> None:
        with self.transaction() as session:
            row = session.get(Request, request_id)
            details = {"failed": [rule for rule, _ in failures], "why": [why for _, why in failures]}
            if row is not None:
                self._audit_both(session, actor, "search.denied", row, details)
            else:
                self._audit(session, actor, "search.denied", "request", request_id, details)
        raise PolicyDenied(failures)

    # --- steps ------------------------------------------------------------------------

    def _default_threshold(self, actor: Actor, model_id: str, galleries: list[Gallery]) -> float:
        """The threshold a search uses when none is given: the newest calibration the
        actor's agency stored for these galleries (the strictest when they differ), else for
        the model, else the model card's."""
        with self.sessions() as session:
            newest = (
                select(Calibration.threshold)
                .where(Calibration.agency_id == actor.agency_id, Calibration.model_id == model_id)
                .order_by(Calibration.id.desc())
                .limit(1)
            )
            per_gallery = [session.scalar(newest.where(Calibration.gallery_id == g.id)) for g in galleries]
            found = [t for t in per_gallery if t is not None]
            if found:
                return max(found)
            stored = session.scalar(newest.where(Calibration.gallery_id.is_(None)))
        return float(stored) if stored is not None else default_threshold(model_id)

    def _check_k(self, k: int | None) -> int:
        k = self.settings.default_k if k is None else int(k)
        if not 1 <= k <= self.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.settings.max_k}")
        return k

    def _top_templates(
        self, template: Template, gallery_ids: list[int], k: int
    ) -> tuple[list[tuple[float, int, int]], int]:
        """(score, template id, gallery id) best first, and the total gallery size."""
        shortlist = k * 4
        hits: list[tuple[float, int, int]] = []
        size = 0
        for gallery_id in gallery_ids:
            scores, ids, count = self.indexes.search(gallery_id, template.vector[None, :], shortlist)
            size += count
            hits += [(float(s), int(i), gallery_id) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        hits.sort(key=lambda h: (-h[0], h[1]))
        return hits, size

    def _record(
        self,
        session: Session,
        actor: Actor,
        request: Request,
        kind: str,
        template: Template,
        galleries: list[Gallery],
        threshold: float,
        k: int,
        duration_ms: float,
        size: int,
    ) -> Search:
        now = self.clock()
        if request.status in ("submitted", "approved"):
            request.status = "searched"
            request.searched = now
            if request.approval == "pending" and request.emergency:
                profile = self._policy_of(session, request.target_agency_id)
                hours = profile.requests.emergency_deadline_hours if profile else None
                request.deadline = deadline_after(now, hours)
        row = Search(
            request_id=request.id, agency_id=actor.agency_id, user_id=actor.user_id, kind=kind,
            probe_sha256=template.source_sha256, probe_quality=template.quality,
            galleries=[g.id for g in galleries], model_id=template.model_id, threshold=threshold, k=k,
            duration_ms=duration_ms, gallery_size=size, created=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row

    def _result(self, session: Session, actor: Actor, row: Search) -> SearchResult:
        request = session.get(Request, row.request_id)
        assert request is not None
        receiving = actor.agency_id == request.target_agency_id
        rows = session.execute(
            select(Candidate, Subject.reference)
            .outerjoin(Subject, Subject.id == Candidate.subject_id)
            .where(Candidate.search_id == row.id)
            .order_by(Candidate.rank)
        ).all()
        infos = [
            CandidateInfo(
                c.id,
                c.rank,
                c.subject_id if receiving else None,
                reference,
                c.gallery_id if receiving else None,
                c.template_id if receiving else None,
                round(c.score, 6),
                expected_false_candidates(row.model_id, c.score, row.gallery_size),
                c.released,
            )
            for c, reference in rows
            if receiving or c.released
        ]
        return SearchResult(
            row.id, row.request_id, row.kind, row.agency_id, request.case.number, request.legal_basis,
            row.probe_sha256, row.probe_quality, list(row.galleries) if receiving else [], row.gallery_size,
            row.model_id, row.threshold, row.k, round(row.duration_ms, 3), row.created, infos,
            row.subject_id if receiving else None, None if row.best_score is None else round(row.best_score, 6),
            request.purged is not None,
        )  # fmt: skip


def _collapse(
    session: Session, hits: list[tuple[float, int, int]], threshold: float, k: int
) -> list[tuple[int, int, int, float]]:
    """(subject, template, gallery, score) per subject, best first, at or above threshold."""
    above = [h for h in hits if h[0] >= threshold]
    if not above:
        return []
    owners = dict(
        session.execute(
            select(TemplateRow.id, TemplateRow.subject_id).where(TemplateRow.id.in_([h[1] for h in above]))
        ).all()
    )
    ranked: list[tuple[int, int, int, float]] = []
    seen: set[int] = set()
    for score, template_id, gallery_id in above:
        subject_id = owners.get(template_id)
        if subject_id is None or subject_id in seen:
            continue
        seen.add(subject_id)
        ranked.append((subject_id, template_id, gallery_id, score))
        if len(ranked) == k:
            break
    return ranked


__all__ = ["EMPTY_LABEL", "LEAD_LABEL", "CandidateInfo", "SearchMixin", "SearchResult"]
