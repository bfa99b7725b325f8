"""1:N search and 1:1 verification: only under a complete, approved written request, one
candidate per subject above the threshold, everything recorded, and only for the right people."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from typing import Any

import pytest
from sqlalchemy import event, update

from facedocket.errors import (
    ConfigurationError,
    Forbidden,
    InvalidInput,
    NoFaceFound,
    NotFound,
    PolicyDenied,
    SeveralFaces,
)
from facedocket.service import RequestDraft, SearchResult
from facedocket.store.tables import Candidate, Gallery, Request, Search
from facedocket.vision.models import DEFAULT_MODEL_ID, default_threshold

from .support import (
    ENROLLED,
    NO_FACE,
    OUTSIDER,
    TEST_POLICY,
    TWO_PEOPLE,
    World,
    approved_request,
    items_for,
    probe,
    row_counts,
    run_search,
    run_verify,
    second_agency,
    template_count,
)

THRESHOLD = default_threshold(DEFAULT_MODEL_ID)  # new galleries use the default model
RECORDS = (Request, Search, Candidate)
SEARCH_RECORDS = (Search, Candidate)
_numbers = itertools.count(1)


@pytest.fixture
def enrolled(world: World) -> World:
    report = world.service.enrolment.enroll(world.examiner, world.gallery.id, items_for(ENROLLED))
    assert report.counts["enrolled"] == sum(len(v) for v in ENROLLED.values())
    return world


def nothing_written(world: World) -> bool:
    """No request, search or candidate in the database."""
    return set(row_counts(world.service, *RECORDS).values()) == {0}


def no_search_recorded(world: World) -> bool:
    """No search or candidate in the database (the request it was asked under may exist)."""
    return set(row_counts(world.service, *SEARCH_RECORDS).values()) == {0}


def draft(world: World, **changes: object) -> RequestDraft:
    """A complete request under a new case of the operator agency, with ``changes``."""
    number = f"2026-{next(_numbers):04d}-S"
    case = world.service.requests.create_case(world.operator.requester, number, "robbery", "bank robbery")
    fields: dict[str, object] = {
        "case_id": case.id, "legal_basis": "warrant", "justification": "suspect filmed by the bank's CCTV",
        "galleries": [world.gallery.id],
    }  # fmt: skip
    return RequestDraft(**{**fields, **changes})  # type: ignore[arg-type]


def subject_ids(world: World) -> dict[str, int]:
    return {s.reference: s.id for s in world.service.galleries.list_subjects(world.admin, world.gallery.id)}


def assert_ranked(result: SearchResult) -> None:
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert [c.rank for c in result.candidates] == list(range(1, len(scores) + 1))
    subjects = [c.subject_id for c in result.candidates]
    assert len(subjects) == len(set(subjects))


@pytest.mark.parametrize("missing", ["case_number", "offence", "legal_basis", "justification"])
def test_an_incomplete_request_is_refused_and_nothing_is_searched(enrolled: World, missing: str) -> None:
    """A case needs a number and a known offence category; a request needs a legal basis and
    a justification. Without them there is no request to search under."""
    service, requester = enrolled.service, enrolled.operator.requester
    if missing in ("case_number", "offence"):
        number, offence = ("  ", "robbery") if missing == "case_number" else ("2026-0042", "")
        with pytest.raises(InvalidInput, match="case needs a number" if missing == "case_number" else "offence"):
            service.requests.create_case(requester, number, offence)
    else:
        blank = {"legal_basis": ""} if missing == "legal_basis" else {"justification": "  "}
        with pytest.raises(InvalidInput, match=missing.replace("_", " ")):
            service.requests.file_request(requester, draft(enrolled, **blank), probe("Amelia_Vega"))
    assert nothing_written(enrolled)


def test_a_request_missing_a_field_the_policy_requires_is_not_submitted(enrolled: World) -> None:
    """The policy names the fields a request must carry; submitting without them is refused,
    every missing field named, and the draft cannot be searched."""
    service = enrolled.service
    strict = TEST_POLICY.replace('"justification"]', '"justification", "document_reference", "document_date"]')
    service.policy.activate_policy_text(enrolled.admin, strict)
    filed = service.requests.file_request(enrolled.operator.requester, draft(enrolled), probe("Amelia_Vega"))
    with pytest.raises(PolicyDenied, match="document_reference, document_date") as refused:
        service.requests.submit_request(enrolled.operator.requester, filed.id)
    assert [rule for rule, _ in refused.value.failures] == ["requests.required_fields"]
    assert service.requests.get_request(enrolled.examiner, filed.id).status == "draft"
    with pytest.raises(PolicyDenied, match=r"request\.state"):
        service.searches.search(enrolled.examiner, filed.id)
    assert no_search_recorded(enrolled)


def test_unknown_legal_basis_is_refused(enrolled: World) -> None:
    service, requester = enrolled.service, enrolled.operator.requester
    with pytest.raises(InvalidInput, match="legal basis must be one of"):
        service.requests.file_request(requester, draft(enrolled, legal_basis="hunch"), probe("Amelia_Vega"))
    assert nothing_written(enrolled)
    # a known basis the active policy does not allow is refused when submitted
    with pytest.raises(PolicyDenied, match=r"requests\.legal_bases"):
        service.requests.file_request(
            requester, draft(enrolled, legal_basis="consent"), probe("Amelia_Vega"), submit=True
        )
    assert no_search_recorded(enrolled)


@pytest.mark.parametrize("person", list(ENROLLED))
def test_held_back_photo_finds_its_subject_at_rank_one(enrolled: World, person: str) -> None:
    result = run_search(enrolled.service, enrolled.operator, probe(person), [enrolled.gallery.id])
    assert result.candidates, f"{person} not found"
    first = result.candidates[0]
    assert (first.subject_reference, first.subject_id) == (person, subject_ids(enrolled)[person])
    assert first.score >= THRESHOLD
    assert all(c.score >= THRESHOLD for c in result.candidates)
    assert_ranked(result)


def test_one_candidate_per_subject_sorted_by_score(enrolled: World) -> None:
    """A subject with several templates is one candidate (its best template); no search may
    go below the policy's floor (the model card's FMR 1e-3 threshold) to list everyone."""
    result = run_search(enrolled.service, enrolled.operator, probe("Amelia_Vega"), [enrolled.gallery.id])
    references = [str(c.subject_reference) for c in result.candidates]
    assert references[0] == "Amelia_Vega" and len(references) == len(set(references))
    assert_ranked(result)
    with pytest.raises(PolicyDenied, match=r"search\.threshold_floor_fmr"):
        run_search(enrolled.service, enrolled.operator, probe("Amelia_Vega"), [enrolled.gallery.id], threshold=0.0)


def test_unknown_person_gives_an_empty_list_which_is_recorded(enrolled: World) -> None:
    result = run_search(enrolled.service, enrolled.operator, probe(OUTSIDER), [enrolled.gallery.id])
    assert result.empty and result.candidates == []
    assert row_counts(enrolled.service, *RECORDS) == {"request": 1, "search": 1, "candidate": 0}
    assert enrolled.service.searches.get_search(enrolled.examiner, result.id).empty


def test_the_search_is_recorded(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    data = probe("Abdullah_Gul")
    result = run_search(service, enrolled.operator, data, [gallery_id], k=5)
    with service.sessions() as session:
        row = session.get(Search, result.id)
        assert row is not None
        candidates = session.query(Candidate).filter(Candidate.search_id == row.id).order_by(Candidate.rank).all()
    assert row.probe_sha256 == hashlib.sha256(data).hexdigest() == result.probe_sha256
    assert row.galleries == [gallery_id]
    assert row.model_id == DEFAULT_MODEL_ID == enrolled.gallery.model_id
    assert row.threshold == pytest.approx(THRESHOLD)
    assert row.k == 5
    assert row.duration_ms > 0
    assert row.gallery_size == template_count(service, gallery_id) == result.gallery_size
    assert (row.kind, row.agency_id, row.user_id) == ("search", enrolled.operator.id, enrolled.examiner.user_id)
    assert row.request_id == result.request_id
    request = service.requests.get_request(enrolled.examiner, result.request_id)
    assert (request.status, request.searches, request.probe_sha256) == ("searched", [result.id], row.probe_sha256)
    assert (request.case_number, request.offence_category, request.legal_basis) == (
        result.case_number, "robbery", result.legal_basis,
    )  # fmt: skip
    assert request.justification == "suspect filmed by the bank's CCTV"
    assert [(c.rank, c.subject_id, c.template_id) for c in candidates] == [
        (c.rank, c.subject_id, c.template_id) for c in result.candidates
    ]
    again = service.searches.get_search(enrolled.examiner, result.id)
    assert dataclasses.replace(again, created=result.created) == result  # created: see the next test
    assert [s.id for s in service.searches.list_searches(enrolled.operator.auditor)] == [result.id]


def test_a_search_reads_back_unchanged(enrolled: World) -> None:
    """Reading a search back gives what the search returned, its time (UTC) included."""
    service = enrolled.service
    result = run_search(service, enrolled.operator, probe("Amelia_Vega"), [enrolled.gallery.id])
    assert result.created.tzinfo is not None
    again = service.searches.get_search(enrolled.examiner, result.id)
    assert again.created.tzinfo is not None and again.created.utcoffset() == result.created.utcoffset()
    assert again.created == result.created
    assert again == result
    assert service.searches.list_searches(enrolled.examiner) == [result]


@pytest.mark.parametrize("k", [0, -1, 101])
def test_k_out_of_range_is_invalid(enrolled: World, k: int) -> None:
    request_id = approved_request(enrolled.service, enrolled.operator, probe("Amelia_Vega"), [enrolled.gallery.id])
    with pytest.raises(InvalidInput, match="k must be"):
        enrolled.service.searches.search(enrolled.examiner, request_id, k=k)
    assert no_search_recorded(enrolled)


def test_probe_without_a_face(enrolled: World) -> None:
    request_id = approved_request(enrolled.service, enrolled.operator, NO_FACE.read_bytes(), [enrolled.gallery.id])
    with pytest.raises(NoFaceFound):
        enrolled.service.searches.search(enrolled.examiner, request_id)
    assert no_search_recorded(enrolled)


def test_probe_with_two_faces_needs_the_face_chosen_at_filing(enrolled: World) -> None:
    """A probe with two faces is refused without a choice; the face chosen at filing is the
    one every search under the request uses, and a search cannot switch to the other."""
    service, gallery_id = enrolled.service, enrolled.gallery.id
    with pytest.raises(SeveralFaces, match="choose the one"):
        approved_request(service, enrolled.operator, TWO_PEOPLE.read_bytes(), [gallery_id])
    with pytest.raises(NoFaceFound, match=r"1\.\.2"):
        approved_request(service, enrolled.operator, TWO_PEOPLE.read_bytes(), [gallery_id], probe_face=3)
    faces = service.requests.probe_faces(enrolled.operator.requester, TWO_PEOPLE.read_bytes())
    assert [f.number for f in faces.faces] == [1, 2] and faces.width > 0
    first_id = approved_request(service, enrolled.operator, TWO_PEOPLE.read_bytes(), [gallery_id], probe_face=1)
    second_id = approved_request(service, enrolled.operator, TWO_PEOPLE.read_bytes(), [gallery_id], probe_face=2)
    assert service.requests.get_request(enrolled.examiner, second_id).probe_face == 2
    first = service.searches.search(enrolled.examiner, first_id)
    second = service.searches.search(enrolled.examiner, second_id)
    assert first.probe_sha256 == second.probe_sha256
    assert first.probe_quality != second.probe_quality  # two different faces
    assert service.searches.search(enrolled.examiner, second_id, face=2).probe_quality == second.probe_quality
    with pytest.raises(InvalidInput, match="chosen when it was filed"):
        service.searches.search(enrolled.examiner, second_id, face=1)
    assert row_counts(service, Search)["search"] == 3


def test_gallery_of_a_model_unknown_here_is_refused(enrolled: World) -> None:
    """A gallery that says its templates come from a model this installation does not know
    (a database restored elsewhere, say) is not searched: its probe cannot be embedded."""
    with enrolled.service.ctx.write() as session:
        session.execute(update(Gallery).where(Gallery.id == enrolled.gallery.id).values(model_id="arcface-r100"))
    with pytest.raises(ConfigurationError, match=r"unknown template model 'arcface-r100'.*facedocket model add"):
        run_search(enrolled.service, enrolled.operator, probe("Amelia_Vega"), [enrolled.gallery.id])
    assert no_search_recorded(enrolled)


def test_another_agencys_search_is_not_found(enrolled: World) -> None:
    service = enrolled.service
    result = run_search(service, enrolled.operator, probe("Amelia_Vega"), [enrolled.gallery.id])
    sheriff = second_agency(enrolled)
    for actor in (sheriff.examiner, sheriff.admin, sheriff.auditor):
        with pytest.raises(NotFound):
            service.searches.get_search(actor, result.id)
        assert service.searches.list_searches(actor) == []
    with pytest.raises(NotFound):
        service.searches.get_search(enrolled.examiner, result.id + 1000)


def test_verify_one_to_one(enrolled: World) -> None:
    service = enrolled.service
    amelia = subject_ids(enrolled)["Amelia_Vega"]
    same = run_verify(service, enrolled.operator, probe("Amelia_Vega"), amelia)
    assert same.kind == "verify" and same.subject_id == amelia
    assert len(same.candidates) == 1
    assert same.candidates[0].subject_id == amelia and same.candidates[0].score >= THRESHOLD
    assert same.gallery_size == len(ENROLLED["Amelia_Vega"])
    different = run_verify(service, enrolled.operator, probe("Adrien_Brody"), amelia)
    assert different.candidates == [] and different.subject_id == amelia
    assert row_counts(service, Search)["search"] == 2
    # a request that is not approved yet is refused by the policy, and not recorded
    case = service.requests.create_case(enrolled.operator.requester, "2026-0099", "robbery")
    pending = service.requests.file_request(
        enrolled.operator.requester, RequestDraft(case.id, "warrant", "CCTV still"), probe("Amelia_Vega"), submit=True
    )
    with pytest.raises(PolicyDenied, match=r"requests\.approval_before_search"):
        service.searches.verify(enrolled.examiner, pending.id, amelia)
    sheriff = second_agency(enrolled)
    with pytest.raises(NotFound):  # the operator's request is not addressed to the sheriff
        service.searches.verify(sheriff.examiner, same.request_id, amelia)
    with pytest.raises(NotFound):  # nor is the operator's gallery shared with the sheriff
        run_verify(service, sheriff, probe("Amelia_Vega"), amelia)
    assert row_counts(service, Search)["search"] == 2


def test_shared_gallery_is_searchable_unshared_is_not_found(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    sheriff = second_agency(enrolled)
    request_id = approved_request(service, sheriff, probe("Amelia_Vega"))
    with pytest.raises(NotFound):
        service.searches.search(sheriff.examiner, request_id, [gallery_id])
    with pytest.raises(NotFound):  # nor can a request name the gallery
        approved_request(service, sheriff, probe("Amelia_Vega"), [gallery_id])
    assert no_search_recorded(enrolled)
    service.galleries.share_gallery(enrolled.admin, gallery_id, sheriff.id)
    result = service.searches.search(sheriff.examiner, request_id, [gallery_id])
    assert result.candidates[0].subject_reference == "Amelia_Vega"
    assert result.agency_id == sheriff.id
    assert service.searches.get_search(sheriff.examiner, result.id).candidates == result.candidates
    with pytest.raises(NotFound):  # the search is the sheriff's, not the gallery owner's
        service.searches.get_search(enrolled.examiner, result.id)
    service.galleries.share_gallery(enrolled.admin, gallery_id, sheriff.id, shared=False)
    with pytest.raises(NotFound):
        service.searches.search(sheriff.examiner, request_id, [gallery_id])


def test_search_across_two_galleries(enrolled: World) -> None:
    service = enrolled.service
    other = service.galleries.create_gallery(enrolled.admin, "wanted", "wanted persons list", "investigations")
    service.enrolment.enroll(enrolled.examiner, other.id, items_for({OUTSIDER: [2, 3]}))
    result = run_search(service, enrolled.operator, probe(OUTSIDER), [enrolled.gallery.id, other.id])
    assert [(c.subject_reference, c.gallery_id) for c in result.candidates] == [(OUTSIDER, other.id)]
    assert result.galleries == [enrolled.gallery.id, other.id]
    assert result.gallery_size == template_count(service)


@pytest.mark.parametrize("role", ["requester", "auditor", "admin"])
def test_only_examiners_and_supervisors_search(enrolled: World, role: str) -> None:
    service = enrolled.service
    actor = getattr(enrolled.operator, role)
    amelia = subject_ids(enrolled)["Amelia_Vega"]
    request_id = approved_request(service, enrolled.operator, probe("Amelia_Vega"), [enrolled.gallery.id])
    with pytest.raises(Forbidden):
        service.searches.search(actor, request_id)
    with pytest.raises(Forbidden):
        service.searches.verify(actor, request_id, amelia)
    assert no_search_recorded(enrolled)
    supervised = service.searches.search(enrolled.operator.supervisor, request_id)
    assert supervised.candidates[0].subject_reference == "Amelia_Vega"


def test_request_fields_are_checked_before_anything_else(enrolled: World) -> None:
    """A malformed request is refused before its probe is even decoded."""
    service, requester = enrolled.service, enrolled.operator.requester
    with pytest.raises(InvalidInput, match="document date must be YYYY-MM-DD"):
        service.requests.file_request(requester, draft(enrolled, document_date="20 Nov 2026"), b"not an image")
    with pytest.raises(InvalidInput, match="justification"):
        service.requests.file_request(requester, draft(enrolled, justification=""), b"not an image")
    assert nothing_written(enrolled)


def test_a_search_is_one_read_and_one_write_transaction(enrolled: World) -> None:
    """The search reads the request, probe, galleries and policy in one transaction, and
    writes the search, its candidates, the request's state and the audit event in one more
    (which locks the request and checks the gate again): two in all, one of them committed."""
    service = enrolled.service
    request_id = approved_request(service, enrolled.operator, probe("Amelia_Vega"), [enrolled.gallery.id])
    service.indexes.get(enrolled.gallery.id)  # the index is loaded: only the search itself is counted
    counts = {"begin": 0, "commit": 0}

    def count(kind: str) -> Any:
        def listener(*_args: Any) -> None:
            counts[kind] += 1

        return listener

    listeners = [(kind, count(kind)) for kind in counts]
    for kind, listener in listeners:
        event.listen(service.engine, kind, listener)
    try:
        assert service.searches.search(enrolled.examiner, request_id).candidates
    finally:
        for kind, listener in listeners:
            event.remove(service.engine, kind, listener)
    assert counts == {"begin": 2, "commit": 1}, counts
