"""1:N search and 1:1 verification, only ever under a written request.

A search returns a ranked candidate list (one row per subject, its best template) of
everything at or above the threshold, at most ``k`` long. It is an investigative lead for
human review, never an identification. The request, the search (probe SHA-256, galleries,
model, threshold, k, time taken) and its candidates are written in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from facedocket.errors import InvalidInput, ModelMismatch, NotFound, RequestIncomplete
from facedocket.service.base import Actor, ServiceBase
from facedocket.store.tables import Candidate, Gallery, Request, Search, Subject, TemplateRow
from facedocket.types import Template
from facedocket.vision.models import default_threshold

SEARCHERS = ("examiner", "supervisor")
READERS = ("examiner", "supervisor", "auditor", "admin")
LEGAL_BASES = ("court-order", "warrant", "emergency", "deceased-identification", "consent")
LEAD_LABEL = "investigative lead — not a positive identification"


@dataclass(frozen=True)
class RequestFields:
    """The written request a search is made under (minimal form; see the module docstring)."""

    case_number: str
    offence: str
    legal_basis: str
    justification: str

    def check(self) -> None:
        missing = [name for name, value in self.__dict__.items() if not (value or "").strip()]
        if missing:
            raise RequestIncomplete(f"a search needs a written request; missing: {', '.join(missing)}")
        if self.legal_basis not in LEGAL_BASES:
            raise RequestIncomplete(f"legal basis {self.legal_basis!r} is not one of: {', '.join(LEGAL_BASES)}")


@dataclass(frozen=True)
class CandidateInfo:
    rank: int
    subject_id: int | None
    subject_reference: str | None
    gallery_id: int
    template_id: int
    score: float


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
    label: str = LEAD_LABEL

    @property
    def empty(self) -> bool:
        return not self.candidates


class SearchMixin(ServiceBase):
    def search(
        self,
        actor: Actor,
        request: RequestFields,
        probe: bytes,
        gallery_ids: list[int],
        k: int | None = None,
        threshold: float | None = None,
        face: int | None = None,
    ) -> SearchResult:
        """Search ``probe`` against galleries the actor's agency may use, under ``request``."""
        actor.require(*SEARCHERS)
        request.check()
        k = self._check_k(k)
        if not gallery_ids:
            raise InvalidInput("name at least one gallery to search")
        with self.sessions() as session:
            galleries = [self._usable_gallery(session, actor, g) for g in dict.fromkeys(gallery_ids)]
        template = self._probe_template(probe, face, galleries)
        limit = default_threshold(template.model_id) if threshold is None else float(threshold)
        start = time.perf_counter()
        hits, size = self._top_templates(template, [g.id for g in galleries], k)
        with self.transaction() as session:
            ranked = _collapse(session, hits, limit, k)
            duration = (time.perf_counter() - start) * 1000
            row = self._record(session, actor, request, "search", template, galleries, limit, k, duration, size)
            session.add_all(
                Candidate(search_id=row.id, rank=i + 1, subject_id=s, template_id=t, gallery_id=g, score=sc)
                for i, (s, t, g, sc) in enumerate(ranked)
            )
            session.flush()
            return self._result(session, row)

    def verify(
        self,
        actor: Actor,
        request: RequestFields,
        probe: bytes,
        subject_id: int,
        threshold: float | None = None,
        face: int | None = None,
    ) -> SearchResult:
        """Compare ``probe`` with one subject's templates (1:1); the best score decides."""
        actor.require(*SEARCHERS)
        request.check()
        with self.sessions() as session:
            subject = self._subject(session, actor, subject_id)
            gallery = self._usable_gallery(session, actor, subject.gallery_id)
            rows = session.execute(
                select(TemplateRow.id, TemplateRow.vector).where(TemplateRow.subject_id == subject_id)
            ).all()
        template = self._probe_template(probe, face, [gallery])
        limit = default_threshold(template.model_id) if threshold is None else float(threshold)
        start = time.perf_counter()
        scores = [float(np.frombuffer(v, dtype=np.float32) @ template.vector) for _, v in rows]
        best = int(np.argmax(scores)) if scores else -1
        with self.transaction() as session:
            duration = (time.perf_counter() - start) * 1000
            row = self._record(session, actor, request, "verify", template, [gallery], limit, 1, duration, len(rows))
            row.subject_id = subject_id
            row.best_score = scores[best] if best >= 0 else None
            if best >= 0 and scores[best] >= limit:
                hit = Candidate(search_id=row.id, rank=1, subject_id=subject_id, template_id=rows[best][0],
                                gallery_id=gallery.id, score=scores[best])  # fmt: skip
                session.add(hit)
            session.flush()
            return self._result(session, row)

    def get_search(self, actor: Actor, search_id: int) -> SearchResult:
        """A search of the actor's agency; NotFound for any other."""
        actor.require(*READERS)
        with self.sessions() as session:
            row = session.get(Search, search_id)
            if row is None or row.agency_id != actor.agency_id:
                raise NotFound(f"no search {search_id} in your agency")
            return self._result(session, row)

    def list_searches(self, actor: Actor, limit: int = 50) -> list[SearchResult]:
        actor.require(*READERS)
        with self.sessions() as session:
            rows = session.scalars(
                select(Search).where(Search.agency_id == actor.agency_id).order_by(Search.id.desc()).limit(limit)
            )
            return [self._result(session, row) for row in rows]

    # --- steps ------------------------------------------------------------------------

    def _check_k(self, k: int | None) -> int:
        k = self.settings.default_k if k is None else int(k)
        if not 1 <= k <= self.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.settings.max_k}")
        return k

    def _probe_template(self, probe: bytes, face: int | None, galleries: list[Gallery]) -> Template:
        image = self.pipeline.load(probe)
        template = self.pipeline.template(image, face)
        for gallery in galleries:
            if gallery.model_id != template.model_id:
                raise ModelMismatch(
                    f"gallery {gallery.name!r} holds {gallery.model_id} templates; the probe is "
                    f"{template.model_id}: re-enrol the gallery with this model"
                )
        return template

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
        fields: RequestFields,
        kind: str,
        template: Template,
        galleries: list[Gallery],
        threshold: float,
        k: int,
        duration_ms: float,
        size: int,
    ) -> Search:
        request = Request(
            agency_id=actor.agency_id, requester_id=actor.user_id, case_number=fields.case_number.strip(),
            offence=fields.offence.strip(), legal_basis=fields.legal_basis,
            justification=fields.justification.strip(), status="searched", created=self.clock(),
        )  # fmt: skip
        session.add(request)
        session.flush()
        row = Search(
            request_id=request.id, agency_id=actor.agency_id, user_id=actor.user_id, kind=kind,
            probe_sha256=template.source_sha256, probe_quality=template.quality,
            galleries=[g.id for g in galleries], model_id=template.model_id, threshold=threshold, k=k,
            duration_ms=duration_ms, gallery_size=size, created=self.clock(),
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row

    def _result(self, session: Session, row: Search) -> SearchResult:
        request = session.get(Request, row.request_id)
        assert request is not None
        rows = session.execute(
            select(Candidate, Subject.reference)
            .outerjoin(Subject, Subject.id == Candidate.subject_id)
            .where(Candidate.search_id == row.id)
            .order_by(Candidate.rank)
        ).all()
        infos = [
            CandidateInfo(c.rank, c.subject_id, reference, c.gallery_id, c.template_id, round(c.score, 6))
            for c, reference in rows
        ]
        return SearchResult(
            row.id, row.request_id, row.kind, row.agency_id, request.case_number, request.legal_basis,
            row.probe_sha256, row.probe_quality, list(row.galleries), row.gallery_size, row.model_id,
            row.threshold, row.k, round(row.duration_ms, 3), row.created, infos, row.subject_id,
            None if row.best_score is None else round(row.best_score, 6),
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
