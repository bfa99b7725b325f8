"""The holes in the limits found by hand (issue 10, section 3), each pinned as a test of the
behaviour the fix must have, on SQLite and PostgreSQL.

Every call into the service goes through the small helpers right below, so when the
service's methods move (areas instead of mixins) only those helpers change. The one seam
these tests need that the service does not have yet is :func:`after_gate` (see there).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from policy_texts import PERMISSIVE
from sqlalchemy import func, select, update

from facedocket.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyDenied, Unauthorized
from facedocket.governance.explain import explain
from facedocket.governance.policy import PROFILES_DIR, PolicyProfile, load_profile, shipped_profiles
from facedocket.governance.rules import floor_score
from facedocket.service import Actor, EnrolItem, IssuedToken, RequestDraft, RequestInfo, SearchResult, Service
from facedocket.service.search import EMPTY_LABEL
from facedocket.store.tables import Candidate, Gallery, Search
from facedocket.vision.models import DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID, default_threshold, threshold_at_fmr

from .conftest import ServiceFactory
from .support import (
    NO_FACE,
    Agency,
    World,
    approved_request,
    items_for,
    make_world,
    photo,
    probe,
    second_agency,
)

# --- calls into the service (the one place to rename them) ------------------------------


def activate_text(service: Service, admin: Actor, text: str) -> PolicyProfile:
    """Activate an uploaded profile (TOML text) for the admin's agency."""
    return service.policy.activate_policy_text(admin, text)


def activate_file(service: Service, admin: Actor, name_or_path: str) -> PolicyProfile:
    """Activate a shipped profile by name, or a profile file by path."""
    return service.policy.activate_policy(admin, name_or_path)


def active_profile(service: Service, actor: Actor) -> PolicyProfile | None:
    return service.policy.active_policy(actor)


def add_user(service: Service, admin: Actor, username: str, role: str) -> tuple[Actor, str]:
    """A new user of the admin's agency (who makes their own token with the activation token
    the admin hands over): the actor and that token's secret."""
    _info, activation = service.accounts.create_user(admin, username, role)
    own = service.accounts.create_token(service.accounts.authenticate(activation.secret), name="tests")
    return service.accounts.authenticate(own.secret), own.secret


def authenticate(service: Service, secret: str) -> Actor:
    return service.accounts.authenticate(secret)


def mint_token(service: Service, actor: Actor, user_id: int | None = None) -> IssuedToken:
    return service.accounts.create_token(actor, user_id, "laptop")


def revoke_token(service: Service, actor: Actor, token_id: int) -> None:
    service.accounts.revoke_token(actor, token_id)


def set_active(service: Service, admin: Actor, user_id: int, active: bool) -> None:
    service.accounts.set_user_active(admin, user_id, active)


def new_gallery(service: Service, admin: Actor, name: str, purpose: str) -> int:
    return service.galleries.create_gallery(admin, name, "photos taken for this test", purpose).id


def enrol(service: Service, actor: Actor, gallery_id: int, items: list[EnrolItem]) -> dict[str, int]:
    """Enrol photos; the outcome counts."""
    return dict(service.enrolment.enroll(actor, gallery_id, items).counts)


def rebuild_index(service: Service, actor: Actor, gallery_id: int) -> int:
    return service.galleries.rebuild_index(actor, gallery_id)


def subjects(service: Service, actor: Actor, gallery_id: int) -> list[Any]:
    return list(service.galleries.list_subjects(actor, gallery_id))


def subject(service: Service, actor: Actor, subject_id: int) -> Any:
    return service.galleries.get_subject(actor, subject_id)


def export_subject(service: Service, actor: Actor, subject_id: int) -> dict[str, Any]:
    return service.oversight.export_subject(actor, subject_id).as_dict()


def set_gallery_retention(service: Service, admin: Actor, gallery_id: int, days: int | None) -> None:
    service.galleries.set_gallery_retention(admin, gallery_id, days)


def run_retention(service: Service) -> Any:
    """The scheduled retention run, for every agency."""
    return service.oversight.retention_run()


def new_case(service: Service, actor: Actor, offence: str = "robbery") -> int:
    return service.requests.create_case(actor, f"H-{next(_case_numbers):05d}", offence, "holes test").id


def file_request(service: Service, actor: Actor, draft: RequestDraft, photo: bytes, submit: bool = True) -> RequestInfo:
    return service.requests.file_request(actor, draft, photo, submit=submit)


def decide(service: Service, supervisor: Actor, request_id: int, approve: bool) -> RequestInfo:
    return service.requests.decide_request(supervisor, request_id, approve, "decided in a holes test")


def get_request(service: Service, actor: Actor, request_id: int) -> RequestInfo:
    return service.requests.get_request(actor, request_id)


def list_requests(service: Service, actor: Actor) -> list[RequestInfo]:
    return service.requests.list_requests(actor)


def probe_image(service: Service, actor: Actor, request_id: int) -> bytes:
    return service.requests.probe_image(actor, request_id)


def expire_overdue(service: Service) -> list[int]:
    return service.requests.expire_overdue()


def search(service: Service, actor: Actor, request_id: int, **options: Any) -> SearchResult:
    """A 1:N search under a request (``gallery_ids``, ``k``, ``threshold``)."""
    return service.searches.search(actor, request_id, **options)


def get_search(service: Service, actor: Actor, search_id: int) -> SearchResult:
    return service.searches.get_search(actor, search_id)


def request_searches(service: Service, actor: Actor, request_id: int) -> list[SearchResult]:
    return service.searches.request_searches(actor, request_id)


def list_searches(service: Service, actor: Actor) -> list[SearchResult]:
    return service.searches.list_searches(actor)


def review(service: Service, actor: Actor, request_id: int, candidate_id: int, disposition: str, why: str) -> Any:
    return service.review.review_candidate(actor, request_id, candidate_id, disposition, why)


def reviews(service: Service, actor: Actor, request_id: int) -> list[Any]:
    return list(service.review.list_reviews(actor, request_id))


def conclude(service: Service, actor: Actor, request_id: int, release: list[int] | None = None) -> RequestInfo:
    return service.review.conclude_request(actor, request_id, release)


def export_case(service: Service, actor: Actor, request_id: int) -> str:
    """The case file (HTML) of one request."""
    return service.reports.export_request(actor, request_id)


def audit_events(service: Service, actor: Actor, **filters: Any) -> list[dict[str, Any]]:
    """Audit events newest first (``action``, ``object_type``, ``object_id``)."""
    return [e.as_dict() for e in service.audit.list_audit(actor, **filters)]


@contextmanager
def after_gate(service: Service, callback: Callable[[], object]) -> Iterator[list[bool]]:
    """Run ``callback`` once, in the searching thread, after a search has passed the policy
    gate and before its candidates are written, with no transaction of the search open (the
    service's ``after_gate`` hook, a seam that does nothing by default). The list it yields
    is non-empty once the callback ran."""
    fired: list[bool] = []

    def hook(_request_id: int) -> None:
        if not fired:
            fired.append(True)
            callback()

    service.ctx.hooks.after_gate = hook
    try:
        yield fired
    finally:
        service.ctx.hooks.after_gate = None


# --- reading the database directly (what no service call may hide) ----------------------


def candidate_rows(service: Service, request_id: int) -> int:
    """Candidate rows stored under any search of the request."""
    with service.sessions() as session:
        query = (
            select(func.count())
            .select_from(Candidate)
            .join(Search, Search.id == Candidate.search_id)
            .where(Search.request_id == request_id)
        )
        return int(session.scalar(query) or 0)


def force_gallery_retention(service: Service, gallery_id: int, days: int) -> None:
    """Write a gallery's retention period straight into its row: data stored before periods
    were bounded (the service itself must refuse such a period now)."""
    with service.sessions.begin() as session:
        session.execute(update(Gallery).where(Gallery.id == gallery_id).values(retention_days=days))


# --- policy texts, requests, races -------------------------------------------------------

CARD_THRESHOLD = default_threshold()
"""The model card's threshold for a false-match rate of 1e-3: no floor may be looser."""
CARD_FMR = 1e-3

SHIPPED = "massachusetts-2020"
BASIC_FIELDS = ("case_number", "offence_category", "legal_basis", "justification")
FIRST_RATIONALE = "FIRST-REVIEWER-7f3a: same notch in the left eyebrow"
FIRST_DISPOSITION = "possible-match"
PERSON = "Amelia_Vega"

_case_numbers = iter(range(1, 1_000_000))


def profile_text(
    name: str,
    *,
    floor: float | None = CARD_FMR,
    two_person: bool = False,
    offences: tuple[str, ...] = ("*",),
    purposes: tuple[str, ...] = ("*",),
    required: tuple[str, ...] = BASIC_FIELDS,
    document_for: tuple[str, ...] = (),
    retention: dict[str, int] | None = None,
) -> str:
    """An operational profile of this test's own (not a shipped name): warrants and court
    orders first approved, emergencies searched first with 48 hours to approve."""
    lines = [
        f'name = "{name}"',
        f'title = "Holes test profile {name}"',
        'summary = "A profile for the tests of issue 10\'s holes."',
        "[requests]",
        'legal_bases = ["court-order", "warrant", "emergency"]',
        f"required_fields = {json.dumps(list(required))}",
        f"document_required_for = {json.dumps(list(document_for))}",
        f"offence_categories = {json.dumps(list(offences))}",
        "approval_before_search = true",
        'emergency_bases = ["emergency"]',
        "emergency_deadline_hours = 48",
        "[search]",
        *([f"threshold_floor_fmr = {floor!r}"] if floor is not None else []),
        "max_candidates = 100",
        f"gallery_purposes = {json.dumps(list(purposes))}",
        "[review]",
        f"two_person = {'true' if two_person else 'false'}",
    ]
    if retention:
        lines += ["[retention]", *(f"{key} = {value}" for key, value in retention.items())]
    return "\n".join(lines) + "\n"


BASE = profile_text("holes-base")
TWO_PERSON = profile_text("holes-two-person", two_person=True)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def shipped_text(name: str) -> str:
    return (PROFILES_DIR / f"{name}.toml").read_text(encoding="utf-8")


def draft(
    service: Service,
    agency: Agency,
    *,
    basis: str = "warrant",
    offence: str = "robbery",
    document: bool = True,
    sha: bool = True,
    galleries: list[int] | None = None,
    target: Agency | None = None,
    probe_source: str = "still-image",
) -> RequestDraft:
    """A written request of ``agency``'s requester (with its document and the document's
    SHA-256 unless told not)."""
    papers = {
        "document_type": "court order", "document_reference": "CO-2026-7", "document_issuer": "Superior Court",
        "document_date": "2026-11-20",
    } if document else {}  # fmt: skip
    if sha:
        papers["document_sha256"] = "ab" * 32
    return RequestDraft(
        new_case(service, agency.requester, offence), basis, "suspect filmed by a bank's CCTV",
        galleries=list(galleries or []), target_agency_id=target.id if target else None, probe_source=probe_source,
        **papers,
    )  # fmt: skip


def world_with(service_factory: ServiceFactory, policy: str = BASE, clock: Any = None, enrolled: bool = True) -> World:
    """A fresh world under ``policy``, with one person (three photos) enrolled."""
    service = service_factory(clock=clock) if clock else service_factory()
    world = make_world(service, policy)
    if enrolled:
        counts = enrol(service, world.admin, world.gallery.id, items_for({PERSON: [1, 2, 3]}))
        assert counts.get("enrolled") == 3, counts
    return world


def policy_rules(refusal: PolicyDenied) -> list[str]:
    return [rule for rule, _why in refusal.failures]


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; each one's result or exception."""
    go = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(slot: int, call: Callable[[], Any]) -> None:
        go.wait()
        try:
            results[slot] = call()
        except BaseException as error:  # judged by the test
            results[slot] = error

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing call hung"
    return results


def _said(outcomes: list[Any]) -> list[str]:
    """What each racing call ended with, in a few words."""
    return [
        f"{type(o).__name__}: {o}" if isinstance(o, BaseException) else getattr(o, "approval", None) or type(o).__name__
        for o in outcomes
    ]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


# --- 1. policy spoofing ------------------------------------------------------------------


def test_a_shipped_name_on_edited_text_is_refused(world: World, tmp_path: Path) -> None:
    """Hole: an admin activated massachusetts-2020's text, edited (no approval before search,
    floor -1), under the same name; searches then ran unapproved at -1 while requests and the
    audit log said massachusetts-2020. Fixed: only the shipped file may carry a shipped name —
    an upload or a file with a shipped name and other text is refused (the message says
    "shipped"), nothing changes and nothing is recorded as activated."""
    service, admin = world.service, world.admin
    before = active_profile(service, admin)
    assert before is not None
    original = shipped_text(SHIPPED)
    unapproved = original.replace("approval_before_search = true", "approval_before_search = false")
    assert unapproved != original
    loose = unapproved.replace("threshold_floor_fmr = 1e-3", "threshold_floor = -1.0")
    assert loose != unapproved  # the exact edit: both changes
    path = tmp_path / f"{SHIPPED}.toml"
    path.write_text(unapproved, encoding="utf-8")

    with pytest.raises((InvalidInput, Forbidden), match="shipped"):
        activate_text(service, admin, unapproved)
    with pytest.raises((InvalidInput, Forbidden), match="shipped"):
        activate_file(service, admin, str(path))
    with pytest.raises((InvalidInput, Forbidden)):
        activate_text(service, admin, loose)
    after = active_profile(service, admin)
    assert after is not None and after.name == before.name
    named = [e for e in audit_events(service, admin, action="policy.activated") if e["details"]["profile"] == SHIPPED]
    assert named == []


def test_the_active_profiles_sha256_is_recorded_on_activation_requests_and_searches(
    service_factory: ServiceFactory,
) -> None:
    """Hole: nothing recorded which text a profile name stood for. Fixed: the SHA-256 of the
    activated profile's text (UTF-8) is in its ``policy.activated`` event (details
    ``policy_sha256``) and on every request and search (``RequestInfo.policy_sha256`` and
    ``SearchResult.policy_sha256``, the field names this test decides); a shipped profile's
    is the SHA-256 of its file. A custom profile under its own name activates."""
    world = world_with(service_factory)
    service, admin, op = world.service, world.admin, world.operator

    activate_file(service, admin, SHIPPED)
    (event, *_older) = audit_events(service, admin, action="policy.activated")
    assert event["details"].get("policy_sha256") == hashlib.sha256((PROFILES_DIR / f"{SHIPPED}.toml").read_bytes())\
        .hexdigest(), event  # fmt: skip

    text = profile_text("sp-own-rules")
    assert activate_text(service, admin, text).name == "sp-own-rules"
    (event, *_older) = audit_events(service, admin, action="policy.activated")
    assert event["details"].get("policy_sha256") == sha256_text(text), event

    request_id = approved_request(service, op, probe(PERSON), [world.gallery.id])
    result = search(service, op.examiner, request_id)
    assert result.candidates
    assert getattr(get_request(service, op.requester, request_id), "policy_sha256", None) == sha256_text(text)
    assert getattr(result, "policy_sha256", None) == sha256_text(text)
    assert getattr(get_search(service, op.examiner, result.id), "policy_sha256", None) == sha256_text(text)


def test_no_profile_sets_a_floor_below_the_model_cards_threshold(world: World) -> None:
    """Hole: a profile could set ``search.threshold_floor`` to -1. Fixed: the floor is a
    false-match rate (``search.threshold_floor_fmr``) of at most 1e-3, so it never resolves
    below the model card's FMR 1e-3 threshold; a looser rate is refused naming the rule, and
    the old score key (-1.0) is refused too; a floor at the card's rate is fine."""
    service, admin = world.service, world.admin
    for floor in (0.5, 0.01, 0.0011):
        with pytest.raises(InvalidInput, match=r"search\.threshold_floor_fmr"):
            activate_text(service, admin, profile_text("sp-loose", floor=floor))
    legacy = profile_text("sp-legacy", floor=None).replace("[search]\n", "[search]\nthreshold_floor = -1.0\n")
    with pytest.raises(InvalidInput, match=r"search\.threshold_floor"):
        activate_text(service, admin, legacy)
    profile = activate_text(service, admin, profile_text("sp-at-card"))
    assert floor_score(profile, TEMPLATE_MODEL_ID) == CARD_THRESHOLD


def test_a_profile_without_a_floor_does_not_search_below_the_card_threshold(world: World) -> None:
    """Hole: ``search.threshold_floor`` defaults to -1.0, so a profile that leaves it out has
    no floor at all. Fixed: such a profile is refused (naming search.threshold_floor) or gets
    the model card's FMR 1e-3 threshold as its floor."""
    service, admin = world.service, world.admin
    profile = activate_text(service, admin, profile_text("sp-no-floor", floor=None))
    assert floor_score(profile, TEMPLATE_MODEL_ID) >= CARD_THRESHOLD


def test_a_search_below_the_card_threshold_is_refused_by_the_gate(world: World) -> None:
    """Hole: with the test profile (floor -1.0) a search at threshold 0.5 ran. Fixed: whatever
    profile is active, the gate refuses a search whose threshold is below the model card's
    FMR 1e-3 threshold, naming a threshold rule (search.threshold_floor). (0.5 was below
    dlib's floor; the gallery's model is now SFace, so the loose threshold is SFace's score
    at a false-match rate of 1e-2.)"""
    service, op = world.service, world.operator
    request_id = approved_request(service, op, probe(PERSON), [world.gallery.id])
    assert world.gallery.model_id == DEFAULT_MODEL_ID
    with pytest.raises(PolicyDenied) as refused:
        search(service, op.examiner, request_id, threshold=threshold_at_fmr(DEFAULT_MODEL_ID, 1e-2))
    assert any("threshold" in rule for rule in policy_rules(refused.value)), refused.value.failures


# --- 2. blind review ---------------------------------------------------------------------


def test_the_second_reviewer_cannot_read_the_first_decision(service_factory: ServiceFactory) -> None:
    """Hole: under a two-person rule the second reviewer downloaded the case export and read
    the first reviewer's disposition in its audit-events table. Fixed: until both decisions
    are in, nothing the second reviewer can reach shows the first decision — the case export
    (neither the first disposition nor its rationale appears more often than before the first
    review), the audit events (if the role may list them), the search views, the review list,
    the request."""
    world = world_with(service_factory, TWO_PERSON)
    service, op = world.service, world.operator
    second, _secret = add_user(service, op.admin, "sp-examiner-2", "examiner")
    request_id = approved_request(service, op, probe(PERSON), [world.gallery.id])
    result = search(service, op.examiner, request_id, k=1)
    (candidate,) = result.candidates
    baseline = export_case(service, second, request_id)

    review(service, op.examiner, request_id, candidate.id, FIRST_DISPOSITION, FIRST_RATIONALE)

    exported = export_case(service, second, request_id)
    assert FIRST_RATIONALE not in exported
    assert exported.count(FIRST_DISPOSITION) == baseline.count(FIRST_DISPOSITION), (
        "the case export shows the first reviewer's disposition to the second reviewer"
    )
    views: list[Any] = [
        get_request(service, second, request_id),
        request_searches(service, second, request_id),
        get_search(service, second, result.id),
        list_searches(service, second),
        reviews(service, second, request_id),
    ]
    with suppress(Forbidden):  # a role that may not list the audit log sees nothing there
        views.append(audit_events(service, second))
    seen = repr(views)
    assert FIRST_RATIONALE not in seen and FIRST_DISPOSITION not in seen

    review(service, second, request_id, candidate.id, "not-a-match", "different ear lobes")
    assert FIRST_RATIONALE in export_case(service, second, request_id)  # both are in: nothing is hidden now


# --- 3. races ----------------------------------------------------------------------------

TRIES = 6


def test_approve_and_deny_racing_on_one_request(service_factory: ServiceFactory) -> None:
    """Hole: approve and deny posted at once on one request both succeeded (4 of 6 tries),
    both were logged, and the final state was whichever committed last. Fixed: exactly one
    decision wins, the other gets Conflict, the request holds the winner's decision and the
    audit log exactly one decision event."""
    world = world_with(service_factory, enrolled=False)
    service, op = world.service, world.operator
    other_supervisor, _secret = add_user(service, op.admin, "sp-supervisor-2", "supervisor")
    for attempt in range(TRIES):
        request = file_request(service, op.requester, draft(service, op), probe(PERSON))
        outcomes = race(
            partial(decide, service, op.supervisor, request.id, True),
            partial(decide, service, other_supervisor, request.id, False),
        )
        won = [o for o in outcomes if isinstance(o, RequestInfo)]
        lost = [o for o in outcomes if not isinstance(o, RequestInfo)]
        assert len(won) == 1 and all(isinstance(o, Conflict) for o in lost), f"try {attempt}: {_said(outcomes)}"
        assert get_request(service, op.requester, request.id).approval == won[0].approval
        decisions = [
            e["action"]
            for e in audit_events(service, op.auditor, object_type="request", object_id=str(request.id))
            if e["action"] in ("request.approved", "request.denied")
        ]
        assert len(decisions) == 1, f"try {attempt}: {decisions}"


def test_a_denial_between_the_gate_and_the_candidate_write_leaves_no_candidates(
    service_factory: ServiceFactory,
) -> None:
    """Hole: an emergency search passed the gate, the request was denied, and the search then
    recorded its candidates on the denied request. Fixed: the search re-checks the request
    under a lock in the transaction that writes the candidates; a request denied meanwhile
    gets no candidates (the search is refused, or returns none) and stays denied."""
    world = world_with(service_factory)
    service, op = world.service, world.operator
    request = file_request(service, op.requester, draft(service, op, basis="emergency", galleries=[world.gallery.id]),
                           probe(PERSON))  # fmt: skip
    assert request.emergency and request.approval == "pending"

    with after_gate(service, lambda: decide(service, op.supervisor, request.id, False)) as fired:
        try:
            result: SearchResult | None = search(service, op.examiner, request.id)
        except (PolicyDenied, Conflict):
            result = None
    assert fired, "the after-gate seam never ran"
    assert get_request(service, op.examiner, request.id).approval == "denied"
    assert candidate_rows(service, request.id) == 0, "the denied request holds candidates"
    assert result is None or result.candidates == []


def test_an_expiry_between_the_gate_and_the_candidate_write_leaves_no_candidates(
    service_factory: ServiceFactory,
) -> None:
    """Hole: an emergency request's deadline passed (and the expiry job purged it) while a
    second search was between the gate and the candidate write; the search then recorded
    candidates on the expired, purged request. Fixed: the write re-checks under a lock; an
    expired request gets no candidates."""
    clock = Clock()
    world = world_with(service_factory, clock=clock)
    service, op = world.service, world.operator
    request = file_request(service, op.requester, draft(service, op, basis="emergency", galleries=[world.gallery.id]),
                           probe(PERSON))  # fmt: skip
    assert search(service, op.examiner, request.id).candidates  # starts the 48-hour deadline

    def expire() -> None:
        clock.now += timedelta(hours=49)
        assert expire_overdue(service) == [request.id]

    with after_gate(service, expire) as fired:
        try:
            result: SearchResult | None = search(service, op.examiner, request.id)
        except (PolicyDenied, Conflict):
            result = None
    assert fired, "the after-gate seam never ran"
    assert get_request(service, op.examiner, request.id).approval == "expired"
    assert candidate_rows(service, request.id) == 0, "the expired request holds candidates"
    assert result is None or result.candidates == []


def test_two_reviewers_posting_at_once_are_not_both_first(service_factory: ServiceFactory) -> None:
    """Hole: two reviewers posting on one two-person candidate at the same moment were both
    stored as the "first" review. Fixed: one is first and the other second (or the other gets
    Conflict); never two firsts."""
    world = world_with(service_factory, TWO_PERSON)
    service, op = world.service, world.operator
    second, _secret = add_user(service, op.admin, "sp-examiner-2", "examiner")
    request_id = approved_request(service, op, probe(PERSON), [world.gallery.id])
    candidates = [c.id for _ in range(4) for c in search(service, op.examiner, request_id, k=1).candidates]
    assert len(candidates) == 4
    for candidate_id in candidates:
        outcomes = race(
            partial(review, service, op.examiner, request_id, candidate_id, "possible-match", "same eyebrow notch"),
            partial(review, service, second, request_id, candidate_id, "possible-match", "same chin"),
        )
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert all(isinstance(e, Conflict) for e in errors), _said(outcomes)
    stages: dict[int, list[str]] = {c: [] for c in candidates}
    for r in reviews(service, op.auditor, request_id):
        stages[r.candidate_id].append(r.stage)
    assert all(sorted(s) in (["first"], ["first", "second"]) for s in stages.values()), stages


# --- 4. retention ------------------------------------------------------------------------


def test_retention_periods_are_bounded(world: World) -> None:
    """Hole: a gallery retention of 800,000 days was accepted (and then broke every retention
    run). Fixed: a period too long to compute with is refused with InvalidInput, for a
    gallery and in a policy profile."""
    service, admin = world.service, world.admin
    with pytest.raises(InvalidInput):
        set_gallery_retention(service, admin, world.gallery.id, 800_000)
    with pytest.raises(InvalidInput, match="retention"):
        activate_text(service, admin, profile_text("sp-forever", retention={"probe_images": 800_000}))


def test_one_agencys_bad_period_never_stops_another_agencys_retention(world: World) -> None:
    """Hole: one gallery's retention of 800,000 days made every retention run fail
    (OverflowError in date arithmetic), the scheduled one for all agencies included. Fixed:
    the run does not fail on such a row, and another agency's expired data is still purged."""
    service = world.service
    sheriff = second_agency(world, "County Sheriff", profile_text("sheriff-rules", retention={"probe_images": 0}))
    request = file_request(service, sheriff.requester, draft(service, sheriff), probe(PERSON))
    assert probe_image(service, sheriff.requester, request.id)
    force_gallery_retention(service, world.gallery.id, 800_000)  # the operator agency's bad row

    run_retention(service)

    with pytest.raises(NotFound):
        probe_image(service, sheriff.requester, request.id)


# --- 5. incoming drafts ------------------------------------------------------------------


def test_an_incoming_draft_is_visible_only_to_its_own_agency(world: World) -> None:
    """Hole: a draft another agency addressed to this one (never submitted), and its probe,
    were visible to every role of the receiving agency. Fixed: until it is submitted a draft
    is its own agency's only: the receiving agency's roles get NotFound for it and its probe
    and do not see it listed."""
    service, unit = world.service, world.operator
    sheriff = second_agency(world, "County Sheriff", BASE)
    request = file_request(service, sheriff.requester, draft(service, sheriff, target=unit), probe(PERSON),
                           submit=False)  # fmt: skip
    assert request.status == "draft"
    assert get_request(service, sheriff.requester, request.id).id == request.id
    for actor in (unit.admin, unit.supervisor, unit.examiner, unit.requester, unit.auditor):
        with pytest.raises(NotFound):
            get_request(service, actor, request.id)
        assert request.id not in [r.id for r in list_requests(service, actor)], actor.role
        with pytest.raises((NotFound, Forbidden)):
            probe_image(service, actor, request.id)


# --- 6 and 7. release: what the requesting side sees and is told -------------------------


def _searched_request(world: World, across: bool) -> tuple[Agency, int, SearchResult]:
    """A request filed by a requester of the operator agency itself, or (``across``) of
    another agency, searched by the operator's examiner: (requesting agency, id, result)."""
    service, unit = world.service, world.operator
    requesting = second_agency(world, "County Sheriff", BASE) if across else unit
    request_id = approved_request(service, requesting, probe(PERSON), None if across else [world.gallery.id],
                                  target=unit if across else None)  # fmt: skip
    result = search(service, unit.examiner, request_id, gallery_ids=[world.gallery.id])
    assert result.candidates
    return requesting, request_id, result


@pytest.mark.parametrize("across", [False, True], ids=["same-agency", "across-agencies"])
def test_requesters_see_only_released_candidates(service_factory: ServiceFactory, across: bool) -> None:
    """Hole: a requester saw the unreviewed candidate list of their own agency's request,
    while across agencies the requesting agency sees only released candidates. Fixed: one
    release rule for both — before the review is concluded a requester sees no candidate
    (search views, the case export); afterwards exactly the released ones."""
    world = world_with(service_factory)
    service, unit = world.service, world.operator
    requesting, request_id, result = _searched_request(world, across)
    requester = requesting.requester

    assert [c.id for s in request_searches(service, requester, request_id) for c in s.candidates] == []
    assert get_search(service, requester, result.id).candidates == []
    assert PERSON not in export_case(service, requester, request_id)

    top = result.candidates[0]
    for c in result.candidates:
        review(service, unit.examiner, request_id, c.id, "possible-match" if c.id == top.id else "not-a-match", "x")
    conclude(service, unit.examiner, request_id)  # releases the possible match
    seen = get_search(service, requester, result.id).candidates
    assert [(c.id, c.released) for c in seen] == [(top.id, True)]


@pytest.mark.parametrize("across", [False, True], ids=["same-agency", "across-agencies"])
def test_the_requesting_side_is_told_what_is_true(service_factory: ServiceFactory, across: bool) -> None:
    """Hole: the requesting side was told "no candidate above threshold" when candidates
    existed but were not released. Fixed: before the review is concluded the summary says
    the candidates are under review; after a conclusion that released none it says none were
    released; never "no candidate above threshold" while candidates exist (the case export
    neither)."""
    world = world_with(service_factory)
    service, unit = world.service, world.operator
    requesting, request_id, result = _searched_request(world, across)
    requester = requesting.requester

    before = get_search(service, requester, result.id).summary
    assert EMPTY_LABEL not in before and "review" in before.lower(), before
    assert EMPTY_LABEL not in export_case(service, requester, request_id)

    for c in result.candidates:
        review(service, unit.examiner, request_id, c.id, "not-a-match", "different jaw line")
    conclude(service, unit.examiner, request_id, release=[])
    after = get_search(service, requester, result.id).summary
    assert EMPTY_LABEL not in after and "released" in after.lower(), after


# --- 8. tokens ---------------------------------------------------------------------------


def test_an_admin_cannot_mint_a_token_for_another_user(world: World) -> None:
    """Hole: an agency admin created a token for a supervisor and then acted as them
    (approvals recorded as the supervisor's). Fixed: only a user mints their own tokens (an
    admin naming another user is Forbidden); an admin may still revoke anyone's in the agency."""
    service, op = world.service, world.operator
    with pytest.raises(Forbidden):
        mint_token(service, op.admin, op.supervisor.user_id)
    own = mint_token(service, op.supervisor)
    assert authenticate(service, own.secret) == op.supervisor
    revoke_token(service, op.admin, own.id)
    with pytest.raises(Unauthorized):
        authenticate(service, own.secret)


def test_tokens_expire(service_factory: ServiceFactory) -> None:
    """Hole: tokens never expired. Fixed: a token carries its expiry (``expires`` on the
    issued token, a time after its issue) and is refused once that time has passed."""
    clock = Clock()
    world = world_with(service_factory, clock=clock, enrolled=False)
    service = world.service
    issued = mint_token(service, world.examiner)
    expires = getattr(issued, "expires", None)
    assert isinstance(expires, datetime) and expires > clock.now, f"the issued token has no expiry: {issued!r}"
    assert authenticate(service, issued.secret) == world.examiner
    clock.now = expires + timedelta(seconds=1)
    with pytest.raises(Unauthorized):
        authenticate(service, issued.secret)


def test_the_token_an_admin_hands_out_only_makes_the_users_own_token(service_factory: ServiceFactory) -> None:
    """Closing hole 8 fully: ``user create`` hands the admin a token too. It is an
    activation token: it acts as nobody, makes its user's own token once (which the admin
    never sees), and expires within the activation period."""
    clock = Clock()
    world = world_with(service_factory, clock=clock, enrolled=False)
    service, op = world.service, world.operator
    _info, activation = service.accounts.create_user(op.admin, "sp-supervisor-2", "supervisor")
    assert activation.kind == "activation"
    handed = authenticate(service, activation.secret)
    assert handed.activation and handed.role == "supervisor"
    request = file_request(service, op.requester, draft(service, op), probe(PERSON))
    with pytest.raises(Forbidden, match="activation token"):  # it does not act as the supervisor
        decide(service, handed, request.id, True)
    with pytest.raises(Forbidden, match="activation token"):
        list_requests(service, handed)
    own = mint_token(service, handed)
    assert own.kind == "personal" and authenticate(service, own.secret).role == "supervisor"
    with pytest.raises(Unauthorized):  # used up
        authenticate(service, activation.secret)
    _info, late = service.accounts.create_user(op.admin, "sp-supervisor-3", "supervisor")
    clock.now += timedelta(hours=service.settings.activation_ttl_hours, seconds=1)
    with pytest.raises(Unauthorized, match="expired"):
        authenticate(service, late.secret)


def test_reactivating_a_user_does_not_revive_old_tokens(world: World) -> None:
    """Hole: deactivating a user and activating them again brought their old tokens back.
    Fixed: tokens issued before a deactivation stay refused after the reactivation."""
    service, op = world.service, world.operator
    secret = op.secrets["examiner"]
    set_active(service, op.admin, op.examiner.user_id, False)
    with pytest.raises(Unauthorized):
        authenticate(service, secret)
    set_active(service, op.admin, op.examiner.user_id, True)
    with pytest.raises(Unauthorized):
        authenticate(service, secret)


# --- 9. refused at submission, with the gate's rule names --------------------------------

SUBMISSION_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    # case: (the rule the search gate names, what the request gets wrong)
    "court order without its document": ("requests.document_required_for", {"basis": "court-order",
                                                                            "document": False}),
    "offence the policy does not allow": ("requests.offence_categories", {"offence": "shoplifting"}),
    "forbidden probe source": ("probe.forbidden_sources", {"probe_source": "sketch"}),
    "forbidden use": ("forbidden_uses", {"probe_source": "live-video"}),
    "gallery of a purpose the policy does not allow": ("search.gallery_purposes", {"gallery": "driver licences"}),
    "required field left empty": ("requests.required_fields", {"sha": False}),
    "legal basis not allowed": ("requests.legal_bases", {"basis": "deceased-identification"}),
}  # fmt: skip


@pytest.mark.parametrize("case", list(SUBMISSION_CASES))
def test_what_the_gate_would_refuse_is_refused_at_submission(service_factory: ServiceFactory, case: str) -> None:
    """Hole: a court-order request without its document was submitted and approved; only the
    search refused it. Fixed: a request the policy would refuse at search for reasons known
    at submission (legal basis, offence category, required fields, document, probe source,
    forbidden uses, the purposes of the galleries it names) is refused at submission
    (PolicyDenied) naming the rule the search gate names, and nothing is filed. (The last
    two cases are refused at submission already: they pin the same rule names.)"""
    world = world_with(service_factory, _strict_profile(), enrolled=False)
    service, op = world.service, world.operator
    rule, wrong = SUBMISSION_CASES[case]
    galleries = [world.gallery.id]
    if "gallery" in wrong:
        galleries = [new_gallery(service, op.admin, "licences", wrong["gallery"])]
    request = draft(service, op, basis=wrong.get("basis", "warrant"), offence=wrong.get("offence", "robbery"),
                    document=wrong.get("document", True), sha=wrong.get("sha", True), galleries=galleries,
                    probe_source=wrong.get("probe_source", "still-image"))  # fmt: skip
    with pytest.raises(PolicyDenied) as refused:
        file_request(service, op.requester, request, probe(PERSON), submit=True)
    assert rule in policy_rules(refused.value), refused.value.failures
    assert list_requests(service, op.requester) == []


def _strict_profile() -> str:
    """A profile whose every rule a submission can break (top-level keys before the tables)."""
    text = profile_text(
        "holes-strict", offences=("homicide", "robbery"), purposes=("criminal investigations",),
        required=(*BASIC_FIELDS, "document_sha256"), document_for=("court-order",),
    )  # fmt: skip
    return 'forbidden_uses = ["live-video"]\n' + text + '[probe]\nforbidden_sources = ["sketch", "composite"]\n'


# --- 10. subject reads -------------------------------------------------------------------


def test_a_requester_cannot_read_subjects(world: World) -> None:
    """Hole: every role, requesters included, could list a gallery's subjects with their sex
    and birth year. Fixed: subject reads are role-checked; a requester is refused (Forbidden,
    or NotFound) for the list and for one subject. An examiner still reads them."""
    service, op = world.service, world.operator
    item = EnrolItem(PERSON, str(photo(PERSON, 1)), attributes={"sex": "F", "birth_year": "1979"})
    assert enrol(service, op.admin, world.gallery.id, [item]).get("enrolled") == 1
    (listed,) = subjects(service, op.examiner, world.gallery.id)
    with pytest.raises((Forbidden, NotFound)):
        subjects(service, op.requester, world.gallery.id)
    with pytest.raises((Forbidden, NotFound)):
        subject(service, op.requester, listed.id)


# --- 11. actions that left no audit event -------------------------------------------------


def _events_since(service: Service, auditor: Actor, seq: int, actor: Actor) -> list[dict[str, Any]]:
    """Events after ``seq`` whose actor is ``actor``, leaving out token use."""
    return [
        e
        for e in audit_events(service, auditor, limit=10_000)
        if e["seq"] > seq and e["actor"] == actor.username and not e["action"].startswith("auth.")
    ]


def _last_seq(service: Service, auditor: Actor) -> int:
    return int(audit_events(service, auditor, limit=1)[0]["seq"])


def test_an_index_rebuild_is_recorded(world: World) -> None:
    """Hole: an index rebuild left no audit event. Fixed: it leaves one naming its actor."""
    service, op = world.service, world.operator
    assert enrol(service, op.examiner, world.gallery.id, items_for({PERSON: [1]})).get("enrolled") == 1
    seq = _last_seq(service, op.admin)
    rebuild_index(service, op.examiner, world.gallery.id)
    assert _events_since(service, op.admin, seq, op.examiner), "the index rebuild left no event"


def test_an_enrolment_whose_every_image_fails_is_recorded(world: World) -> None:
    """Hole: an enrolment in which every image failed (no face, unreadable) left no audit
    event. Fixed: it leaves one naming its actor (with the outcome counts)."""
    service, op = world.service, world.operator
    seq = _last_seq(service, op.admin)
    assert enrol(service, op.examiner, world.gallery.id, items_for({PERSON: [1]})).get("enrolled") == 1
    assert _events_since(service, op.admin, seq, op.examiner), "the check finds no event even for an enrolment"
    seq = _last_seq(service, op.admin)
    failing = [EnrolItem("nobody", str(NO_FACE)), EnrolItem("nobody", "/nonexistent/photo.jpg")]
    counts = enrol(service, op.examiner, world.gallery.id, failing)
    assert counts.get("enrolled", 0) == 0 and sum(counts.values()) == 2, counts
    assert _events_since(service, op.admin, seq, op.examiner), "the failed enrolment left no event"


# --- 12. one truth about enrolment photos ------------------------------------------------


def _enrolment_photo_sentence(profile: PolicyProfile) -> str:
    (sentence,) = [line for line in explain(profile) if "nrolment photo" in line]
    return sentence


def test_policy_show_and_subject_export_agree_on_enrolment_photos(world: World) -> None:
    """Hole: ``policy show`` (facedocket/policy/explain.py) said enrolment photos are kept
    while ``subject export`` said they are not. Fixed: one truth, from one place
    (``governance.retention.enrolment_photos_note``): the sentence about enrolment photos that
    explains a profile says they are kept exactly when an export under it holds photos, for a
    profile that allows them (the gallery keeps them, by default) and one that forbids them
    (the retention run removes the ones a gallery held)."""
    service, op = world.service, world.operator
    assert enrol(service, op.admin, world.gallery.id, items_for({PERSON: [1]})).get("enrolled") == 1
    (listed,) = subjects(service, op.admin, world.gallery.id)
    forbidding = PERMISSIVE.replace('name = "test-permissive"', 'name = "test-no-photos"') + (
        "[retention]\nkeep_enrolment_photos = false\n"
    )
    for text in (PERMISSIVE, forbidding):
        service.policy.activate_policy_text(op.admin, text)
        service.oversight.retention_run(op.admin)
        record = export_subject(service, op.admin, listed.id)
        kept_says_export = record["images_held"] > 0 or "not kept" not in record["note"]
        profile = active_profile(service, op.admin)
        assert profile is not None
        sentence = _enrolment_photo_sentence(profile)
        kept_says_policy = not re.search(r"\bnot kept\b", sentence)
        assert kept_says_policy == kept_says_export, f"{profile.name}: {sentence!r} / export: {record['note']!r}"
        assert kept_says_export == (text == PERMISSIVE)
    for name in shipped_profiles():  # every shipped profile says something about them, in one sentence
        assert _enrolment_photo_sentence(load_profile(name))
