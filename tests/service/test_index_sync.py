"""The per-gallery index file is a cache of the database: rebuilt, repaired and caught up
automatically, and changed together with the database when a subject is deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, text, update

from facedocket.errors import Forbidden, NotFound
from facedocket.service import SearchResult, Service
from facedocket.store.tables import Candidate, Gallery, Subject, TemplateRow

from .conftest import ServiceFactory
from .support import ENROLLED, OUTSIDER, World, items_for, photo, probe, run_search, second_agency, template_ids


@pytest.fixture
def enrolled(world: World) -> World:
    report = world.service.enrolment.enroll(world.examiner, world.gallery.id, items_for(ENROLLED))
    assert report.counts["enrolled"] == sum(len(v) for v in ENROLLED.values())
    return world


def search(service: Service, world: World, person: str) -> SearchResult:
    """File and approve a request for ``person``'s probe through ``service`` and search it."""
    return run_search(service, world.operator, probe(person), [world.gallery.id])


def summary(result: SearchResult) -> list[tuple[int | None, int | None, float]]:
    return [(c.subject_id, c.template_id, round(c.score, 5)) for c in result.candidates]


def results(service: Service, world: World) -> dict[str, list[tuple[int | None, int | None, float]]]:
    return {person: summary(search(service, world, person)) for person in [*ENROLLED, OUTSIDER]}


def subject_id(world: World, reference: str) -> int:
    subjects = world.service.galleries.list_subjects(world.admin, world.gallery.id)
    return next(s.id for s in subjects if s.reference == reference)


def test_index_file_exists_after_enrolment(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    assert service.indexes.path(gallery_id).is_file()
    assert service.indexes.get(gallery_id).ids().tolist() == template_ids(service, gallery_id)


def test_rebuild_gives_the_same_index_and_results(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    incremental_ids = service.indexes.get(gallery_id).ids().tolist()
    before = results(service, enrolled)
    assert before[OUTSIDER] == []
    assert all(before[p] for p in ENROLLED)

    assert service.galleries.rebuild_index(enrolled.admin, gallery_id) == len(incremental_ids)
    assert service.indexes.get(gallery_id).ids().tolist() == incremental_ids == template_ids(service, gallery_id)
    assert results(service, enrolled) == before


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip-a-byte", "delete"])
def test_damaged_index_file_is_repaired_on_the_next_search(
    enrolled: World, service_factory: ServiceFactory, damage: str
) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    before = results(service, enrolled)
    path = service.indexes.path(gallery_id)
    if damage == "delete":
        path.unlink()
    else:
        _flip_a_byte(path)

    assert results(service, enrolled) == before  # the running service keeps its good copy
    fresh = service_factory()  # a new process finds the damaged file
    assert results(fresh, enrolled) == before
    assert fresh.indexes.get(gallery_id).ids().tolist() == template_ids(fresh, gallery_id)


def test_stale_index_file_catches_up_with_the_database(
    enrolled: World, service_factory: ServiceFactory, tmp_path: Path
) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    path = service.indexes.path(gallery_id)
    old = tmp_path / "old.fdindex"
    shutil.copyfile(path, old)
    old_ids = service.indexes.get(gallery_id).ids().tolist()

    added = service.enrolment.enroll(enrolled.examiner, gallery_id, items_for({OUTSIDER: [2, 3]}))
    assert added.counts["enrolled"] == 2
    shutil.copyfile(old, path)  # as if the process had died before writing the new file

    fresh = service_factory()
    in_db = template_ids(fresh, gallery_id)
    assert len(in_db) == len(old_ids) + 2
    assert fresh.indexes.get(gallery_id).ids().tolist() == in_db
    found = run_search(fresh, enrolled.operator, photo(OUTSIDER, 1).read_bytes(), [gallery_id])
    assert found.candidates[0].subject_reference == OUTSIDER
    assert found.gallery_size == len(in_db)


def test_delete_subject_removes_it_from_database_and_index_at_once(
    enrolled: World, service_factory: ServiceFactory
) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    person = "Amelia_Vega"
    earlier = search(service, enrolled, person)
    assert earlier.candidates[0].subject_reference == person
    victim = subject_id(enrolled, person)
    with service.sessions() as session:
        victim_templates = set(session.scalars(select(TemplateRow.id).where(TemplateRow.subject_id == victim)))
    assert len(victim_templates) == len(ENROLLED[person])

    assert service.galleries.delete_subject(enrolled.admin, victim) == len(victim_templates)

    index_ids = set(service.indexes.get(gallery_id).ids().tolist())
    assert not index_ids & victim_templates
    assert sorted(index_ids) == template_ids(service, gallery_id)
    with service.sessions() as session:
        assert session.get(Subject, victim) is None
        assert not session.scalars(select(TemplateRow.id).where(TemplateRow.id.in_(victim_templates))).all()
    after = search(service, enrolled, person)
    assert all(c.subject_reference != person and c.template_id not in victim_templates for c in after.candidates)
    assert person not in {s.reference for s in service.galleries.list_subjects(enrolled.admin, gallery_id)}

    # the earlier search keeps its candidate rows, with the subject gone
    kept = service.searches.get_search(enrolled.examiner, earlier.id)
    assert [(c.rank, c.template_id, c.score) for c in kept.candidates] == [
        (c.rank, c.template_id, c.score) for c in earlier.candidates
    ]
    assert kept.candidates[0].subject_id is None and kept.candidates[0].subject_reference is None
    with service.sessions() as session:
        rows = session.scalars(select(Candidate).where(Candidate.search_id == earlier.id)).all()
    assert len(rows) == len(earlier.candidates)
    assert [r.subject_id for r in rows if r.template_id in victim_templates] == [None]

    # the index file was saved too: a new process agrees
    fresh = service_factory()
    assert not set(fresh.indexes.get(gallery_id).ids().tolist()) & victim_templates
    assert fresh.indexes.get(gallery_id).ids().tolist() == template_ids(fresh, gallery_id)


def test_only_gallery_admins_of_the_owner_delete_subjects(enrolled: World) -> None:
    service = enrolled.service
    victim = subject_id(enrolled, "Adrien_Brody")
    with pytest.raises(Forbidden):
        service.galleries.delete_subject(enrolled.examiner, victim)
    sheriff = second_agency(enrolled)
    with pytest.raises(NotFound):
        service.galleries.delete_subject(sheriff.admin, victim)
    service.galleries.share_gallery(enrolled.admin, enrolled.gallery.id, sheriff.id)
    with pytest.raises(Forbidden):  # shared, not owned
        service.galleries.delete_subject(sheriff.admin, victim)
    assert service.galleries.get_subject(enrolled.admin, victim).templates == len(ENROLLED["Adrien_Brody"])


def test_deleting_every_subject_leaves_an_empty_index(enrolled: World, service_factory: ServiceFactory) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    for subject in service.galleries.list_subjects(enrolled.admin, gallery_id):
        assert service.galleries.delete_subject(enrolled.admin, subject.id) == subject.templates
    assert template_ids(service, gallery_id) == []
    assert len(service.indexes.get(gallery_id)) == 0
    assert search(service, enrolled, "Amelia_Vega").candidates == []
    assert service.galleries.rebuild_index(enrolled.admin, gallery_id) == 0
    assert len(service_factory().indexes.get(gallery_id)) == 0


def test_template_ids_are_never_reused(enrolled: World) -> None:
    """Index catch-up and past candidate rows identify templates by id alone, so an id must
    never come back for another photo after its template was deleted."""
    service, gallery_id = enrolled.service, enrolled.gallery.id
    before = template_ids(service, gallery_id)
    last = subject_id(enrolled, list(ENROLLED)[-1])  # enrolled last: holds the highest ids
    service.galleries.delete_subject(enrolled.admin, last)
    added = service.enrolment.enroll(enrolled.examiner, gallery_id, items_for({OUTSIDER: [2, 3]}))
    new_ids = [o.template_id for o in added.outcomes]
    assert all(i is not None and i > max(before) for i in new_ids), (before, new_ids)


def test_another_process_deleting_and_enrolling_keeps_this_index_right(
    enrolled: World, service_factory: ServiceFactory
) -> None:
    """A long-running process (an API server, say) and another (the CLI) on one database."""
    server, gallery_id = enrolled.service, enrolled.gallery.id
    gone = list(ENROLLED)[-1]  # enrolled last: holds the highest template ids
    assert search(server, enrolled, gone).candidates[0].subject_reference == gone  # index now in memory

    cli = service_factory()
    cli.galleries.delete_subject(enrolled.admin, subject_id(enrolled, gone))
    cli.enrolment.enroll(enrolled.examiner, gallery_id, items_for({OUTSIDER: [2, 3]}))

    # the deleted person's face must not come back as the new person's candidate
    leads = [(c.subject_reference, c.score) for c in search(server, enrolled, gone).candidates]
    assert all(reference != OUTSIDER for reference, _score in leads), leads
    assert search(server, enrolled, OUTSIDER).candidates[0].subject_reference == OUTSIDER

    in_db = template_ids(server, gallery_id)
    index = server.indexes.get(gallery_id)
    assert index.ids().tolist() == in_db
    with server.sessions() as session:
        rows = session.execute(select(TemplateRow.id, TemplateRow.vector).where(TemplateRow.gallery_id == gallery_id))
        stored: dict[int, bytes] = {template_id: vector for template_id, vector in rows}
    for template_id in in_db:  # the same vectors, not just the same ids
        assert index.vectors_for([template_id]).tobytes() == stored[template_id], template_id


# --- content, not only generation and ids (issue 11, item 3) -------------------------------

STRANGER = "Aaron_Peirsol"  # enrolled only after the database was restored


def _backup_point(service: Service, gallery_id: int) -> tuple[int, int, int]:
    with service.sessions() as session:
        generation = session.scalar(select(Gallery.generation).where(Gallery.id == gallery_id))
        return (
            int(generation or 0),
            int(session.scalar(select(func.max(TemplateRow.id))) or 0),
            int(session.scalar(select(func.max(Subject.id))) or 0),
        )


def _restore(service: Service, gallery_id: int, point: tuple[int, int, int], db_kind: str) -> None:
    """What restoring the database from a backup taken at ``point`` does to the gallery's
    rows: later templates and subjects gone, the generation and the id counters back."""
    generation, last_template, last_subject = point
    with service.ctx.write() as session:
        session.query(TemplateRow).filter(TemplateRow.id > last_template).delete()
        session.query(Subject).filter(Subject.id > last_subject).delete()
        session.execute(update(Gallery).where(Gallery.id == gallery_id).values(generation=generation))
        for table, last in (("template", last_template), ("subject", last_subject)):
            if db_kind == "sqlite":
                session.execute(text("UPDATE sqlite_sequence SET seq = :n WHERE name = :t"), {"n": last, "t": table})
            else:
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"), {"n": last})


def test_a_restored_database_with_the_index_folder_kept_brings_no_one_back(
    enrolled: World, service_factory: ServiceFactory, db_kind: str
) -> None:
    """The index file's generation and ids match the database again, but its vectors are
    of a person no longer in it: the content checksum tells, and the index is rebuilt."""
    service, gallery_id = enrolled.service, enrolled.gallery.id
    point = _backup_point(service, gallery_id)
    service.enrolment.enroll(enrolled.examiner, gallery_id, items_for({OUTSIDER: [2, 3]}))  # after the backup
    service.indexes.save(gallery_id)
    kept_ids = service.indexes.get(gallery_id).ids().tolist()
    service.engine.dispose()

    _restore(service, gallery_id, point, db_kind)  # the database goes back; index/ is kept
    cli = service_factory()
    added = cli.enrolment.enroll(enrolled.examiner, gallery_id, items_for({STRANGER: [1, 2]}))
    assert added.counts["enrolled"] == 2
    assert template_ids(cli, gallery_id) == kept_ids  # the same ids and generation as the kept file

    later = service_factory()
    found = run_search(later, enrolled.operator, probe(OUTSIDER), [gallery_id])
    assert [c.subject_reference for c in found.candidates] == [], "a person no longer in the database came back"
    assert later.indexes.verify(gallery_id)
    stranger = run_search(later, enrolled.operator, photo(STRANGER, 3).read_bytes(), [gallery_id])
    assert stranger.candidates[0].subject_reference == STRANGER


def test_verify_compares_vectors_not_ids(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    assert service.indexes.verify(gallery_id)
    first = template_ids(service, gallery_id)[0]
    with service.ctx.write() as session:  # a vector changed behind the index's back
        session.execute(
            update(TemplateRow).where(TemplateRow.id == first).values(vector=np.ones(128, np.float32).tobytes())
        )
    assert not service.indexes.verify(gallery_id)


def _orphan(service: Service, gallery_id: int) -> Path:
    """A temporary file as a writer killed before its move leaves it: every vector inside."""
    path = service.indexes.path(gallery_id)
    orphan = path.parent / f".{path.name}.k1ll3d.tmp"
    shutil.copyfile(path, orphan)
    return orphan


def test_orphaned_temporary_files_are_removed_when_the_index_folder_is_opened(
    enrolled: World, service_factory: ServiceFactory
) -> None:
    orphan = _orphan(enrolled.service, enrolled.gallery.id)
    unrelated = orphan.parent / "notes.tmp"
    unrelated.write_text("not ours")
    service_factory()
    assert not orphan.exists() and unrelated.exists()


def test_erasure_sweeps_temporary_files_holding_the_subjects_vectors(enrolled: World) -> None:
    service, gallery_id = enrolled.service, enrolled.gallery.id
    victim = subject_id(enrolled, "Amelia_Vega")
    with service.sessions() as session:
        vectors = session.scalars(select(TemplateRow.vector).where(TemplateRow.subject_id == victim)).all()
    orphan = _orphan(service, gallery_id)
    assert all(v in orphan.read_bytes() for v in vectors)
    service.oversight.erase_subject(enrolled.operator.supervisor, victim, "the data subject's request of 1 May")
    leftovers = [p for p in service.indexes.folder.iterdir() if p.suffix == ".tmp"]
    assert leftovers == []
    assert not any(v in service.indexes.path(gallery_id).read_bytes() for v in vectors)
