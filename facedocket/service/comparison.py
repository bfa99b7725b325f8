"""The examiner's workspace: a request's newest candidate list laid out for side-by-side
comparison, as the reader may see it.

For each candidate: its score, the threshold, the false candidates expected at that score,
the quality of both faces, the candidate's kept enrolment photo and aligned crop (when its
gallery keeps photos), its decision state as the reader may see it (blind:
:func:`facedocket.governance.review.state_seen_by`), the reader's own review and the reviews
the reader may see. The probe's photo and the crop of the face chosen at filing come with it.
Reading the workspace is reading the search: it is recorded as ``search.viewed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from facedocket.errors import NotFound
from facedocket.governance import review as rules
from facedocket.governance.permissions import Actor, permits, require
from facedocket.service.context import Area, Context
from facedocket.service.photos import PhotoInfo, photo_info
from facedocket.service.request_info import describe
from facedocket.service.requests import RequestInfo, Requests, visible_request
from facedocket.service.review import ReviewArea, ReviewInfo, two_person
from facedocket.service.search import CandidateInfo, Searches, SearchResult
from facedocket.store.queries import photos as photo_queries
from facedocket.store.queries import requests as request_queries
from facedocket.store.queries import reviews as review_queries
from facedocket.store.queries import searches as search_queries
from facedocket.vocab import LEAD_LABEL


@dataclass(frozen=True)
class CandidateView:
    """One candidate as the comparison view shows it."""

    candidate: CandidateInfo
    state: str
    quality: float | None
    source: PhotoInfo | None
    crop: PhotoInfo | None
    mine: ReviewInfo | None
    reviews: list[ReviewInfo]
    can_review: bool


@dataclass(frozen=True)
class Workspace:
    """A request's newest search laid out for review (see the module docstring)."""

    request: RequestInfo
    search: SearchResult | None
    probe: PhotoInfo | None
    probe_crop: PhotoInfo | None
    candidates: list[CandidateView] = field(default_factory=list)
    two_person: bool = False
    can_conclude: bool = False
    label: str = LEAD_LABEL

    @property
    def undecided(self) -> list[int]:
        return [v.candidate.id for v in self.candidates if not rules.decided(v.state)]


class Comparisons(Area):
    """The review workspace (see the module docstring)."""

    def __init__(self, ctx: Context, requests: Requests, searches: Searches, review: ReviewArea) -> None:
        super().__init__(ctx)
        self.requests, self.searches, self.review = requests, searches, review

    def workspace(self, actor: Actor, request_id: int) -> Workspace:
        """The request's newest candidate list for side-by-side review (the unit the request
        is addressed to: examiners, supervisors, auditors); recorded as a view of the search."""
        self.requests.expire_overdue()
        with self.ctx.write() as session:
            row = visible_request(session, actor, request_id)
            if row.target_agency_id != actor.agency_id:
                raise NotFound(f"no review of request {request_id} in your agency")
            require(actor, "review.read", actor.side(row.agency_id))
            info = describe(session, actor, [row])[0]
            searches = self.searches.of_request(session, actor, row.id)
            search = searches[-1] if searches else None
            probe = photo_queries.file(session, row.probe_image_id) if row.probe_image_id else None
            crop = photo_queries.file(session, row.probe_crop_id) if row.probe_crop_id else None
            pair = two_person(session, row)
            views = self._views(session, actor, row.id, row.agency_id, search, pair) if search else []
            if search is not None:
                self.ctx.audit(session, actor, "search.viewed", "search", search.id, {"request_id": row.id})
            reviewer = permits(actor, "candidate.review", actor.side(row.agency_id))
            concludable = reviewer and row.status == "searched" and all(rules.decided(v.state) for v in views)
            return Workspace(info, search, photo_info(probe) if probe else None, photo_info(crop) if crop else None,
                             views, pair, concludable)  # fmt: skip

    def _views(self, session, actor: Actor, request_id: int, owner: int, search: SearchResult,  # type: ignore[no-untyped-def]
               pair: bool) -> list[CandidateView]:  # fmt: skip
        """Each candidate of ``search`` with its photos, quality, state and reviews."""
        templates = [c.template_id for c in search.candidates if c.template_id is not None]
        photos = [p for p in photo_queries.of_templates(session, templates)
                  if permits(actor, "photo.read", actor.side(p.agency_id))]  # fmt: skip
        by_template = {(p.template_id, p.kind): photo_info(p) for p in photos}
        qualities = search_queries.template_qualities(session, templates)
        reviews = review_queries.of_request(session, request_id)
        visible = {r.id: r for r in self.review.visible(session, actor, request_queries.request(session, request_id))}  # type: ignore[arg-type]
        reviewer = permits(actor, "candidate.review", actor.side(owner))
        views = []
        for c in search.candidates:
            of_c = [r for r in reviews if r.candidate_id == c.id]
            facts = [rules.ReviewFact(r.reviewer_id, r.stage, r.disposition) for r in of_c]
            state = rules.state_seen_by(facts, actor.user_id, actor.role, pair)
            shown = [visible[r.id] for r in of_c if r.id in visible]
            mine = next((r for r in shown if r.reviewer_id == actor.user_id), None)
            resolves = state == "disagreement" and actor.role == "supervisor"
            can_review = reviewer and mine is None and (state == "pending" or resolves)
            source = by_template.get((c.template_id, "enrolment-source"))
            crop = by_template.get((c.template_id, "enrolment-crop"))
            quality = qualities.get(c.template_id) if c.template_id is not None else None
            views.append(CandidateView(c, state, quality, source, crop, mine, shown, can_review))
        return views
