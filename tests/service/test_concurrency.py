"""Searches while an enrolment runs: every search works on a consistent index (never a
half-applied batch), and afterwards the index equals the database."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from facedocket.service import SearchResult, Service
from facedocket.service.enrolment import EnrolmentReport
from facedocket.store.tables import Subject, TemplateRow

from .conftest import ServiceFactory
from .support import World, approved_request, items_for, probe, template_ids

PERSON = "Amelia_Vega"  # enrolled first, then searched for while others are enrolled
OTHERS = {
    "Abdullah_Gul": [1, 2, 3, 4, 5],
    "Adrien_Brody": [1, 3, 4, 5, 8],
    "Ai_Sugiyama": [1, 2, 3, 4, 5],
    "Albert_Costa": [1, 2, 3, 4, 5],
}
SEARCHERS = 2
MIN_SEARCHES = 3  # per searcher, even if the enrolment is over quickly


def test_searches_during_enrolment_are_consistent(world: World) -> None:
    service, gallery_id = world.service, world.gallery.id
    first = service.enrolment.enroll(world.examiner, gallery_id, items_for({PERSON: [1, 2, 3]}))
    assert first.counts["enrolled"] == 3
    person_id = next(s.id for s in service.galleries.list_subjects(world.admin, gallery_id) if s.reference == PERSON)
    data = probe(PERSON)
    requests = [approved_request(service, world.operator, data, [gallery_id]) for _ in range(SEARCHERS)]

    enrolling = threading.Event()
    enrolling.set()
    errors: list[BaseException] = []
    found: list[list[SearchResult]] = [[] for _ in range(SEARCHERS)]
    during = [0] * SEARCHERS  # searches that ran while the enrolment was still going

    def enrol() -> None:
        try:
            report = service.enrolment.enroll(world.examiner, gallery_id, items_for(OTHERS), batch_size=2)
            assert report.counts["enrolled"] == sum(map(len, OTHERS.values())), report.counts
        except BaseException as e:  # reported by the main thread
            errors.append(e)
        finally:
            enrolling.clear()

    def search(slot: int) -> None:
        try:
            while enrolling.is_set() or len(found[slot]) < MIN_SEARCHES:
                busy = enrolling.is_set()
                found[slot].append(service.searches.search(world.examiner, requests[slot]))
                during[slot] += busy
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=enrol)] + [threading.Thread(target=search, args=(i,)) for i in range(SEARCHERS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    assert time.monotonic() - started < 240

    in_db = template_ids(service, gallery_id)
    assert len(in_db) == 3 + sum(map(len, OTHERS.values()))
    results = [r for slot in found for r in slot]
    assert all(n >= 1 for n in during), f"searches during the enrolment per searcher: {during}"
    for result in results:
        assert result.candidates, "the enrolled person was not found"
        assert (result.candidates[0].subject_id, result.candidates[0].subject_reference) == (person_id, PERSON)
        scores = [c.score for c in result.candidates]
        assert scores == sorted(scores, reverse=True)
        assert {c.template_id for c in result.candidates} <= set(in_db)
        assert 3 <= result.gallery_size <= len(in_db)
        assert (result.gallery_size - 3) % 2 == 0, "the index held half a batch"  # batches of 2, all enrolled
    for slot in found:  # the index only grows while templates are only added
        sizes = [r.gallery_size for r in slot]
        assert sizes == sorted(sizes)
    assert service.indexes.get(gallery_id).ids().tolist() == in_db


def test_two_processes_enrolling_the_same_photos_at_once(world: World, service_factory: ServiceFactory) -> None:
    """Two operators start the same import at the same moment (two services stand for two
    processes): every photo ends up enrolled exactly once and both indexes agree."""
    gallery_id = world.gallery.id
    people = {"Abdullah_Gul": [1, 2, 3], "Adrien_Brody": [1, 3, 4], "Ai_Sugiyama": [1, 2, 3, 4]}
    items = items_for(people)
    services = [world.service, service_factory()]
    reports: list[EnrolmentReport] = []
    errors: list[BaseException] = []
    go = threading.Barrier(len(services))

    def enrol(service: Service) -> None:
        try:
            go.wait()
            reports.append(service.enrolment.enroll(world.examiner, gallery_id, items, batch_size=2))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=enrol, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    assert len(reports) == 2

    total = len(items)
    assert sum(r.counts["enrolled"] for r in reports) == total
    for report in reports:
        assert report.counts["enrolled"] + report.counts["already-enrolled"] == total, report.counts
    in_db = template_ids(world.service, gallery_id)
    assert len(in_db) == total
    with world.service.sessions() as session:
        shas = session.scalars(select(TemplateRow.source_sha256)).all()
        references = session.scalars(select(Subject.reference)).all()
    assert len(set(shas)) == total
    assert sorted(references) == sorted(people)
    for service in services:
        assert service.indexes.get(gallery_id).ids().tolist() == in_db
