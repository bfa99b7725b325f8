"""Retention with legal holds, erasure that reaches everything, access export, consent, and
evaluations kept on record — on SQLite and PostgreSQL, with an injectable clock."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from facedocket.errors import Conflict, NotFound
from facedocket.oversight import evaluation
from facedocket.store.tables import Candidate, StoredImage, Subject, TemplateRow
from facedocket.vision.models import DEFAULT_MODEL_ID, threshold_at_fmr
from facedocket.vocab import PROBE_KINDS

from .conftest import ServiceFactory
from .support import ENROLLED, TEST_POLICY, World, approved_request, items_for, make_world, photo, probe
from .test_requests import Clock

RETENTION = TEST_POLICY + "[retention]\nprobe_images = 30\ncandidate_lists = 60\nlast_interaction_days = 1095\n"


def _world(service_factory: ServiceFactory, clock: Clock, policy: str = RETENTION) -> World:
    world = make_world(service_factory(clock=clock), policy)
    world.service.enrolment.enroll(world.admin, world.gallery.id, items_for(ENROLLED))
    return world


def _subject_id(world: World, reference: str) -> int:
    with world.service.sessions() as session:
        found = session.scalar(select(Subject.id).where(Subject.reference == reference))
        assert found is not None
        return found


def _index_bytes(world: World) -> bytes:
    return world.service.indexes.path(world.gallery.id).read_bytes()


def test_retention_expires_exactly_what_is_due_and_skips_held(service_factory: ServiceFactory) -> None:
    clock = Clock()
    world = _world(service_factory, clock)
    service, op = world.service, world.operator
    kept = approved_request(service, op, probe("Amelia_Vega"), [world.gallery.id])
    gone = approved_request(service, op, probe("Adrien_Brody"), [world.gallery.id])
    kept_search = service.searches.search(op.examiner, kept, k=3)
    gone_search = service.searches.search(op.examiner, gone, k=3)
    case_id = service.requests.get_request(op.examiner, kept).case_id
    hold = service.oversight.place_hold(op.supervisor, "case", case_id, "subpoena 26-CR-113")

    clock.now += timedelta(days=29)
    assert all(not ids for ids in service.oversight.retention_run(op.admin).deleted.values())
    clock.now += timedelta(days=2)
    dry = service.oversight.retention_run(op.admin, dry_run=True)
    assert dry.deleted["probe_images"] == [gone] and dry.held["probe_images"] == [kept]
    with pytest.raises(NotFound):  # a dry run changes nothing... except nothing yet
        service.requests.probe_image(op.examiner, 999)
    assert service.requests.probe_image(op.examiner, gone)  # still there after the dry run
    run = service.oversight.retention_run(op.admin)
    assert run.deleted["probe_images"] == [gone]
    with pytest.raises(NotFound):
        service.requests.probe_image(op.examiner, gone)
    assert service.requests.probe_image(op.examiner, kept)
    assert len(service.searches.get_search(op.examiner, gone_search.id).candidates) == len(gone_search.candidates)

    clock.now += timedelta(days=30)
    run = service.oversight.retention_run(op.admin)
    assert sorted(run.deleted["candidate_lists"]) == sorted(c.id for c in gone_search.candidates)
    assert service.searches.get_search(op.examiner, gone_search.id).candidates == []
    assert len(service.searches.get_search(op.examiner, kept_search.id).candidates) == len(kept_search.candidates)

    service.oversight.release_hold(op.supervisor, hold.id)
    run = service.oversight.retention_run(op.admin)
    assert run.deleted["probe_images"] == [kept]
    with service.sessions() as session:
        assert session.scalars(select(StoredImage.id).where(StoredImage.kind.in_(PROBE_KINDS))).all() == []
        assert session.scalars(select(Candidate.id)).all() == []
    actions = [e["action"] for e in [e.as_dict() for e in service.audit.list_audit(op.admin, limit=500)]]
    assert {"retention.purged", "retention.held", "hold.placed", "hold.released"} <= set(actions)
    assert service.audit.verify_audit(op.auditor).ok


def test_templates_and_subjects_expire_from_database_and_index(service_factory: ServiceFactory) -> None:
    clock = Clock()
    world = _world(service_factory, clock)
    service, op = world.service, world.operator
    service.galleries.set_gallery_retention(op.admin, world.gallery.id, 90)
    clock.now += timedelta(days=50)
    service.enrolment.enroll(op.admin, world.gallery.id, items_for({"Amelia_Vega": [4]}))
    held = _subject_id(world, "Adrien_Brody")
    service.oversight.place_hold(op.supervisor, "subject", held, "civil claim pending")
    clock.now += timedelta(days=41)
    with service.sessions() as session:
        before = dict(session.execute(select(TemplateRow.id, TemplateRow.vector)).all())
    run = service.oversight.retention_run(op.admin)
    with service.sessions() as session:
        left = session.execute(select(TemplateRow.id, TemplateRow.subject_id)).all()
    on_disk = _index_bytes(world)
    assert all((before[t] in on_disk) == (t in {i for i, _ in left}) for t in before)  # the index file too
    assert {s for _, s in left} == {held, _subject_id(world, "Amelia_Vega")}
    assert len(run.deleted["templates"]) == sum(len(v) for v in ENROLLED.values()) - len(ENROLLED["Adrien_Brody"])
    index_ids = set(service.indexes.get(world.gallery.id).ids().tolist())
    assert index_ids == {t for t, _ in left}
    clock.now += timedelta(days=3 * 365)  # past the last-interaction limit: the subjects go
    run = service.oversight.retention_run(op.admin)
    assert run.held["subjects"] == [held]
    with service.sessions() as session:
        assert session.scalars(select(Subject.id)).all() == [held]


def test_erasure_reaches_everything_and_leaves_a_certificate(service_factory: ServiceFactory) -> None:
    clock = Clock()
    world = _world(service_factory, clock)
    service, op = world.service, world.operator
    amelia = _subject_id(world, "Amelia_Vega")
    with service.sessions() as session:
        rows = session.execute(select(TemplateRow.id, TemplateRow.vector).where(TemplateRow.subject_id == amelia))
        ids, vectors = zip(*rows, strict=True)
    service.indexes.save(world.gallery.id)
    assert all(v in _index_bytes(world) for v in vectors)
    request_id = approved_request(service, op, probe("Amelia_Vega"), [world.gallery.id])
    before = service.searches.search(op.examiner, request_id, k=3)
    assert before.candidates[0].subject_reference == "Amelia_Vega"
    access = service.oversight.export_subject(op.admin, amelia)
    assert len(access["templates"]) == len(ENROLLED["Amelia_Vega"]) and access["candidate_appearances"]
    hold = service.oversight.place_hold(op.supervisor, "subject", amelia, "appeal pending")
    with pytest.raises(Conflict, match="legal hold"):
        service.oversight.erase_subject(op.admin, amelia, "data subject request of 2026-11-01")
    service.oversight.release_hold(op.supervisor, hold.id)

    certificate = service.oversight.erase_subject(op.admin, amelia, "data subject request of 2026-11-01")
    assert certificate["subject_reference"] == "Amelia_Vega"
    assert certificate["erased"]["templates"] == len(ENROLLED["Amelia_Vega"])
    assert certificate["erased"]["candidate_entries"] == 1

    with pytest.raises(NotFound):
        service.galleries.get_subject(op.admin, amelia)
    with pytest.raises(NotFound):
        service.oversight.export_subject(op.admin, amelia)
    assert "Amelia_Vega" not in [s.reference for s in service.galleries.list_subjects(op.admin, world.gallery.id)]
    assert all(
        c.subject_reference != "Amelia_Vega" for c in service.searches.get_search(op.examiner, before.id).candidates
    )
    again = service.searches.search(
        op.examiner, approved_request(service, op, probe("Amelia_Vega"), [world.gallery.id])
    )
    assert all(c.subject_reference != "Amelia_Vega" for c in again.candidates)
    assert "Amelia_Vega" not in service.reports.export_request(op.auditor, request_id)
    assert not any(v in _index_bytes(world) for v in vectors)  # the index file on disk
    assert not set(ids) & set(service.indexes.get(world.gallery.id).ids().tolist())
    events = [e.as_dict() for e in service.audit.list_audit(op.admin, limit=1000)]
    assert not any("Amelia_Vega" in json.dumps(e) for e in events)
    (erased,) = [e for e in events if e["action"] == "subject.erased"]
    assert erased["seq"] == certificate["audit_event"]["seq"] and erased["hash"] == certificate["audit_event"]["hash"]
    assert service.audit.verify_audit(op.auditor).ok


def test_consent_is_required_where_the_gallery_needs_it(service_factory: ServiceFactory) -> None:
    clock = Clock()
    world = make_world(service_factory(clock=clock), RETENTION)
    service, op = world.service, world.operator
    service.galleries.require_consent(op.admin, world.gallery.id)
    report = service.enrolment.enroll(op.admin, world.gallery.id, items_for({"Amelia_Vega": [1]}))
    assert report.counts["no-consent"] == 1 and report.counts["enrolled"] == 0
    subject = service.galleries.create_subject(op.admin, world.gallery.id, "Amelia_Vega")
    service.oversight.record_consent(op.admin, subject, "Amelia Vega (signed form 17)", "store loyalty check-in",
                           clock.now, expires=clock.now + timedelta(days=10))  # fmt: skip
    report = service.enrolment.enroll(op.admin, world.gallery.id, items_for({"Amelia_Vega": [1]}))
    assert report.counts["enrolled"] == 1
    clock.now += timedelta(days=11)  # consent expired: the next retention run erases the subject
    run = service.oversight.retention_run(op.admin)
    assert run.deleted["subjects"] == [subject]
    assert service.galleries.list_subjects(op.admin, world.gallery.id) == []


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_an_evaluation_kept_on_record_sets_the_search_threshold(service_factory: ServiceFactory) -> None:
    clock = Clock()
    world = _world(service_factory, clock)
    service, op = world.service, world.operator
    identities = evaluation.list_identities(photo("Abdullah_Gul", 1).parents[1], max_identities=12)
    extracted = evaluation.extract(service.pipeline.for_model(world.gallery.model_id), identities)
    result = evaluation.evaluate(extracted, max_impostor_pairs=2000)
    run_id = service.evaluation.save_evaluation(op.auditor, result)
    assert service.evaluation.get_evaluation(op.auditor, run_id).results["verification"] == result["verification"]
    threshold = service.evaluation.calibrate(op.admin, run_id, 0.01, gallery_id=world.gallery.id)
    assert threshold == result["verification"]["threshold_at_fmr"]["0.01"]
    search = service.searches.search(
        op.examiner, approved_request(service, op, probe("Amelia_Vega"), [world.gallery.id])
    )
    # searches default to the calibrated threshold, never looser than the policy's floor
    floor = threshold_at_fmr(DEFAULT_MODEL_ID, 1e-3)
    assert search.model_id == result["model"] == DEFAULT_MODEL_ID
    assert search.threshold == max(threshold, floor)
    assert np.isfinite(threshold)


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_consent_cannot_be_required_over_subjects_without_it(service_factory: ServiceFactory) -> None:
    clock = Clock()
    world = _world(service_factory, clock)
    service, op = world.service, world.operator
    with pytest.raises(Conflict, match="without a live consent"):
        service.galleries.require_consent(op.admin, world.gallery.id)
    waiting = service.galleries.create_subject(op.admin, world.gallery.id, "Newcomer")
    for subject in service.galleries.list_subjects(op.admin, world.gallery.id):
        if subject.id != waiting:
            service.oversight.erase_subject(op.admin, subject.id, "moving to a consent-only gallery")
    service.galleries.require_consent(op.admin, world.gallery.id)
    assert service.oversight.retention_run(op.admin).deleted["subjects"] == []  # awaiting consent: kept
    assert [s.id for s in service.galleries.list_subjects(op.admin, world.gallery.id)] == [waiting]
