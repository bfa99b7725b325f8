"""1:N search and 1:1 verification, only ever under a written request, through the gate.

Every search names a request. Before any template is compared, the policy gate
(:func:`facedocket.governance.rules.check_search`) checks the request, the probe and what
the search asks for against the receiving agency's active profile; a refusal names every
failed rule and is recorded in the audit log. A search returns a ranked candidate list (one
row per subject, its best template) of everything at or above the threshold, at most ``k``
long, each with an estimate of how many false candidates a gallery of this size yields at
that score. It is an investigative lead for human review, never an identification; an
empty list ("no candidate above threshold") is a normal result.

The probe is embedded with each gallery's template model, once per model, and only
templates of the same model are compared. Everything that depends on the model is per
model: the threshold (explicit, else the agency's calibration, else the card's, never
looser than the policy's floor as the model's card resolves it), the gate's check of it
and of the probe's quality, and the expected-false-candidate estimate (the model's FMR at
the score, times the templates of that model searched). Candidates of several models are
ranked by that estimated false-match rate, which means the same for every model (scores
do not), and the list still holds one row per subject.

A search is one read transaction (the request, probe, galleries, policy) and one write
transaction: the request row is locked, the gate runs again on what the row says now (a
denial or an expiry that landed meanwhile refuses the search, and nothing is written but
the refusal), and the search, its candidates, the request's new state and the audit event
are written together.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from facedocket.errors import ConfigurationError, InvalidInput, NoFaceFound, NotFound, PolicyDenied
from facedocket.governance import requests as machine
from facedocket.governance import review as review_rules
from facedocket.governance.permissions import Actor, require
from facedocket.governance.rules import Facts, Failure, check_search, floor_score
from facedocket.matching.index import Generation
from facedocket.service.context import Area, Context
from facedocket.service.galleries import usable_gallery, visible_subject
from facedocket.service.policy import ActivePolicy, policy_of
from facedocket.service.ranking import (
    Hit,
    ModelUse,
    Thresholds,
    calibrated,
    check_thresholds,
    collapse,
    expected_false_candidates,
    merged,
    ranking,
    uses_of,
)
from facedocket.service.requests import Requests, request_facts, state_of, visible_request
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.queries import requests as request_queries
from facedocket.store.queries import searches as queries
from facedocket.store.tables import Candidate, Gallery, Request, Search
from facedocket.types import Template, box_iou
from facedocket.vision.models import default_threshold
from facedocket.vocab import LEAD_LABEL

__all__ = [
    "EMPTY_LABEL", "LEAD_LABEL", "CandidateInfo", "ModelUse", "SearchResult", "Searches", "Thresholds",
    "expected_false_candidates",
]  # fmt: skip

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
    model_id: str = ""
    """The template model whose score this is."""


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
    """The model of the first gallery searched (``models`` has each model's figures)."""
    threshold: float
    """That model's threshold."""
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
    models: list[ModelUse] = field(default_factory=list)
    """Every template model searched, in the order of the galleries."""

    @property
    def empty(self) -> bool:
        return not self.candidates

    @property
    def summary(self) -> str:
        """What the list says to its reader: the count, "no candidate above threshold", or
        why candidates exist but are not shown (under review, none released)."""
        shown = len(self.candidates)
        return review_rules.candidate_summary(shown, shown + self.withheld, self.concluded)


@dataclass(frozen=True)
class _Planned:
    """What the read transaction learned: the request's facts, its probe, the galleries."""

    request_id: int
    facts: Facts
    probe: bytes | None
    galleries: list[Gallery]
    policy: ActivePolicy | None
    k: int
    threshold: Thresholds
    calibrated: dict[str, float]
    """The agency's newest calibrated threshold per model of these galleries, where it has one."""
    probe_face: int | None = None
    """The face of the probe chosen at filing (None: a probe filed before faces were chosen)."""
    probe_box: list[float] | None = None

    @property
    def model_ids(self) -> list[str]:
        """The galleries' template models, each once, in the order of the galleries."""
        return list(dict.fromkeys(g.model_id for g in self.galleries))


@dataclass(frozen=True)
class _Probe:
    """The probe as one template model sees it: its template, and the facts the gate checks."""

    template: Template
    facts: Facts


class Searches(Area):
    """Searching and verifying under a request, and reading searches back."""

    def __init__(self, ctx: Context, requests: Requests) -> None:
        super().__init__(ctx)
        self.requests = requests

    def search(self, actor: Actor, request_id: int, gallery_ids: list[int] | None = None, k: int | None = None,
               threshold: Thresholds = None, face: int | None = None) -> SearchResult:  # fmt: skip
        """Search the request's probe against galleries the receiving agency may use (the
        request's, or ``gallery_ids``), after the policy gate allows it. ``threshold`` is one
        score, or a score per model id when the galleries hold templates of several models."""
        require(actor, "request.search")
        plan = self._plan(actor, request_id, "search", gallery_ids, k, threshold)
        probes = self._probes(actor, plan, face)
        self.ctx.hooks.call_after_gate(plan.request_id)
        start = time.perf_counter()
        hits, sizes = self._top_templates(probes, plan.galleries, plan.k)
        uses = _uses(plan.galleries, probes, sizes)
        with self.ctx.write() as session:
            row, refused = self._locked_gate(session, actor, plan, probes)
            if not refused:
                ranked = collapse(session, hits, {u.model_id: u.threshold for u in uses}, plan.k, ranking(uses))
                search = self._record(session, actor, row, "search", uses, probes, plan, start)
                session.add_all(Candidate(search_id=search.id, rank=i + 1, subject_id=s, template_id=t, gallery_id=g,
                                          score=sc) for i, (s, t, g, sc) in enumerate(ranked))  # fmt: skip
                session.flush()
                result = self._result(session, actor, search, row)
                # the event last: appending it locks the chain's head until the commit
                self.ctx.audit(session, actor, "search.run", "search", search.id,
                               {"request_id": row.id, "galleries": [g.id for g in plan.galleries], "k": plan.k,
                                "threshold": uses[0].threshold, "candidates": len(ranked),
                                "gallery_size": search.gallery_size, "policy_sha256": search.policy_sha256,
                                "models": {u.model_id: {"threshold": u.threshold, "gallery_size": u.gallery_size}
                                           for u in uses}})  # fmt: skip
                return result
        raise PolicyDenied(refused)

    def verify(self, actor: Actor, request_id: int, subject_id: int, threshold: Thresholds = None,
               face: int | None = None) -> SearchResult:  # fmt: skip
        """Compare the request's probe with one subject's templates (1:1), after the gate;
        the probe is embedded with the subject's gallery's model."""
        require(actor, "request.search")
        with self.ctx.read() as session:
            subject = visible_subject(session, actor, subject_id)
            gallery_id = subject.gallery_id
            vectors = gallery_queries.subject_vectors(session, subject_id)
        plan = self._plan(actor, request_id, "verify", [gallery_id], 1, threshold)
        probes = self._probes(actor, plan, face)
        probe = probes[plan.galleries[0].model_id]
        self.ctx.hooks.call_after_gate(plan.request_id)
        start = time.perf_counter()
        scores = [float(np.frombuffer(v, dtype=np.float32) @ probe.template.vector) for _, v in vectors]
        best = int(np.argmax(scores)) if scores else -1
        limit = float(probe.facts.threshold or 0)
        above = best >= 0 and scores[best] >= limit
        uses = [ModelUse(probe.template.model_id, limit, [gallery_id], len(vectors), probe.template.quality)]
        with self.ctx.write() as session:
            row, refused = self._locked_gate(session, actor, plan, probes)
            if not refused:
                search = self._record(session, actor, row, "verify", uses, probes, plan, start)
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
                                "model_id": probe.template.model_id, "above_threshold": above,
                                "policy_sha256": search.policy_sha256})  # fmt: skip
                return result
        raise PolicyDenied(refused)

    # --- the two transactions ---------------------------------------------------------------

    def _plan(self, actor: Actor, request_id: int, kind: str, gallery_ids: list[int] | None, k: int | None,
              threshold: Thresholds) -> _Planned:  # fmt: skip
        """The read transaction: the request (addressed to the actor's agency), its probe, the
        galleries to search, the policy, k."""
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
            check_thresholds(threshold, list(dict.fromkeys(g.model_id for g in galleries)))
            for model_id in dict.fromkeys(g.model_id for g in galleries):
                self.ctx.models.card(model_id, session)  # known here, its files checked
            image = request_queries.image(session, row.probe_image_id)
            probe = self.ctx.files.open(image) if image is not None else None
            facts = request_facts(row, {g.name: g.purpose for g in galleries}, kind=kind, status=row.status,
                                  approval=row.approval, purged=row.purged is not None)  # fmt: skip
            per_model = calibrated(session, actor, galleries)
            return _Planned(row.id, facts, probe, galleries, active, checked_k, threshold, per_model, row.probe_face,
                            list(row.probe_box) if row.probe_box else None)  # fmt: skip

    def _probes(self, actor: Actor, plan: _Planned, face: int | None) -> dict[str, _Probe]:
        """The probe's template with each gallery model (outside any transaction) and the
        complete facts per model; a refusal by the gate is recorded and raised before any
        template is compared."""
        if plan.probe is None:
            self._refuse(actor, plan.request_id, [("request.purged", "the request holds no probe: it was purged")])
        assert plan.probe is not None
        probes: dict[str, _Probe] = {}
        for model_id in plan.model_ids:
            template = self._probe_template(plan, face, model_id)
            facts = replace(plan.facts, probe_quality=template.quality, k=plan.k,
                            threshold=float(self._threshold(plan, model_id)), model_id=model_id)  # fmt: skip
            probes[model_id] = _Probe(template, facts)
        profile = plan.policy.profile if plan.policy else None
        refused = merged(check_search(profile, p.facts) for p in probes.values())
        if refused:
            self._refuse(actor, plan.request_id, refused)
        return probes

    def _threshold(self, plan: _Planned, model_id: str) -> float:
        """The threshold for ``model_id``'s templates: the one given, else the agency's
        calibration, else the card's (for the pipeline's flip setting); a default never
        looser than the policy's floor (the gate checks a given one)."""
        given = plan.threshold
        explicit = given.get(model_id) if isinstance(given, Mapping) else given
        if explicit is not None:
            return float(explicit)
        limit = plan.calibrated.get(model_id)
        if limit is None:
            limit = default_threshold(model_id, self.ctx.settings.flip)
        if plan.policy is not None:
            with contextlib.suppress(ConfigurationError):  # the gate names a floor it cannot resolve
                limit = max(limit, floor_score(plan.policy.profile, model_id))
        return limit

    def _probe_template(self, plan: _Planned, face: int | None, model_id: str) -> Template:
        """The template (of ``model_id``) of the face the request is for: the one chosen at
        filing (found again by its box), or for a request filed before faces were chosen,
        ``face`` as given."""
        # computed at filing (the default model's), or kept from the last search
        found = self.ctx.probe_faces(plan.probe or b"", model_id).faces
        if plan.probe_box is None:
            return self.ctx.pipeline.pick(found, face, "the probe")
        if face is not None and face != plan.probe_face:
            raise InvalidInput(
                f"request {plan.request_id} is for face {plan.probe_face} of its probe, chosen when it was filed; "
                "a search under it uses that face (file a new request for another)"
            )
        overlaps = [box_iou(f.face.box.as_list(), plan.probe_box) for f in found]
        if not overlaps or max(overlaps) < 0.5:
            raise NoFaceFound(f"the face chosen when request {plan.request_id} was filed is not found in its probe")
        return found[overlaps.index(max(overlaps))].template

    def _locked_gate(
        self, session: Session, actor: Actor, plan: _Planned, probes: dict[str, _Probe]
    ) -> tuple[Request, list[Failure]]:
        """In the write transaction: lock the request, expire it if overdue, and run the gate
        again on what the row says now. A refusal is recorded here (the caller raises it once
        the transaction commits)."""
        row = visible_request(session, actor, plan.request_id, lock=True)
        self.requests.expire_if_overdue(session, row)
        active = policy_of(session, row.target_agency_id)
        profile = active.profile if active else None
        refused = merged(
            check_search(profile, replace(p.facts, status=row.status, approval=row.approval,
                                          purged=row.purged is not None))
            for p in probes.values()
        )  # fmt: skip
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

    def _record(self, session: Session, actor: Actor, row: Request, kind: str, uses: list[ModelUse],
                probes: dict[str, _Probe], plan: _Planned, start: float) -> Search:  # fmt: skip
        now = self.clock()
        active = policy_of(session, row.target_agency_id)
        hours = active.profile.requests.emergency_deadline_hours if active else None
        after = machine.step(state_of(row), "search", now, hours, request_id=row.id)
        if row.status != after.status:
            row.searched = now
        row.status, row.deadline = after.status, after.state.deadline
        first = probes[uses[0].model_id].template
        search = Search(
            request_id=row.id, agency_id=actor.agency_id, user_id=actor.user_id, kind=kind,
            probe_sha256=first.source_sha256, probe_quality=first.quality, galleries=[g.id for g in plan.galleries],
            model_id=uses[0].model_id, threshold=uses[0].threshold, k=plan.k,
            duration_ms=(time.perf_counter() - start) * 1000, gallery_size=sum(u.gallery_size for u in uses),
            created=now, policy_name=active.profile.name if active else "",
            policy_sha256=active.sha256 if active else "", models=[asdict(u) for u in uses],
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

    def _top_templates(self, probes: dict[str, _Probe], galleries: list[Gallery],
                       k: int) -> tuple[list[Hit], dict[int, int]]:  # fmt: skip
        """(score, template id, gallery id, model id), each gallery searched with the probe's
        template of its model (each index level with the generation the read transaction
        saw), and the templates of each gallery."""
        hits: list[Hit] = []
        sizes: dict[int, int] = {}
        for gallery in galleries:
            known = Generation(gallery.generation, epoch=gallery.epoch)
            vector = probes[gallery.model_id].template.vector
            scores, ids, count = self.ctx.indexes.search(gallery.id, vector[None, :], k * 4, known)
            sizes[gallery.id] = count
            hits += [(float(s), int(i), gallery.id, gallery.model_id)
                     for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]  # fmt: skip
        return hits, sizes

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
        uses = uses_of(row)
        model_of = {g: u.model_id for u in uses for g in u.galleries}
        sizes = {u.model_id: u.gallery_size for u in uses}
        expected = self._estimates(session)
        infos = []
        for c in shown:
            model_id = model_of.get(c.gallery_id, row.model_id)
            infos.append(CandidateInfo(
                c.id, c.rank, c.subject_id if receiving else None, references[c.id],
                c.gallery_id if receiving else None, c.template_id if receiving else None, round(c.score, 6),
                expected(model_id, c.score, sizes.get(model_id, row.gallery_size)), c.released, model_id,
            ))  # fmt: skip
        shown_uses = uses if receiving else [replace(u, galleries=[]) for u in uses]
        return SearchResult(
            row.id, row.request_id, row.kind, row.agency_id, request.case.number, request.legal_basis,
            row.probe_sha256, row.probe_quality, list(row.galleries) if receiving else [], row.gallery_size,
            row.model_id, row.threshold, row.k, round(row.duration_ms, 3), row.created, infos,
            row.subject_id if receiving else None, None if row.best_score is None else round(row.best_score, 6),
            request.purged is not None, LEAD_LABEL, len(rows) - len(shown),
            request.status in ("reviewed", "closed"), row.policy_name, row.policy_sha256, shown_uses,
        )  # fmt: skip

    def _estimates(self, session: Session) -> Callable[[str, float, int], float | None]:
        """expected_false_candidates, with each model's card made sure of once (a registered
        model's card this installation cannot load gives no estimate)."""
        usable: dict[str, bool] = {}

        def estimate(model_id: str, score: float, size: int) -> float | None:
            if model_id not in usable:
                try:
                    self.ctx.models.card(model_id, session)
                    usable[model_id] = True
                except ConfigurationError:
                    usable[model_id] = False
            return expected_false_candidates(model_id, score, size) if usable[model_id] else None

        return estimate


def _uses(galleries: list[Gallery], probes: dict[str, _Probe], sizes: dict[int, int]) -> list[ModelUse]:
    return [
        ModelUse(model_id, float(probe.facts.threshold or 0), [g.id for g in galleries if g.model_id == model_id],
                 sum(sizes[g.id] for g in galleries if g.model_id == model_id), probe.template.quality)
        for model_id, probe in probes.items()
    ]  # fmt: skip
