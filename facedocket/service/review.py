"""Human review: dispositions per candidate, the blind second review, conclusion and release.

Examiners record a disposition with a rationale for each candidate. Under a two-person rule
a second, different reviewer decides without seeing the first decision: nothing a reviewer
can reach (review lists, the case file, the audit log) shows another's disposition until
both are in. The audit event of a review (``candidate.reviewed``) holds its stage, never
its disposition; once a candidate's reviews are complete, ``candidate.decided`` records
every disposition. A disagreement stays open until a supervisor resolves it. Concluding
sets the outcome (``lead`` when any candidate is a possible match) and releases candidates
to the requester's side (:func:`facedocket.governance.review.sees_unreleased`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from facedocket.errors import Conflict, Forbidden, InvalidInput, NotFound
from facedocket.governance import requests as machine
from facedocket.governance import review as rules
from facedocket.governance.permissions import Actor, require
from facedocket.service.context import Area, Context
from facedocket.service.inputs import text
from facedocket.service.policy import policy_of
from facedocket.service.request_info import describe
from facedocket.service.requests import RequestInfo, Requests, state_of, visible_request
from facedocket.store.queries import accounts as account_queries
from facedocket.store.queries import requests as request_queries
from facedocket.store.queries import reviews as queries
from facedocket.store.tables import Request, Review
from facedocket.vocab import DISPOSITIONS


@dataclass(frozen=True)
class ReviewInfo:
    id: int
    candidate_id: int
    reviewer_id: int
    reviewer: str
    stage: str
    disposition: str
    rationale: str
    created: datetime


def _facts(reviews: list[Review]) -> list[rules.ReviewFact]:
    return [rules.ReviewFact(r.reviewer_id, r.stage, r.disposition) for r in reviews]


def two_person(session: Session, row: Request) -> bool:
    active = policy_of(session, row.target_agency_id)
    return bool(active and active.profile.review.two_person)


def candidate_states(session: Session, row: Request) -> dict[int, str]:
    """candidate id -> its decision: a disposition, or ``pending`` / ``awaiting-second`` /
    ``disagreement``."""
    pair = two_person(session, row)
    by_candidate: dict[int, list[Review]] = {cid: [] for cid in request_queries.candidate_ids(session, row.id)}
    for r in queries.of_request(session, row.id):
        by_candidate.setdefault(r.candidate_id, []).append(r)
    return {cid: rules.candidate_state(_facts(reviews), pair) for cid, reviews in by_candidate.items()}


class ReviewArea(Area):
    """Reviewing candidates and concluding a request (see the module docstring)."""

    def __init__(self, ctx: Context, requests: Requests) -> None:
        super().__init__(ctx)
        self.requests = requests

    def review_candidate(self, actor: Actor, request_id: int, candidate_id: int, disposition: str,
                         rationale: str) -> ReviewInfo:  # fmt: skip
        """Record a disposition with a rationale (see the module docstring)."""
        require(actor, "candidate.review")
        if disposition not in DISPOSITIONS:
            raise InvalidInput(f"disposition must be one of: {', '.join(DISPOSITIONS)}")
        rationale = text(rationale, "rationale")
        if not rationale:
            raise InvalidInput("a review needs a rationale")
        with self.ctx.write() as session:
            row = self._unit_request(session, actor, request_id, "review")
            candidate = queries.candidate_of_request(session, row.id, candidate_id)
            if candidate is None:
                raise NotFound(f"no candidate {candidate_id} in request {row.id}")
            pair = two_person(session, row)
            earlier = queries.of_candidate(session, candidate.id)
            if any(r.reviewer_id == actor.user_id for r in earlier):
                raise Conflict("you have reviewed this candidate already; each reviewer decides once")
            state = rules.candidate_state(_facts(earlier), pair)
            if rules.decided(state):
                raise Conflict(f"candidate {candidate.id} is decided ({state})")
            stage = rules.next_stage(_facts(earlier), pair)
            if stage == "resolution":
                require(actor, "candidate.resolve", actor.side(row.agency_id))
            review = Review(request_id=row.id, candidate_id=candidate.id, reviewer_id=actor.user_id, stage=stage,
                            disposition=disposition, rationale=rationale, created=self.clock())  # fmt: skip
            session.add(review)
            session.flush()
            self.ctx.audit(session, actor, "candidate.reviewed", "candidate", candidate.id,
                           {"request_id": row.id, "stage": stage, "review_id": review.id})  # fmt: skip
            every = [*earlier, review]
            if stage == "resolution" or len(every) == (2 if pair else 1):  # the reviews are complete now
                unsealed = [{"stage": r.stage, "disposition": r.disposition} for r in every]
                state = rules.candidate_state(_facts(every), pair)
                self.ctx.audit(session, actor, "candidate.decided", "candidate", candidate.id,
                               {"request_id": row.id, "state": state, "reviews": unsealed})  # fmt: skip
            return ReviewInfo(review.id, candidate.id, actor.user_id, actor.username, stage, disposition, rationale,
                              review.created)  # fmt: skip

    def _unit_request(self, session: Session, actor: Actor, request_id: int, step: str) -> Request:
        """The locked request, addressed to the actor's unit, in a state that allows ``step``."""
        row = visible_request(session, actor, request_id, lock=True)
        if row.target_agency_id != actor.agency_id:
            raise Forbidden("only the receiving agency's examiners review candidates")
        require(actor, "candidate.review", actor.side(row.agency_id))
        if self.requests.expire_if_overdue(session, row):
            raise Conflict(f"request {row.id} expired before approval and was purged")
        machine.check(state_of(row), step, request_id=row.id)
        return row

    def conclude_request(self, actor: Actor, request_id: int, release: list[int] | None = None) -> RequestInfo:
        """Set the outcome once every candidate is decided: ``lead`` when any is a possible
        match, else ``no-lead`` (an empty list is a no-lead). Candidates released to the
        requesting side: ``release``, or by default the possible matches."""
        require(actor, "candidate.review")
        with self.ctx.write() as session:
            row = self._unit_request(session, actor, request_id, "conclude")
            states = candidate_states(session, row)
            still_open = [cid for cid, state in states.items() if not rules.decided(state)]
            if still_open:
                raise Conflict(f"candidates {', '.join(map(str, still_open))} are not decided yet")
            chosen = rules.release(states, release)
            unknown = sorted(set(chosen) - set(states))
            if unknown:
                raise NotFound(f"no candidate {unknown[0]} in request {row.id}")
            queries.release(session, chosen)
            row.outcome = rules.outcome(states)
            row.status = machine.step(state_of(row), "conclude", self.clock(), request_id=row.id).status
            self.requests.audit_both(session, actor, "request.reviewed", row,
                                     {"outcome": row.outcome, "released": chosen})  # fmt: skip
            return describe(session, actor, [row])[0]

    def list_reviews(self, actor: Actor, request_id: int) -> list[ReviewInfo]:
        """Reviews of the request the actor may see (blind: see the module docstring)."""
        with self.ctx.read() as session:
            row = visible_request(session, actor, request_id)
            if row.target_agency_id != actor.agency_id:
                raise NotFound(f"no reviews of request {request_id} in your agency")
            require(actor, "review.read", actor.side(row.agency_id))
            return self.visible(session, actor, row)

    def visible(self, session: Session, actor: Actor, row: Request) -> list[ReviewInfo]:
        """The request's reviews the actor may see, oldest first."""
        reviews = queries.of_request(session, row.id)
        by_candidate: dict[int, list[Review]] = {}
        for r in reviews:
            by_candidate.setdefault(r.candidate_id, []).append(r)
        shown = rules.visible_reviews({c: _facts(rs) for c, rs in by_candidate.items()}, actor.user_id, actor.role,
                                      two_person(session, row))  # fmt: skip
        names = account_queries.usernames(session, {r.reviewer_id for r in reviews})
        return [ReviewInfo(r.id, r.candidate_id, r.reviewer_id, names.get(r.reviewer_id, "?"), r.stage, r.disposition,
                           r.rationale, r.created)
                for r in reviews if (r.candidate_id, r.reviewer_id) in shown]  # fmt: skip
