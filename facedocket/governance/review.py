"""Human review of candidates: what reviews add up to, who sees what, and what is released.

* :func:`candidate_state`: the decision a candidate's reviews add up to. Under a two-person
  rule a second, different reviewer decides blind; a disagreement waits for a supervisor's
  resolution.
* :func:`visible_reviews`, :func:`state_seen_by`: the blind rule. Nobody who reviews sees
  another reviewer's decision on a candidate, nor that one was made, until the decision is
  final; auditors see every review.
* :func:`sees_unreleased`: the one release rule. Only the face-search unit of the agency a
  request is addressed to (its examiners, supervisors and auditors) sees candidates before
  they are released; everyone else (the requester, even inside the same agency, and any role
  of a requesting agency) sees released candidates only.
* :func:`candidate_summary`: what a candidate list says, true for whoever reads it.

Example::

    candidate_state([("first", "possible-match")], two_person=True)   # "awaiting-second"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from facedocket.governance.permissions import OWN, roles_for
from facedocket.vocab import DISPOSITIONS, LEAD_LABEL

OPEN_STATES = ("pending", "awaiting-second", "disagreement")
"""A candidate in one of these states is not decided yet."""

EMPTY = "no candidate above threshold"
UNDER_REVIEW = "candidates under review; none released yet"
NONE_RELEASED = "review concluded; no candidate released to you"


@dataclass(frozen=True)
class ReviewFact:
    """One review as the rules see it."""

    reviewer_id: int
    stage: str
    disposition: str


class Decision(Protocol):
    """Anything with a review's stage and disposition."""

    @property
    def stage(self) -> str: ...

    @property
    def disposition(self) -> str: ...


def candidate_state(reviews: Sequence[Decision], two_person: bool) -> str:
    """The decision ``reviews`` (oldest first) add up to: a disposition, or ``pending``,
    ``awaiting-second`` or ``disagreement``."""
    resolution = [r for r in reviews if r.stage == "resolution"]
    if resolution:
        return resolution[-1].disposition
    if not reviews:
        return "pending"
    if not two_person:
        return reviews[0].disposition
    if len(reviews) < 2:
        return "awaiting-second"
    first, second = reviews[0].disposition, reviews[1].disposition
    return first if first == second else "disagreement"


def decided(state: str) -> bool:
    return state in DISPOSITIONS


def next_stage(reviews: Sequence[ReviewFact], two_person: bool) -> str:
    """The stage of the next review of a candidate: ``first``, ``second`` or ``resolution``
    (a supervisor's, after a disagreement)."""
    state = candidate_state(reviews, two_person)
    if state == "disagreement":
        return "resolution"
    return "first" if not reviews else "second"


def complete(reviews: Sequence[ReviewFact], two_person: bool) -> bool:
    """Whether every review a candidate needs is in (one, or two under a two-person rule):
    until then the reviews are sealed from everyone who reviews."""
    return bool(reviews) and (not two_person or len(reviews) >= 2)


def visible_reviews(
    by_candidate: dict[int, list[ReviewFact]], viewer_id: int, viewer_role: str, two_person: bool
) -> set[tuple[int, int]]:
    """(candidate id, reviewer id) pairs the viewer may see: everything for auditors; else a
    reviewer's own reviews, and others' once the candidate's reviews are complete (blind)."""
    shown: set[tuple[int, int]] = set()
    for candidate_id, reviews in by_candidate.items():
        unsealed = complete(reviews, two_person)
        for r in reviews:
            if viewer_role == "auditor" or unsealed or r.reviewer_id == viewer_id:
                shown.add((candidate_id, r.reviewer_id))
    return shown


def state_seen_by(reviews: Sequence[ReviewFact], viewer_id: int, viewer_role: str, two_person: bool) -> str:
    """A candidate's state as one viewer may see it (blind): the decision once its reviews are
    complete (a disposition, or ``disagreement``); before that ``awaiting-second`` to the
    reviewer who decided, and ``pending`` to everyone else, whether or not someone else has
    decided (auditors see the true state)."""
    if viewer_role == "auditor" or complete(reviews, two_person):
        return candidate_state(reviews, two_person)
    if any(r.reviewer_id == viewer_id for r in reviews):
        return "awaiting-second"
    return "pending"


def sees_unreleased(role: str, receiving: bool) -> bool:
    """Whether a reader sees candidates before release: the unit the request is addressed to
    (roles allowed to read reviews there), never the requester's side."""
    return receiving and role in roles_for("review.read", OWN)


def release(states: dict[int, str], chosen: Iterable[int] | None) -> list[int]:
    """The candidates a conclusion releases: ``chosen``, or by default the possible matches."""
    if chosen is None:
        return sorted(c for c, s in states.items() if s == "possible-match")
    return sorted(set(int(c) for c in chosen))


def outcome(states: dict[int, str]) -> str:
    """``lead`` when any candidate is a possible match, else ``no-lead``."""
    return "lead" if any(s == "possible-match" for s in states.values()) else "no-lead"


def candidate_summary(shown: int, total: int, concluded: bool) -> str:
    """What a candidate list says to its reader: the count shown, or why none is shown."""
    if shown:
        return f"{shown} candidate(s): {LEAD_LABEL}"
    if total == 0:
        return EMPTY
    return NONE_RELEASED if concluded else UNDER_REVIEW
