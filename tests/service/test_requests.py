"""Written requests through their states, the policy gate, review, emergency purge and the
case export — on SQLite and PostgreSQL, with the real pipeline and photos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from tokens import own_token

from facedocket.errors import Conflict, Forbidden, NotFound, PolicyDenied
from facedocket.service import RequestDraft, Service
from facedocket.store.tables import Candidate, StoredImage
from facedocket.vision.models import DEFAULT_MODEL_ID, threshold_at_fmr
from facedocket.vocab import PROBE_KINDS

from .conftest import ServiceFactory
from .support import (
    ENROLLED,
    OUTSIDER,
    TEST_POLICY,
    World,
    approved_request,
    items_for,
    make_world,
    probe,
    second_agency,
)

TWO_PERSON = TEST_POLICY.replace("[search]", "[review]\ntwo_person = true\n[search]")
STRICT = TEST_POLICY.replace(
    'required_fields = ["case_number", "offence_category", "legal_basis", "justification"]',
    'required_fields = ["case_number", "offence_category", "legal_basis", "justification"]\n'
    'offence_categories = ["homicide", "robbery"]',
).replace("max_candidates = 100", "threshold_floor_fmr = 1e-3\nmax_candidates = 20") + (
    '[probe]\nforbidden_sources = ["video-frame"]\n'
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _world(service_factory: ServiceFactory, policy: str = TEST_POLICY, clock: Clock | None = None) -> World:
    service = service_factory(clock=clock) if clock else service_factory()
    world = make_world(service, policy)
    service.enrolment.enroll(world.admin, world.gallery.id, items_for(ENROLLED))
    return world


def _draft(
    service: Service, world: World, basis: str = "warrant", offence: str = "robbery", **kw: object
) -> RequestDraft:
    case = service.requests.create_case(world.operator.requester, f"C-{offence}-{basis}-{len(kw)}", offence)
    values: dict[str, object] = {
        "document_type": "search warrant", "document_reference": "SW-1", "document_issuer": "Superior Court",
        "document_date": "2026-11-01", "galleries": [world.gallery.id],
    }  # fmt: skip
    values.update(kw)
    return RequestDraft(case.id, basis, "suspect on CCTV", **values)  # type: ignore[arg-type]


def test_request_from_filing_to_closed_lead(service_factory: ServiceFactory) -> None:
    world = _world(service_factory)
    service = world.service
    request_id = approved_request(service, world.operator, probe("Amelia_Vega"), [world.gallery.id])
    result = service.searches.search(world.examiner, request_id, k=5)
    top = result.candidates[0]
    assert top.subject_reference == "Amelia_Vega" and top.rank == 1
    assert top.expected_false is not None and top.expected_false >= 0
    assert service.requests.get_request(world.examiner, request_id).status == "searched"
    with pytest.raises(Conflict, match="not decided"):
        service.review.conclude_request(world.examiner, request_id)
    for c in result.candidates:
        disposition = "possible-match" if c.id == top.id else "not-a-match"
        service.review.review_candidate(world.examiner, request_id, c.id, disposition, "compared ears, nose, jaw")
    concluded = service.review.conclude_request(world.examiner, request_id)
    assert (concluded.status, concluded.outcome) == ("reviewed", "lead")
    closed = service.requests.close_request(world.operator.requester, request_id)
    assert closed.status == "closed" and closed.closed is not None
    html = service.reports.export_request(world.operator.auditor, request_id)
    assert "investigative lead — not a positive identification" in html and "Amelia_Vega" in html
    assert "data:image/jpeg;base64," in html and "http://" not in html and "https://" not in html
    events = [
        e.as_dict()
        for e in service.audit.list_audit(world.admin, object_type="request", object_id=str(request_id), limit=100)
    ]
    assert [e["action"] for e in reversed(events)] == [
        "request.filed", "request.submitted", "request.approved", "request.reviewed", "request.closed",
        "request.exported",
    ]  # fmt: skip
    assert service.audit.verify_audit(world.operator.auditor).ok


def test_no_lead_when_nobody_is_above_the_threshold(service_factory: ServiceFactory) -> None:
    world = _world(service_factory)
    service = world.service
    request_id = approved_request(service, world.operator, probe(OUTSIDER), [world.gallery.id])
    result = service.searches.search(world.examiner, request_id)
    assert result.empty and result.summary == "no candidate above threshold"
    assert service.review.conclude_request(world.examiner, request_id).outcome == "no-lead"


def test_approval_rules(service_factory: ServiceFactory) -> None:
    world = _world(service_factory)
    service, op = world.service, world.operator
    request = service.requests.file_request(op.requester, _draft(service, world), probe("Amelia_Vega"), submit=True)
    with pytest.raises(PolicyDenied, match=r"requests\.approval_before_search"):
        service.searches.search(op.examiner, request.id)
    with pytest.raises(Forbidden):
        service.requests.decide_request(op.requester, request.id, True, "I approve myself")
    own = service.requests.file_request(op.supervisor, _draft(service, world, offence="homicide"), probe("Amelia_Vega"))
    service.requests.submit_request(op.supervisor, own.id)
    with pytest.raises(Forbidden, match="their own request"):
        service.requests.decide_request(op.supervisor, own.id, True, "mine")
    denied = service.requests.decide_request(op.supervisor, request.id, False, "no specific facts in the affidavit")
    assert (denied.status, denied.approval) == ("denied", "denied")
    with pytest.raises(PolicyDenied) as refused:
        service.searches.search(op.examiner, request.id)
    assert {"request.state", "request.approval"} <= {rule for rule, _ in refused.value.failures}
    refusals = [e.as_dict() for e in service.audit.list_audit(world.admin, action="search.denied")]
    assert len(refusals) == 2 and all(e["object_id"] == str(request.id) for e in refusals)


def test_the_gate_names_every_failed_rule(service_factory: ServiceFactory) -> None:
    world = _world(service_factory, STRICT)
    service, op = world.service, world.operator
    draft = _draft(service, world, offence="shoplifting", probe_source="video-frame")
    with pytest.raises(PolicyDenied) as at_submission:  # what is known at submission is refused there
        service.requests.file_request(op.requester, draft, probe("Amelia_Vega"), submit=True)
    assert {r for r, _ in at_submission.value.failures} == {"requests.offence_categories", "probe.forbidden_sources"}
    service.policy.activate_policy_text(world.admin, TEST_POLICY)
    request = service.requests.file_request(op.requester, draft, probe("Amelia_Vega"), submit=True)
    service.requests.decide_request(op.supervisor, request.id, True, "ok")
    service.policy.activate_policy_text(world.admin, STRICT)  # the gate checks the policy active now
    with pytest.raises(PolicyDenied) as refused:
        service.searches.search(op.examiner, request.id, k=50, threshold=threshold_at_fmr(DEFAULT_MODEL_ID, 1e-2))
    rules = {rule for rule, _ in refused.value.failures}
    assert rules == {
        "requests.offence_categories", "probe.forbidden_sources", "search.threshold_floor_fmr", "search.max_candidates",
    }  # fmt: skip
    (event,) = [e.as_dict() for e in service.audit.list_audit(world.admin, action="search.denied")]
    assert set(event["details"]["failed"]) == rules
    with pytest.raises(NotFound):
        service.searches.search(op.examiner, 999_999)
    assert len([e.as_dict() for e in service.audit.list_audit(world.admin, action="search.denied")]) == 2


def test_emergency_search_purged_when_the_deadline_passes(service_factory: ServiceFactory) -> None:
    clock = Clock()
    world = _world(service_factory, clock=clock)
    service, op = world.service, world.operator
    draft = _draft(service, world, basis="emergency", document_type="", document_reference="",
                   document_issuer="", document_date="")  # fmt: skip
    request = service.requests.file_request(op.requester, draft, probe("Amelia_Vega"), submit=True)
    assert request.emergency
    result = service.searches.search(op.examiner, request.id)  # before approval: the emergency path
    assert result.candidates
    info = service.requests.get_request(op.examiner, request.id)
    assert info.approval == "pending" and info.deadline == clock.now + timedelta(hours=48)
    clock.now += timedelta(hours=47)
    assert service.requests.expire_overdue() == []
    clock.now += timedelta(hours=2)
    info = service.requests.get_request(op.examiner, request.id)  # reading runs the deadline job
    assert (info.status, info.approval) == ("expired", "expired") and info.purged == clock.now
    with pytest.raises(NotFound, match="purged"):
        service.requests.probe_image(op.examiner, request.id)
    with service.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Candidate)) == 0
        assert session.scalar(select(func.count()).where(StoredImage.kind.in_(PROBE_KINDS))) == 0
    (purge,) = [e.as_dict() for e in service.audit.list_audit(world.admin, action="request.purged")]
    assert purge["details"]["candidates_removed"] == len(result.candidates) and purge["actor"] == "system"
    assert service.searches.get_search(op.examiner, result.id).candidates == []
    with pytest.raises(PolicyDenied, match=r"request\.purged"):
        service.searches.search(op.examiner, request.id)
    assert service.audit.verify_audit(op.auditor).ok


def test_emergency_denied_after_the_search_is_purged(service_factory: ServiceFactory) -> None:
    world = _world(service_factory)
    service, op = world.service, world.operator
    draft = _draft(service, world, basis="emergency")
    request = service.requests.file_request(op.requester, draft, probe("Amelia_Vega"), submit=True)
    service.searches.search(op.examiner, request.id)
    denied = service.requests.decide_request(op.supervisor, request.id, False, "no imminent threat")
    assert denied.status == "denied" and denied.purged is not None
    with pytest.raises(NotFound):
        service.requests.probe_image(op.examiner, request.id)


def test_a_request_to_another_agencys_face_search_unit(service_factory: ServiceFactory) -> None:
    world = _world(service_factory)
    service = world.service
    police = second_agency(world, "City Police")
    unit = world.operator
    request_id = approved_request(service, police, probe("Amelia_Vega"), target=unit)
    with pytest.raises(NotFound):
        service.searches.search(police.examiner, request_id, [world.gallery.id])  # not addressed to the police
    result = service.searches.search(unit.examiner, request_id, [world.gallery.id], k=5)
    mate = result.candidates[0]
    for c in result.candidates:
        disposition = "possible-match" if c is mate else "not-a-match"
        service.review.review_candidate(unit.examiner, request_id, c.id, disposition, "features compared")
    service.review.conclude_request(unit.examiner, request_id)
    seen = service.requests.get_request(police.requester, request_id)
    assert (seen.status, seen.outcome, seen.galleries, seen.searches) == ("reviewed", "lead", [], [])
    released = service.searches.get_search(police.requester, result.id)
    assert [c.subject_reference for c in released.candidates] == ["Amelia_Vega"]
    assert released.galleries == [] and released.candidates[0].gallery_id is None
    police_events = [
        e.as_dict() for e in service.audit.list_audit(police.auditor, object_type="request", object_id=str(request_id))
    ]
    unit_events = [
        e.as_dict() for e in service.audit.list_audit(unit.auditor, object_type="request", object_id=str(request_id))
    ]
    assert {e["action"] for e in police_events} >= {"request.filed", "request.approved", "request.reviewed"}
    assert {e["action"] for e in unit_events} >= {"request.filed", "request.approved", "request.reviewed"}
    assert all(e["agency_id"] == police.id for e in police_events)


def test_two_person_review_is_blind_and_a_disagreement_needs_a_supervisor(service_factory: ServiceFactory) -> None:
    world = _world(service_factory, TWO_PERSON)
    service, op = world.service, world.operator
    _info, token = service.accounts.create_user(op.admin, "sp-examiner-2", "examiner")
    second = service.accounts.authenticate(own_token(service, token).secret)
    request_id = approved_request(service, op, probe("Amelia_Vega"), [world.gallery.id])
    result = service.searches.search(op.examiner, request_id, k=1)
    (candidate,) = result.candidates
    service.review.review_candidate(op.examiner, request_id, candidate.id, "possible-match", "same scar")
    assert service.review.list_reviews(second, request_id) == []  # blind until both are in
    with pytest.raises(Conflict, match="already"):
        service.review.review_candidate(op.examiner, request_id, candidate.id, "possible-match", "again")
    service.review.review_candidate(second, request_id, candidate.id, "not-a-match", "different ear lobes")
    assert len(service.review.list_reviews(second, request_id)) == 2
    with pytest.raises(Conflict, match="not decided"):
        service.review.conclude_request(op.examiner, request_id)
    _info, token = service.accounts.create_user(op.admin, "sp-examiner-3", "examiner")
    with pytest.raises(Forbidden):
        service.review.review_candidate(
            service.accounts.authenticate(own_token(service, token).secret),
            request_id,
            candidate.id,
            "inconclusive",
            "x",
        )
    service.review.review_candidate(op.supervisor, request_id, candidate.id, "inconclusive", "image too poor to decide")
    assert service.review.conclude_request(op.examiner, request_id).outcome == "no-lead"
    stages = [(r.stage, r.disposition) for r in service.review.list_reviews(op.auditor, request_id)]
    assert stages == [("first", "possible-match"), ("second", "not-a-match"), ("resolution", "inconclusive")]


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_research_profile_allows_no_operational_search(service_factory: ServiceFactory) -> None:
    research = TEST_POLICY.replace('name = "test-permissive"', 'name = "test-research"\noperational = false')
    world = _world(service_factory, research)
    with pytest.raises(PolicyDenied, match="operational"):  # refused at submission already
        approved_request(world.service, world.operator, probe("Amelia_Vega"), [world.gallery.id])
    world.service.policy.activate_policy_text(world.admin, TEST_POLICY)
    request_id = approved_request(world.service, world.operator, probe("Amelia_Vega"), [world.gallery.id])
    world.service.policy.activate_policy_text(world.admin, research)
    with pytest.raises(PolicyDenied, match="operational"):
        world.service.searches.search(world.examiner, request_id)


def test_a_submission_the_policy_refuses_files_nothing_or_stays_a_draft(service_factory: ServiceFactory) -> None:
    documented = TEST_POLICY.replace(
        'required_fields = ["case_number", "offence_category", "legal_basis", "justification"]',
        'required_fields = ["case_number", "offence_category", "legal_basis", "justification", "document_reference"]',
    )
    world = _world(service_factory, documented)
    service, op = world.service, world.operator
    draft = _draft(service, world, document_reference="")
    with pytest.raises(PolicyDenied, match="document_reference"):
        service.requests.file_request(op.requester, draft, probe("Amelia_Vega"), submit=True)
    assert service.requests.list_requests(op.requester) == []
    filed = service.requests.file_request(op.requester, draft, probe("Amelia_Vega"))
    with pytest.raises(PolicyDenied, match="document_reference"):
        service.requests.submit_request(op.requester, filed.id)
    assert service.requests.get_request(op.requester, filed.id).status == "draft"
    refusals = [e.as_dict() for e in service.audit.list_audit(world.admin, action="request.refused")]
    assert [(e["object_type"], e["details"]["failed"]) for e in reversed(refusals)] == [
        ("case", ["requests.required_fields"]),
        ("request", ["requests.required_fields"]),
    ]
    assert service.audit.verify_audit(op.auditor).ok


HOSTILE = "<script>alert(1)</script>"


def test_the_case_file_escapes_what_people_typed(world: World) -> None:
    service, op = world.service, world.operator
    case = service.requests.create_case(op.requester, f"C-{HOSTILE}", "robbery", HOSTILE)
    draft = RequestDraft(
        case.id, "warrant", f"suspect {HOSTILE}", document_type="search warrant", document_reference=HOSTILE,
        document_issuer="court", document_date="2026-11-01", galleries=[world.gallery.id],
    )  # fmt: skip
    request = service.requests.file_request(op.requester, draft, probe("Amelia_Vega"), submit=True)
    service.requests.decide_request(op.supervisor, request.id, False, f"no facts {HOSTILE}")
    page = service.reports.export_request(op.auditor, request.id)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for shown in (f"C-{escaped}", f"suspect {escaped}", f"<td>{escaped}</td>", f"no facts {escaped}"):
        assert shown in page, shown
    assert "No search was made under this request." in page
