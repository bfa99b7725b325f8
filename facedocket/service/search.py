"""1:N search and 1:1 verification, only ever under a written request, through the gate.

Every search names a request. Before any template is compared, the policy gate
(:func:`facedocket.governance.rules.check_search`) checks the request, the probe and what
the search asks for against the receiving agency's active profile; a refusal names every
failed rule and is recorded in the audit log. A search returns a ranked candidate list (one
row per subject, its best template) of everything at or above the threshold, at most ``k``
long, each with an estimate of how many false candidates a gallery of this size yields at
that score. It is an investigative lead for human review, never an identification; an
empty list ("no candidate above threshold") is a normal result.

A search is one read transaction (the request, probe, galleries, policy) and one write
transaction: the request row is locked, the gate runs again on what the row says now (a
denial or an expiry that landed meanwhile refuses the search, and nothing is written but
the refusal), and the search, its candidates, the request's new state and the audit event
are written together.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from facedocket.errors import ConfigurationError, InvalidInput, ModelMismatch, NoFaceFound, NotFound, PolicyDenied
from facedocket.governance import requests as machine
from facedocket.governance import review as review_rules
from facedocket.governance.permissions import Actor, require
from facedocket.governance.rules import Facts, Failure, check_search, floor_score
from facedocket.matching.index import Generation
from facedocket.service.context import Area, Context
from facedocket.service.galleries import usable_gallery, visible_subject
from facedocket.service.policy import ActivePolicy, policy_of
from facedocket.service.requests import Requests, request_facts, state_of, visible_request
from facedocket.store.queries import evaluations as calibration_queries
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.queries import requests as request_queries
from facedocket.store.queries import searches as queries
from facedocket.store.tables import Candidate, Gallery, Request, Search
from facedocket.types import Template
from facedocket.vision import models
from facedocket.vision.models import default_threshold
from facedocket.vocab import LEAD_LABEL

__all__ = ["EMPTY_LABEL", "LEAD_LABEL", "CandidateInfo", "SearchResult", "Searches", "expected_false_candidates"]

EMPTY_LABEL = review_rules.EMPTY


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
    withheld: int = 0
    """Candidates this reader may not see yet (not released to them)."""
    concluded: bool = False
    policy_name: str = ""
    policy_sha256: str = ""

    @property
    def empty(self) -> bool:
        return not self.candidates

    @property
    def summary(self) -> str:
        """What the list says to its reader: the count, "no candidate above threshold", or
        why candidates exist but are not shown (under review, none released)."""
        shown = len(self.candidates)
        return review_rules.candidate_summary(shown, shown + self.withheld, self.concluded)


def expected_false_candidates(model_id: str, score: float, gallery_size: int) -> float | None:
    """How many false candidates a gallery of ``gallery_size`` templates is expected to yield
    at or above ``score``: gallery size × FMR(score), from the model's calibration."""
    fmr = models.fmr_at_score(model_id, score)
    return None if fmr is None else round(gallery_size * fmr, 4)


@dataclass(frozen=True)
class _Planned:
    """What the read transaction learned: the request's facts, its probe, the galleries."""

    request_id: int
    facts: Facts
    probe: bytes | None
    galleries: list[Gallery]
    policy: ActivePolicy | None
    k: int
    threshold: float | None
    calibrated: float | None
    """The agency's newest calibrated threshold for these galleries' model, if any."""
    probe_face: int | None = None
    """The face of the probe chosen at filing (None: a probe filed before faces were chosen)."""
    probe_box: list[float] | None = None


class Searches(Area):
    """Searching and verifying under a request, and reading searches back."""

    def __init__(self, ctx: Context, requests: Requests) -> None:
        super().__init__(ctx)
        self.requests = requests

    def search(self, actor: Actor, request_id: int, gallery_ids: list[int] | None = None, k: int | None = None,
               threshold: float | None = None, face: int | None = None) -> SearchResult:  # fmt: skip
        """Search the request's probe against galleries the receiving agency may use (the
        request's, or ``gallery_ids``), after the policy gate allows it."""
        require(actor, "request.search")
        plan = self._plan(actor, request_id, "search", gallery_ids, k, threshold)
        template, facts = self._template_and_facts(actor, plan, face)
        self.ctx.hooks.call_after_gate(plan.request_id)
        start = time.perf_counter()
        hits, size = self._top_templates(template, plan.galleries, facts.k or 1)
        with self.ctx.write() as session:
            row, refused = self._locked_gate(session, actor, plan, facts)
            if not refused:
                ranked = _collapse(session, hits, float(facts.threshold or 0), facts.k or 1)
                search = self._record(session, actor, row, "search", template, plan, facts, start, size)
                session.add_all(Candidate(search_id=search.id, rank=i + 1, subject_id=s, template_id=t, gallery_id=g,
                                          score=sc) for i, (s, t, g, sc) in enumerate(ranked))  # fmt: skip
                session.flush()
                result = self._result(session, actor, search, row)
                # the event last: appending it locks the chain's head until the commit
                self.ctx.audit(session, actor, "search.run", "search", search.id,
                               {"request_id": row.id, "galleries": [g.id for g in plan.galleries], "k": facts.k,
                                "threshold": facts.threshold, "candidates": len(ranked), "gallery_size": size,
                                "policy_sha256": search.policy_sha256})  # fmt: skip
                return result
        raise PolicyDenied(refused)

    def verify(self, actor: Actor, request_id: int, subject_id: int, threshold: float | None = None,
               face: int | None = None) -> SearchResult:  # fmt: skip
        """Compare the request's probe with one subject's templates (1:1), after the gate."""
        require(actor, "request.search")
        with self.ctx.read() as session:
            subject = visible_subject(session, actor, subject_id)
            gallery_id = subject.gallery_id
            vectors = gallery_queries.subject_vectors(session, subject_id)
        plan = self._plan(actor, request_id, "verify", [gallery_id], 1, threshold)
        template, facts = self._template_and_facts(actor, plan, face)
        self.ctx.hooks.call_after_gate(plan.request_id)
        start = time.perf_counter()
        scores = [float(np.frombuffer(v, dtype=np.float32) @ template.vector) for _, v in vectors]
        best = int(np.argmax(scores)) if scores else -1
        limit = float(facts.threshold or 0)
        above = best >= 0 and scores[best] >= limit
        with self.ctx.write() as session:
            row, refused = self._locked_gate(session, actor, plan, facts)
            if not refused:
                search = self._record(session, actor, row, "verify", template, plan, facts, start, len(vectors))
                search.subject_id = subject_id
                search.best_score = scores[best] if best >= 0 else None
                if above:
                    hit = Candidate(search_id=search.id, rank=1, subject_id=subject_id, template_id=vectors[best][0],
                                    gallery_id=gallery_id, score=scores[best])  # fmt: skip
                    session.add(hit)
                session.flush()
                result = self._result(session, actor, search, row)
                self.ctx.audit(session, actor, "verify.run", "search", search.id,
                               {"request_id": row.id, "subject_id": subject_id, "threshold": limit,
                                "above_threshold": above, "policy_sha256": search.policy_sha256})  # fmt: skip
                return result
        raise PolicyDenied(refused)

    # --- the two transactions ---------------------------------------------------------------

    def _plan(self, actor: Actor, request_id: int, kind: str, gallery_ids: list[int] | None, k: int | None,
              threshold: float | None) -> _Planned:  # fmt: skip
        """The read transaction: the request (addressed to the actor's agency), its probe, the
        galleries to search, the policy, k."""
        if threshold is not None and not math.isfinite(threshold):
            raise InvalidInput("threshold must be a finite number")
        checked_k = self._check_k(k)
        with self.ctx.read() as session:
            row = request_queries.request(session, request_id) if 1 <= request_id <= 2**63 - 1 else None
            visible = row is not None and machine.visible_to(row.status, row.agency_id, row.target_agency_id,
                                                             actor.agency_id)  # fmt: skip
            if row is None or not visible or row.target_agency_id != actor.agency_id:
                why = "no such request" if row is None else "the request is not addressed to your agency"
                self.ctx.record(actor, "search.denied", "request", request_id, {"failed": ["request"], "why": why})
                raise NotFound(f"no request {request_id} addressed to your agency; a search needs one")
            require(actor, "request.search", actor.side(row.agency_id))
            active = policy_of(session, row.target_agency_id)
            if k is None and active is not None:  # the default k never exceeds the policy's cap
                checked_k = min(checked_k, active.profile.search.max_candidates)
            chosen = list(dict.fromkeys(gallery_ids or row.galleries or []))
            if not chosen:
                raise InvalidInput("name at least one gallery to search (the request names none)")
            galleries = [usable_gallery(session, actor, int(g)) for g in chosen]
            image = request_queries.image(session, row.probe_image_id)
            probe = self.ctx.files.open(image) if image is not None else None
            facts = request_facts(row, {g.name: g.purpose for g in galleries}, kind=kind, status=row.status,
                                  approval=row.approval, purged=row.purged is not None)  # fmt: skip
            calibrated = _calibrated(session, actor, galleries)
            return _Planned(row.id, facts, probe, galleries, active, checked_k, threshold, calibrated, row.probe_face,
                            list(row.probe_box) if row.probe_box else None)  # fmt: skip

    def _template_and_facts(self, actor: Actor, plan: _Planned, face: int | None) -> tuple[Template, Facts]:
        """The probe's template (outside any transaction) and the complete facts; a refusal by
        the gate is recorded and raised before any template is compared."""
        if plan.probe is None:
            self._refuse(actor, plan.request_id, [("request.purged", "the request holds no probe: it was purged")])
        assert plan.probe is not None
        template = self._probe_template(plan, face)
        for gallery in plan.galleries:
            if gallery.model_id != template.model_id:
                raise ModelMismatch(f"gallery {gallery.name!r} holds {gallery.model_id} templates; the probe is "
                                    f"{template.model_id}: re-enrol the gallery with this model")  # fmt: skip
        limit = plan.threshold
        if limit is None:  # the agency's calibration, else the card's; never looser than the policy's floor
            limit = default_threshold(template.model_id) if plan.calibrated is None else plan.calibrated
            if plan.policy is not None:
                with contextlib.suppress(ConfigurationError):  # the gate names a floor it cannot resolve
                    limit = max(limit, floor_score(plan.policy.profile, template.model_id))
        facts = replace(plan.facts, probe_quality=template.quality, k=plan.k, threshold=float(limit),
                        model_id=template.model_id)  # fmt: skip
        refused = check_search(plan.policy.profile if plan.policy else None, facts)
        if refused:
            self._refuse(actor, plan.request_id, refused)
        return template, facts

    def _probe_template(self, plan: _Planned, face: int | None) -> Template:
        """The template of the face the request is for: the one chosen at filing (found again
        by its box), or for a request filed before faces were chosen, ``face`` as given."""
        found = self.ctx.probe_faces(plan.probe or b"").faces  # computed at filing, or kept from the last search
        if plan.probe_box is None:
            return self.ctx.pipeline.pick(found, face, "the probe")
        if face is not None and face != plan.probe_face:
            raise InvalidInput(
                f"request {plan.request_id} is for face {plan.probe_face} of its probe, chosen when it was filed; "
                "a search under it uses that face (file a new request for another)"
            )
        overlaps = [_iou(f.face.box.as_list(), plan.probe_box) for f in found]
        if not overlaps or max(overlaps) < 0.5:
            raise NoFaceFound(f"the face chosen when request {plan.request_id} was filed is not found in its probe")
        return found[overlaps.index(max(overlaps))].template

    def _locked_gate(
        self, session: Session, actor: Actor, plan: _Planned, facts: Facts
    ) -> tuple[Request, list[Failure]]:
        """In the write transaction: lock the request, expire it if overdue, and run the gate
        again on what the row says now. A refusal is recorded here (the caller raises it once
        the transaction commits)."""
        row = visible_request(session, actor, plan.request_id, lock=True)
        self.requests.expire_if_overdue(session, row)
        active = policy_of(session, row.target_agency_id)
        now = replace(facts, status=row.status, approval=row.approval, purged=row.purged is not None)
        refused = check_search(active.profile if active else None, now)
        if active is not None and plan.policy is not None and active.sha256 != plan.policy.sha256:
            refused.append(("policy", "the agency's policy changed while the search ran; run it again"))
        if refused:
            self.requests.audit_both(session, actor, "search.denied", row,
                                     {"failed": [r for r, _ in refused], "why": [w for _, w in refused]})  # fmt: skip
        return row, refused

    def _refuse(self, actor: Actor, request_id: int, failures: list[Failure]) -> None:
        with self.ctx.write() as session:
            row = request_queries.request(session, request_id)
            details = {"failed": [rule for rule, _ in failures], "why": [why for _, why in failures]}
            if row is not None:
                self.requests.audit_both(session, actor, "search.denied", row, details)
            else:
                self.ctx.audit(session, actor, "search.denied", "request", request_id, details)
        raise PolicyDenied(failures)

    def _record(self, session: Session, actor: Actor, row: Request, kind: str, template: Template, plan: _Planned,
                facts: Facts, start: float, size: int) -> Search:  # fmt: skip
        now = self.clock()
        active = policy_of(session, row.target_agency_id)
        hours = active.profile.requests.emergency_deadline_hours if active else None
        after = machine.step(state_of(row), "search", now, hours, request_id=row.id)
        if row.status != after.status:
            row.searched = now
        row.status, row.deadline = after.status, after.state.deadline
        search = Search(
            request_id=row.id, agency_id=actor.agency_id, user_id=actor.user_id, kind=kind,
            probe_sha256=template.source_sha256, probe_quality=template.quality,
            galleries=[g.id for g in plan.galleries], model_id=template.model_id, threshold=facts.threshold, k=facts.k,
            duration_ms=(time.perf_counter() - start) * 1000, gallery_size=size, created=now,
            policy_name=active.profile.name if active else "", policy_sha256=active.sha256 if active else "",
        )  # fmt: skip
        session.add(search)
        session.flush()
        return search

    # --- steps --------------------------------------------------------------------------------

    def _check_k(self, k: int | None) -> int:
        k = self.ctx.settings.default_k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.ctx.settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self.ctx.settings.max_k}")
        return k

    def _top_templates(self, template: Template, galleries: list[Gallery],
                       k: int) -> tuple[list[tuple[float, int, int]], int]:  # fmt: skip
        """(score, template id, gallery id) best first, and the total gallery size (each index
        level with the generation the read transaction saw)."""
        hits: list[tuple[float, int, int]] = []
        size = 0
        for gallery in galleries:
            known = Generation(gallery.generation, epoch=gallery.epoch)
            scores, ids, count = self.ctx.indexes.search(gallery.id, template.vector[None, :], k * 4, known)
            size += count
            hits += [(float(s), int(i), gallery.id) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        hits.sort(key=lambda h: (-h[0], h[1]))
        return hits, size

    # --- reading ------------------------------------------------------------------------------

    def get_search(self, actor: Actor, search_id: int) -> SearchResult:
        """A search made under a request of (or addressed to) the actor's agency, as the actor
        may see it (see :func:`facedocket.governance.review.sees_unreleased`); recorded."""
        self.requests.expire_overdue()
        with self.ctx.write() as session:
            row = queries.search(session, search_id) if 1 <= search_id <= 2**63 - 1 else None
            try:
                request = visible_request(session, actor, row.request_id) if row else None
            except NotFound:
                request = None
            if row is None or request is None:
                raise NotFound(f"no search {search_id} in your agency")
            require(actor, "search.read", actor.side(request.agency_id))
            result = self._result(session, actor, row, request)
            self.ctx.audit(session, actor, "search.viewed", "search", row.id, {"request_id": request.id})
            return result

    def list_searches(self, actor: Actor, limit: int = 50) -> list[SearchResult]:
        """Searches the actor's agency ran, newest first; the read is recorded."""
        require(actor, "search.list")
        with self.ctx.write() as session:
            rows = queries.of_agency(session, actor.agency_id, max(1, min(limit, 1000)))
            results = [self._result(session, actor, s, request_queries.request(session, s.request_id)) for s in rows]
            self.ctx.audit(session, actor, "searches.listed", "agency", actor.agency_id,
                           {"searches": [r.id for r in results]})  # fmt: skip
            return results

    def request_searches(self, actor: Actor, request_id: int) -> list[SearchResult]:
        """The searches made under one request, as the actor may see them; the read is recorded."""
        self.requests.expire_overdue()
        with self.ctx.write() as session:
            results = self.of_request(session, actor, request_id)
            row = visible_request(session, actor, request_id)
            self.requests.audit_both(session, actor, "searches.listed", row, {"searches": [r.id for r in results]})
            return results

    def of_request(self, session: Session, actor: Actor, request_id: int) -> list[SearchResult]:
        """The searches of a request as the actor may see them (not recorded: the caller does)."""
        request = visible_request(session, actor, request_id)
        require(actor, "search.read", actor.side(request.agency_id))
        return [self._result(session, actor, s, request) for s in queries.of_request(session, request.id)]

    def _result(self, session: Session, actor: Actor, row: Search, request: Request | None) -> SearchResult:
        assert request is not None
        receiving = actor.agency_id == request.target_agency_id
        sees_all = review_rules.sees_unreleased(actor.role, receiving)
        rows = queries.candidates(session, row.id)
        shown = [c for c, _ in rows if sees_all or c.released]
        references = dict((c.id, ref) for c, ref in rows)
        infos = [CandidateInfo(c.id, c.rank, c.subject_id if receiving else None, references[c.id],
                               c.gallery_id if receiving else None, c.template_id if receiving else None,
                               round(c.score, 6), expected_false_candidates(row.model_id, c.score, row.gallery_size),
                               c.released) for c in shown]  # fmt: skip
        return SearchResult(
            row.id, row.request_id, row.kind, row.agency_id, request.case.number, request.legal_basis,
            row.probe_sha256, row.probe_quality, list(row.galleries) if receiving else [], row.gallery_size,
            row.model_id, row.threshold, row.k, round(row.duration_ms, 3), row.created, infos,
            row.subject_id if receiving else None, None if row.best_score is None else round(row.best_score, 6),
            request.purged is not None, LEAD_LABEL, len(rows) - len(shown),
            request.status in ("reviewed", "closed"), row.policy_name, row.policy_sha256,
        )  # fmt: skip


def _iou(a: list[float], b: list[float]) -> float:
    """Intersection over union of two boxes (left, top, right, bottom)."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _calibrated(session: Session, actor: Actor, galleries: list[Gallery]) -> float | None:
    """The newest threshold the actor's agency calibrated for these galleries (the strictest
    when they differ), else for their model; None when it calibrated none."""
    model_id = galleries[0].model_id
    found = [calibration_queries.newest_threshold(session, actor.agency_id, model_id, g.id) for g in galleries]
    per_gallery = [t for t in found if t is not None]
    if per_gallery:
        return max(per_gallery)
    return calibration_queries.newest_threshold(session, actor.agency_id, model_id, None)


def _collapse(session: Session, hits: list[tuple[float, int, int]], threshold: float,
              k: int) -> list[tuple[int, int, int, float]]:  # fmt: skip
    """(subject, template, gallery, score) per subject, best first, at or above threshold."""
    above = [h for h in hits if h[0] >= threshold]
    owners = queries.template_owners(session, [h[1] for h in above])
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
