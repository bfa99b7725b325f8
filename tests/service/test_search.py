"""1:N search and 1:1 verification: only under a complete written request, one candidate
per subject above the threshold, everything recorded, and only for the right people."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from sqlalchemy import update

from facedocket.errors import (
    Forbidden,
    InvalidInput,
    ModelMismatch,
    NoFaceFound,
    NotFound,
    RequestIncomplete,
    SeveralFaces,
)
from facedocket.service import RequestFields, SearchResult
from facedocket.store.tables import Candidate, Gallery, Request, Search
from facedocket.vision.models import TEMPLATE_MODEL_ID, default_threshold

from .support import (
    ENROLLED,
    NO_FACE,
    OUTSIDER,
    REQUEST,
    TWO_PEOPLE,
    World,
    items_for,
    probe,
    row_counts,
    second_agency,
    template_count,
)

THRESHOLD = default_threshold(TEMPLATE_MODEL_ID)
RECORDS = (Request, Search, Candidate)


@pytest.fixture
def enrolled(world: World) -> World:
    report = world.service.enroll(world.examiner, world.gallery.id, items_for(ENROLLED))
    assert report.counts["enrolled"] == sum(len(v) for v in ENROLLED.values())
    return world


def nothing_written(world: World) -> bool:
    return set(row_counts(world.service, *RECORDS).values()) == {0}


def subject_ids(world: World) -> dict[str, int]:
    return {s.reference: s.id for s in world.service.list_subjects(world.admin, world.gallery.id)}


def assert_ranked(result: SearchResult) -> None:
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert [c.rank for c in result.candidates] == list(range(1, len(scores) + 1))
    subjects = [c.subject_id for c in result.candidates]
    assert len(subjects) == len(set(subjects))


@pytest.mark.parametrize("missing", ["case_number", "offence", "legal_basis", "justification"])
def test_search_without_a_complete_request_is_refused_and_not_recorded(enrolled: World, missing: str) -> None:
    incomplete = dataclasses.replace(REQUEST, **{missing: "  " if missing != "legal_basis" else ""})
    with pytest.raises(RequestIncomplete, match=missing):
        enrolled.service.search(enrolled.examiner, incomplete, probe("Amelia_Vega"), [enrolled.gallery.id])
    assert nothing_written(enrolled)


def test_unknown_legal_basis_is_refused(enrolled: World) -> None:
    request = dataclasses.replace(REQUEST, legal_basis="hunch")
    with pytest.raises(RequestIncomplete, match="hunch"):
        enrolled.service.search(enrolled.examiner, request, probe("Amelia_Vega"), [enrolled.gallery.id])
    assert nothing_written(enrolled)


@pytest.mark.parametrize("person", list(ENROLLED))
def test_held_back_photo_finds_its_subject_at_rank_one(enrolled: World, person: str) -> None:
    result = enrolled.service.search(enrolled.examiner, REQUEST, probe(person), [enrolled.gallery.id])
    assert result.candidates, f"{person} not found"
    first = result.candidates[0]
    assert (first.subject_reference, first.subject_id) == (person, subject_ids(enrolled)[person])
    assert first.score >= THRESHOLD
    assert all(c.score >= THRESHOLD for c in result.candidates)
    assert_ranked(result)


def test_one_candidate_per_subject_sorted_by_score(enrolled: World) -> None:
    """With the threshold at 0 every subject is a candidate, each once (its best template)."""
    result = enrolled.service.search(
        enrolled.examiner, REQUEST, probe("Amelia_Vega"), [enrolled.gallery.id], threshold=0.0
    )
    assert sorted(c.subject_reference for c in result.candidates) == sorted(ENROLLED)
    assert_ranked(result)
    assert result.candidates[0].subject_reference == "Amelia_Vega"
    assert result.threshold == 0.0


def test_unknown_person_gives_an_empty_list_which_is_recorded(enrolled: World) -> None:
    result = enrolled.service.search(enrolled.examiner, REQUEST, probe(OUTSIDER), [enrolled.gallery.id])
    assert result.empty and result.candidates == []
    assert row_counts(enrolled.service, *RECORDS) == {"request": 1, "search": 1, "candidate": 0}
    assert enrolled.service.get_search(enrolled.examiner, result.id).empty


def test_the_search_is_recorded(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    data = probe("Abdullah_Gul")
    result = service.search(enrolled.examiner, REQUEST, data, [gallery_id], k=5)
    with service.sessions() as session:
        row = session.get(Search, result.id)
        assert row is not None
        request = session.get(Request, row.request_id)
        candidates = session.query(Candidate).filter(Candidate.search_id == row.id).order_by(Candidate.rank).all()
    assert row.probe_sha256 == hashlib.sha256(data).hexdigest() == result.probe_sha256
    assert row.galleries == [gallery_id]
    assert row.model_id == TEMPLATE_MODEL_ID
    assert row.threshold == pytest.approx(THRESHOLD)
    assert row.k == 5
    assert row.duration_ms > 0
    assert row.gallery_size == template_count(service, gallery_id) == result.gallery_size
    assert (row.kind, row.agency_id, row.user_id) == ("search", enrolled.operator.id, enrolled.examiner.user_id)
    assert request is not None
    assert (request.case_number, request.offence, request.legal_basis, request.justification) == (
        REQUEST.case_number, REQUEST.offence, REQUEST.legal_basis, REQUEST.justification,
    )  # fmt: skip
    assert [(c.rank, c.subject_id, c.template_id) for c in candidates] == [
        (c.rank, c.subject_id, c.template_id) for c in result.candidates
    ]
    again = service.get_search(enrolled.examiner, result.id)
    assert dataclasses.replace(again, created=result.created) == result  # created: see the next test
    assert [s.id for s in service.list_searches(enrolled.operator.auditor)] == [result.id]


def test_a_search_reads_back_unchanged(enrolled: World) -> None:
    """Reading a search back gives what the search returned, its time (UTC) included."""
    service = enrolled.service
    result = service.search(enrolled.examiner, REQUEST, probe("Amelia_Vega"), [enrolled.gallery.id])
    assert result.created.tzinfo is not None
    again = service.get_search(enrolled.examiner, result.id)
    assert again.created.tzinfo is not None and again.created.utcoffset() == result.created.utcoffset()
    assert again.created == result.created
    assert again == result
    assert service.list_searches(enrolled.examiner) == [result]


@pytest.mark.parametrize("k", [0, -1, 101])
def test_k_out_of_range_is_invalid(enrolled: World, k: int) -> None:
    with pytest.raises(InvalidInput, match="k must be"):
        enrolled.service.search(enrolled.examiner, REQUEST, probe("Amelia_Vega"), [enrolled.gallery.id], k=k)
    assert nothing_written(enrolled)


def test_probe_without_a_face(enrolled: World) -> None:
    with pytest.raises(NoFaceFound):
        enrolled.service.search(enrolled.examiner, REQUEST, NO_FACE.read_bytes(), [enrolled.gallery.id])
    assert nothing_written(enrolled)


def test_probe_with_two_faces_needs_a_face_number(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    data = TWO_PEOPLE.read_bytes()
    with pytest.raises(SeveralFaces):
        service.search(enrolled.examiner, REQUEST, data, [gallery_id])
    assert nothing_written(enrolled)
    first = service.search(enrolled.examiner, REQUEST, data, [gallery_id], face=1)
    second = service.search(enrolled.examiner, REQUEST, data, [gallery_id], face=2)
    assert first.probe_sha256 == second.probe_sha256
    assert first.probe_quality != second.probe_quality  # two different faces
    with pytest.raises(NoFaceFound):
        service.search(enrolled.examiner, REQUEST, data, [gallery_id], face=3)
    assert row_counts(service, Search)["search"] == 2


def test_gallery_of_another_model_is_a_mismatch(enrolled: World) -> None:
    with enrolled.service.transaction() as session:
        session.execute(update(Gallery).where(Gallery.id == enrolled.gallery.id).values(model_id="arcface-r100"))
    with pytest.raises(ModelMismatch):
        enrolled.service.search(enrolled.examiner, REQUEST, probe("Amelia_Vega"), [enrolled.gallery.id])
    assert nothing_written(enrolled)


def test_another_agencys_search_is_not_found(enrolled: World) -> None:
    service = enrolled.service
    result = service.search(enrolled.examiner, REQUEST, probe("Amelia_Vega"), [enrolled.gallery.id])
    sheriff = second_agency(enrolled)
    for actor in (sheriff.examiner, sheriff.admin, sheriff.auditor):
        with pytest.raises(NotFound):
            service.get_search(actor, result.id)
        assert service.list_searches(actor) == []
    with pytest.raises(NotFound):
        service.get_search(enrolled.examiner, result.id + 1000)


def test_verify_one_to_one(enrolled: World) -> None:
    service = enrolled.service
    amelia = subject_ids(enrolled)["Amelia_Vega"]
    same = service.verify(enrolled.examiner, REQUEST, probe("Amelia_Vega"), amelia)
    assert same.kind == "verify" and same.subject_id == amelia
    assert len(same.candidates) == 1
    assert same.candidates[0].subject_id == amelia and same.candidates[0].score >= THRESHOLD
    assert same.gallery_size == len(ENROLLED["Amelia_Vega"])
    different = service.verify(enrolled.examiner, REQUEST, probe("Adrien_Brody"), amelia)
    assert different.candidates == [] and different.subject_id == amelia
    assert row_counts(service, Search)["search"] == 2
    with pytest.raises(RequestIncomplete):
        service.verify(enrolled.examiner, dataclasses.replace(REQUEST, justification=""), probe("Amelia_Vega"), amelia)
    sheriff = second_agency(enrolled)
    with pytest.raises(NotFound):
        service.verify(sheriff.examiner, REQUEST, probe("Amelia_Vega"), amelia)


def test_shared_gallery_is_searchable_unshared_is_not_found(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    sheriff = second_agency(enrolled)
    with pytest.raises(NotFound):
        service.search(sheriff.examiner, REQUEST, probe("Amelia_Vega"), [gallery_id])
    assert nothing_written(enrolled)
    service.share_gallery(enrolled.admin, gallery_id, sheriff.id)
    result = service.search(sheriff.examiner, REQUEST, probe("Amelia_Vega"), [gallery_id])
    assert result.candidates[0].subject_reference == "Amelia_Vega"
    assert result.agency_id == sheriff.id
    assert service.get_search(sheriff.examiner, result.id).candidates == result.candidates
    with pytest.raises(NotFound):  # the search is the sheriff's, not the gallery owner's
        service.get_search(enrolled.examiner, result.id)
    service.share_gallery(enrolled.admin, gallery_id, sheriff.id, shared=False)
    with pytest.raises(NotFound):
        service.search(sheriff.examiner, REQUEST, probe("Amelia_Vega"), [gallery_id])


def test_search_across_two_galleries(enrolled: World) -> None:
    service = enrolled.service
    other = service.create_gallery(enrolled.admin, "wanted", "wanted persons list", "investigations")
    service.enroll(enrolled.examiner, other.id, items_for({OUTSIDER: [2, 3]}))
    result = service.search(enrolled.examiner, REQUEST, probe(OUTSIDER), [enrolled.gallery.id, other.id])
    assert [(c.subject_reference, c.gallery_id) for c in result.candidates] == [(OUTSIDER, other.id)]
    assert result.galleries == [enrolled.gallery.id, other.id]
    assert result.gallery_size == template_count(service)


@pytest.mark.parametrize("role", ["requester", "auditor", "admin"])
def test_only_examiners_and_supervisors_search(enrolled: World, role: str) -> None:
    actor = getattr(enrolled.operator, role)
    amelia = subject_ids(enrolled)["Amelia_Vega"]
    with pytest.raises(Forbidden):
        enrolled.service.search(actor, REQUEST, probe("Amelia_Vega"), [enrolled.gallery.id])
    with pytest.raises(Forbidden):
        enrolled.service.verify(actor, REQUEST, probe("Amelia_Vega"), amelia)
    assert nothing_written(enrolled)
    supervised = enrolled.service.search(
        enrolled.operator.supervisor, REQUEST, probe("Amelia_Vega"), [enrolled.gallery.id]
    )
    assert supervised.candidates[0].subject_reference == "Amelia_Vega"


def test_request_fields_are_checked_before_anything_else() -> None:
    with pytest.raises(RequestIncomplete, match="case_number, justification"):
        RequestFields("", "theft", "warrant", "").check()
    RequestFields("1", "theft", "court-order", "why").check()
