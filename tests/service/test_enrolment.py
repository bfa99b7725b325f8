"""Enrolment from folder trees and CSV manifests: an outcome for every photo, re-runs that
enrol nothing twice, and the gallery rules (owner only, enrolling roles only)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from facedocket.errors import Forbidden, InvalidInput, NotFound
from facedocket.service import EnrolItem, read_source
from facedocket.store.tables import Subject, TemplateRow

from .conftest import ServiceFactory
from .support import (
    ENROLLED,
    IMPERFECT,
    NO_FACE,
    TWO_PEOPLE,
    World,
    copy_tree,
    make_world,
    photo,
    second_agency,
    template_count,
)

MIXED = "Mixed_Bag"  # a subject folder holding a no-face photo, a group photo and a corrupt file
PHOTOS = sum(len(v) for v in ENROLLED.values())


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = copy_tree(tmp_path / "tree", ENROLLED)
    mixed = root / MIXED
    mixed.mkdir()
    shutil.copyfile(NO_FACE, mixed / "eagle.jpg")
    shutil.copyfile(TWO_PEOPLE, mixed / "two.jpg")
    (mixed / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no JPEG" + bytes(range(256)) * 4)
    return root


def read_outcomes(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def by_name(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {Path(r["source"]).relative_to(Path(r["source"]).parents[1]).as_posix(): r for r in rows}


def test_enrol_tree_outcomes_and_csv(world: World, tree: Path, tmp_path: Path) -> None:
    service, gallery = world.service, world.gallery
    out = tmp_path / "out" / "outcomes.csv"
    report = service.enrolment.enroll(world.examiner, gallery.id, read_source(tree), outcomes_file=out)

    assert report.counts == Counter({"enrolled": PHOTOS + 1, "no-face": 1, "invalid-image": 1})
    assert report.as_dict()["images"] == PHOTOS + 3
    rows = read_outcomes(out)
    assert len(rows) == PHOTOS + 3
    named = by_name(rows)
    assert named[f"{MIXED}/eagle.jpg"]["outcome"] == "no-face"
    assert named[f"{MIXED}/corrupt.jpg"]["outcome"] == "invalid-image"
    assert named[f"{MIXED}/corrupt.jpg"]["detail"]
    assert named[f"{MIXED}/two.jpg"]["outcome"] == "enrolled"  # multi_face=largest by default
    for person, numbers in ENROLLED.items():
        for n in numbers:
            row = named[f"{person}/{n}.jpg"]
            assert (row["subject"], row["outcome"]) == (person, "enrolled")
            assert row["sha256"] == sha(tree / person / f"{n}.jpg")
            assert row["template_id"].isdigit()

    with service.sessions() as session:
        stored = dict(session.execute(select(TemplateRow.id, TemplateRow.source_sha256)).all())
        subjects = dict(
            session.execute(
                select(Subject.reference, func.count(TemplateRow.id))
                .join(TemplateRow, TemplateRow.subject_id == Subject.id)
                .group_by(Subject.reference)
            ).all()
        )
    enrolled_rows = [r for r in rows if r["outcome"] == "enrolled"]
    assert {int(r["template_id"]): r["sha256"] for r in enrolled_rows} == stored
    assert subjects == {**{p: len(n) for p, n in ENROLLED.items()}, MIXED: 1}
    info = service.galleries.get_gallery(world.admin, gallery.id)
    assert (info.subjects, info.templates) == (len(ENROLLED) + 1, PHOTOS + 1)


def test_group_photo_is_rejected_when_multi_face_is_reject(service_factory: ServiceFactory, tree: Path) -> None:
    service = service_factory(multi_face="reject")
    world = make_world(service)
    report = service.enrolment.enroll(world.examiner, world.gallery.id, read_source(tree))
    assert report.counts == Counter({"enrolled": PHOTOS, "several-faces": 1, "no-face": 1, "invalid-image": 1})
    several = [o for o in report.outcomes if o.outcome == "several-faces"]
    assert [Path(o.source).name for o in several] == ["two.jpg"]
    assert "2 faces" in several[0].detail
    assert template_count(service) == PHOTOS


def test_rerun_enrols_nothing_new(world: World, tree: Path, tmp_path: Path) -> None:
    service, gallery = world.service, world.gallery
    items = read_source(tree)
    out = tmp_path / "outcomes.csv"
    first = service.enrolment.enroll(world.examiner, gallery.id, items, outcomes_file=out)
    ids_before = sorted(o.template_id for o in first.outcomes if o.template_id)
    count = template_count(service)

    again = service.enrolment.enroll(world.examiner, gallery.id, items, outcomes_file=out, batch_size=3)
    assert again.counts == Counter({"already-enrolled": PHOTOS + 1, "no-face": 1, "invalid-image": 1})
    assert template_count(service) == count == PHOTOS + 1
    assert not [o for o in again.outcomes if o.template_id]
    assert sorted(service.indexes.get(gallery.id).ids().tolist()) == ids_before
    rows = read_outcomes(out)  # the second run appended its outcomes
    assert len(rows) == 2 * (PHOTOS + 3)
    assert Counter(r["outcome"] for r in rows[PHOTOS + 3 :]) == again.counts


def test_same_bytes_twice_in_one_run_is_duplicate(world: World) -> None:
    one = photo("Amelia_Vega", 1)
    items = [
        EnrolItem("Amelia_Vega", str(one)),
        EnrolItem("Amelia_Vega", str(photo("Amelia_Vega", 2))),
        EnrolItem("Somebody_Else", str(one)),  # same bytes under another subject
    ]
    report = world.service.enrolment.enroll(world.examiner, world.gallery.id, items)
    assert [o.outcome for o in report.outcomes] == ["enrolled", "enrolled", "duplicate"]
    assert report.outcomes[2].sha256 == sha(one)
    assert template_count(world.service) == 2
    assert [s.reference for s in world.service.galleries.list_subjects(world.admin, world.gallery.id)] == [
        "Amelia_Vega"
    ]


def test_same_bytes_twice_in_one_run_is_duplicate_across_batches(world: World) -> None:
    """The module promises `duplicate` for "the same bytes twice in this run", whatever the
    batch size; a photo enrolled earlier *in this run* is not `already-enrolled`."""
    one = photo("Amelia_Vega", 1)
    items = [EnrolItem("Amelia_Vega", str(one)), EnrolItem("Amelia_Vega", str(one))]
    report = world.service.enrolment.enroll(world.examiner, world.gallery.id, items, batch_size=1)
    assert [o.outcome for o in report.outcomes] == ["enrolled", "duplicate"]
    assert template_count(world.service) == 1


def test_csv_manifest_with_relative_paths_and_attributes(world: World, tmp_path: Path) -> None:
    folder = tmp_path / "manifest"
    (folder / "photos").mkdir(parents=True)
    rows = [("A-1001", "Amelia_Vega", 1, "F", "1984"), ("A-1001", "Amelia_Vega", 2, "F", "1984"),
            ("A-1002", "Adrien_Brody", 1, "M", "1973")]  # fmt: skip
    for _ref, person, n, _sex, _year in rows:
        shutil.copyfile(photo(person, n), folder / "photos" / f"{person}-{n}.jpg")
    manifest = folder / "list.csv"
    with manifest.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["subject", "image", "sex", "birth_year", "booking_no"])
        for ref, person, n, sex, year in rows:
            writer.writerow([ref, f"photos/{person}-{n}.jpg", sex, year, f"B{n}"])

    items = read_source(manifest)
    assert [Path(i.source) for i in items] == [(folder / "photos" / f"{p}-{n}.jpg").resolve() for _, p, n, _, _ in rows]
    report = world.service.enrolment.enroll(world.examiner, world.gallery.id, items)
    assert report.counts == Counter({"enrolled": 3})
    subjects = {s.reference: s for s in world.service.galleries.list_subjects(world.admin, world.gallery.id)}
    assert set(subjects) == {"A-1001", "A-1002"}
    assert (subjects["A-1001"].sex, subjects["A-1001"].birth_year, subjects["A-1001"].templates) == ("F", 1984, 2)
    assert (subjects["A-1002"].sex, subjects["A-1002"].birth_year, subjects["A-1002"].templates) == ("M", 1973, 1)
    assert subjects["A-1002"].attributes == {"booking_no": "B1"}


def test_manifest_without_the_required_columns_is_invalid(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.csv"
    manifest.write_text("name,file\nx,photos/x.jpg\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="subject"):
        read_source(manifest)
    only_subject = tmp_path / "half.csv"
    only_subject.write_text("subject,sex\nx,F\n", encoding="utf-8")
    with pytest.raises(InvalidInput):
        read_source(only_subject)


def test_below_quality_writes_nothing(service_factory: ServiceFactory, tmp_path: Path) -> None:
    service = service_factory(enrol_min_quality=0.99)
    world = make_world(service)
    tree = copy_tree(tmp_path / "tree", IMPERFECT)
    report = service.enrolment.enroll(world.examiner, world.gallery.id, read_source(tree))
    assert report.counts == Counter({"below-quality": sum(len(v) for v in IMPERFECT.values())})
    assert all("quality" in o.detail for o in report.outcomes)
    assert template_count(service) == 0
    assert service.galleries.list_subjects(world.admin, world.gallery.id) == []


def test_enrol_only_into_galleries_your_agency_owns(world: World) -> None:
    service = world.service
    sheriff = second_agency(world)
    items = [EnrolItem("Amelia_Vega", str(photo("Amelia_Vega", 1)))]
    with pytest.raises(NotFound):  # another agency's gallery, not shared: invisible
        service.enrolment.enroll(sheriff.examiner, world.gallery.id, items)
    service.galleries.share_gallery(world.admin, world.gallery.id, sheriff.id)
    with pytest.raises(Forbidden):  # shared with the sheriff: searchable, not changeable
        service.enrolment.enroll(sheriff.examiner, world.gallery.id, items)
    assert template_count(service) == 0
    own = service.galleries.create_gallery(sheriff.admin, "sheriff-bookings", "county booking photos", "investigations")
    assert service.enrolment.enroll(sheriff.examiner, own.id, items).counts == Counter({"enrolled": 1})


@pytest.mark.parametrize("role", ["requester", "auditor"])
def test_requesters_and_auditors_cannot_enrol(world: World, role: str) -> None:
    items = [EnrolItem("Amelia_Vega", str(photo("Amelia_Vega", 1)))]
    with pytest.raises(Forbidden):
        world.service.enrolment.enroll(getattr(world.operator, role), world.gallery.id, items)
    assert template_count(world.service) == 0


def test_enrol_one_upload(world: World) -> None:
    service = world.service
    outcome = service.enrolment.enroll_image(
        world.examiner, world.gallery.id, "Amelia_Vega", photo("Amelia_Vega", 1).read_bytes()
    )
    assert outcome.outcome == "enrolled" and outcome.template_id
    assert (
        service.enrolment.enroll_image(world.examiner, world.gallery.id, "Eagle", NO_FACE.read_bytes()).outcome
        == "no-face"
    )
    assert template_count(service) == 1
