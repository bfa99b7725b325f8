"""Re-embedding a gallery with another template model from its kept photos: resumable, the
old templates searched until the new ones are complete and swapped in at once, audited,
and a gallery that keeps no photos says so. The photos are the ones enrolment kept in the
encrypted file store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from facedocket.errors import Conflict, Forbidden, InvalidInput
from facedocket.service import Service
from facedocket.service.galleries import GalleryInfo
from facedocket.store.tables import Reembedding, StagedTemplate, TemplateRow
from facedocket.vision.models import DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID

from .support import ENROLLED, World, items_for, probe, row_counts, run_search, template_ids


class Interrupted(Exception):
    """The run stopped (a crash, a killed process) after its first batch."""


def _stop(_n: int) -> None:
    raise Interrupted


def legacy_gallery(
    world: World, people: dict[str, list[int]] = ENROLLED, unkept: dict[str, list[int]] | None = None
) -> GalleryInfo:
    """A gallery of dlib's model (as every gallery made before models were chosen per
    gallery) with ``unkept`` enrolled while it kept no photos, then ``people`` with their
    photos kept."""
    service = world.service
    gallery = service.galleries.create_gallery(world.admin, "legacy", "booking photos 2010-2019",
                                               "criminal investigations", model_id=TEMPLATE_MODEL_ID,
                                               keep_photos=not unkept)  # fmt: skip
    if unkept:
        report = service.enrolment.enroll(world.examiner, gallery.id, items_for(unkept))
        assert report.counts["enrolled"] == sum(len(v) for v in unkept.values())
        service.galleries.set_keep_photos(world.admin, gallery.id, True)
    report = service.enrolment.enroll(world.examiner, gallery.id, items_for(people))
    assert report.counts["enrolled"] == sum(len(v) for v in people.values())
    return gallery


def staged_count(service: Service) -> int:
    with service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(StagedTemplate)) or 0)


def models_of_templates(service: Service, gallery_id: int) -> set[str]:
    with service.sessions() as session:
        return set(session.scalars(select(TemplateRow.model_id).where(TemplateRow.gallery_id == gallery_id)))


def test_an_interrupted_reembedding_resumes_and_swaps_in_at_once(world: World) -> None:
    service, admin = world.service, world.admin
    gallery = legacy_gallery(world)
    old = template_ids(service, gallery.id)
    with pytest.raises(Interrupted):
        service.reembedding.reembed(admin, gallery.id, DEFAULT_MODEL_ID, progress=_stop, batch_size=4)
    # the first batch is staged; the gallery is still dlib's, and searched as before
    assert staged_count(service) == 4
    assert service.galleries.get_gallery(admin, gallery.id).model_id == TEMPLATE_MODEL_ID
    assert template_ids(service, gallery.id) == old and models_of_templates(service, gallery.id) == {TEMPLATE_MODEL_ID}
    during = run_search(service, world.operator, probe("Amelia_Vega"), [gallery.id])
    assert (during.model_id, during.candidates[0].subject_reference) == (TEMPLATE_MODEL_ID, "Amelia_Vega")
    with pytest.raises(Conflict, match="being re-embedded with sface-2021dec"):
        service.enrolment.enroll(world.examiner, gallery.id, items_for({"Albert_Costa": [1]}))

    report = service.reembedding.reembed(admin, gallery.id, DEFAULT_MODEL_ID, batch_size=4)
    assert (report.finished, report.already_staged, report.embedded, report.templates) == (True, 4, 6, 10)
    assert (report.from_model, report.failed, report.dropped_without_photo) == (TEMPLATE_MODEL_ID, {}, 0)
    after = service.galleries.get_gallery(admin, gallery.id)
    assert (after.model_id, after.subjects, after.templates) == (DEFAULT_MODEL_ID, 4, 10)
    new = template_ids(service, gallery.id)
    assert not set(new) & set(old) and models_of_templates(service, gallery.id) == {DEFAULT_MODEL_ID}
    assert staged_count(service) == 0 and service.indexes.verify(gallery.id)
    for person in ENROLLED:
        result = run_search(service, world.operator, probe(person), [gallery.id])
        assert (result.model_id, result.candidates[0].subject_reference) == (DEFAULT_MODEL_ID, person)
    started = [e.as_dict()["details"] for e in service.audit.list_audit(admin, action="gallery.reembed_started")]
    assert [d["resumed"] for d in reversed(started)] == [False, True] and started[0]["staged"] == 4
    (swapped,) = [e.as_dict()["details"] for e in service.audit.list_audit(admin, action="gallery.reembedded")]
    assert (swapped["from_model"], swapped["model_id"], swapped["old_templates"], swapped["templates"]) == (
        TEMPLATE_MODEL_ID,
        DEFAULT_MODEL_ID,
        10,
        10,
    )
    # enrolment goes on, with the new model
    assert service.enrolment.enroll(world.examiner, gallery.id, items_for({"Albert_Costa": [1]})).counts["enrolled"]
    assert models_of_templates(service, gallery.id) == {DEFAULT_MODEL_ID}


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_gallery_without_kept_photos_says_so(world: World) -> None:
    service = world.service
    gallery = service.galleries.create_gallery(world.admin, "legacy", "booking photos", "criminal investigations",
                                               model_id=TEMPLATE_MODEL_ID, keep_photos=False)  # fmt: skip
    service.enrolment.enroll(world.examiner, gallery.id, items_for({"Amelia_Vega": [1]}))
    with pytest.raises(InvalidInput, match=r"keeps no enrolment photos.*cannot be re-embedded"):
        service.reembedding.reembed(world.admin, gallery.id, DEFAULT_MODEL_ID)
    assert row_counts(service, Reembedding)["reembedding"] == 0
    assert models_of_templates(service, gallery.id) == {TEMPLATE_MODEL_ID}


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_templates_without_a_kept_photo_stop_the_swap_unless_dropped(world: World) -> None:
    service, admin = world.service, world.admin
    kept = {"Amelia_Vega": ENROLLED["Amelia_Vega"], "Ai_Sugiyama": ENROLLED["Ai_Sugiyama"]}
    gallery = legacy_gallery(world, kept, {p: n for p, n in ENROLLED.items() if p not in kept})
    with pytest.raises(Conflict, match=r"5 of 10 templates .* have no kept photo"):
        service.reembedding.reembed(admin, gallery.id, DEFAULT_MODEL_ID)
    assert models_of_templates(service, gallery.id) == {TEMPLATE_MODEL_ID} and staged_count(service) == 5
    report = service.reembedding.reembed(admin, gallery.id, DEFAULT_MODEL_ID, drop_unkept=True)
    assert (report.embedded, report.already_staged, report.templates, report.dropped_without_photo) == (0, 5, 5, 5)
    subjects = {s.reference: s.templates for s in service.galleries.list_subjects(admin, gallery.id)}
    assert subjects == {"Abdullah_Gul": 0, "Adrien_Brody": 0, "Amelia_Vega": 3, "Ai_Sugiyama": 2}


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_who_may_reembed_and_what_conflicts(world: World) -> None:
    service, admin = world.service, world.admin
    gallery = legacy_gallery(world, {"Amelia_Vega": [1, 2, 3]})
    for actor in (world.examiner, world.operator.requester):
        with pytest.raises(Forbidden):
            service.reembedding.reembed(actor, gallery.id, DEFAULT_MODEL_ID)
    with pytest.raises(InvalidInput, match="already uses dlib-resnet-v1"):
        service.reembedding.reembed(admin, gallery.id, TEMPLATE_MODEL_ID)
    with pytest.raises(Interrupted):
        service.reembedding.reembed(admin, gallery.id, DEFAULT_MODEL_ID, progress=_stop, batch_size=2)
    with pytest.raises(Conflict, match="being re-embedded with sface-2021dec; finish that"):
        service.reembedding.reembed(admin, gallery.id, TEMPLATE_MODEL_ID)
    assert service.reembedding.abandon(admin, gallery.id) == 2
    assert staged_count(service) == 0 and models_of_templates(service, gallery.id) == {TEMPLATE_MODEL_ID}
    with pytest.raises(InvalidInput, match="no unfinished re-embedding"):
        service.reembedding.abandon(admin, gallery.id)
    (event,) = [e.as_dict()["details"] for e in service.audit.list_audit(admin, action="gallery.reembed_abandoned")]
    assert event == {"model_id": DEFAULT_MODEL_ID, "staged_deleted": 2}
    watchlist = service.watchlists.create_watchlist(admin, "shop", "incident reports")
    with pytest.raises(InvalidInput, match="watchlists keep dlib-resnet-v1"):
        service.reembedding.reembed(admin, watchlist.id, DEFAULT_MODEL_ID)


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_erasure_and_access_reach_the_staged_templates(world: World, tmp_path: Path) -> None:
    service, admin = world.service, world.admin
    gallery = legacy_gallery(world)
    with pytest.raises(Interrupted):  # the first batch: Abdullah_Gul's three photos and one of Adrien_Brody's
        service.reembedding.reembed(admin, gallery.id, DEFAULT_MODEL_ID, progress=_stop, batch_size=4)
    ids = {s.reference: s.id for s in service.galleries.list_subjects(admin, gallery.id)}
    access = service.oversight.export_subject(admin, ids["Adrien_Brody"])
    (staged,) = access["reembedding_templates"]
    assert staged["model_id"] == DEFAULT_MODEL_ID and len(staged["vector"]) == 128
    certificate = service.oversight.erase_subject(admin, ids["Abdullah_Gul"], "erasure request of 2026-12-01")
    assert certificate["erased"]["templates"] == 3 + 3  # the gallery's and the staged ones
    assert staged_count(service) == 1


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_face_not_found_again_loses_its_template(world: World) -> None:
    """The new template is made from the face the old one was made from (the box that
    overlaps it most); when the new model's pipeline does not find that face, the template
    is lost in the swap, and the report and the event count it."""
    service, admin = world.service, world.admin
    gallery = legacy_gallery(world, {"Amelia_Vega": [1, 2, 3]})
    first = template_ids(service, gallery.id)[0]
    with service.ctx.write() as session:  # as if the enrolled face had been elsewhere in the photo
        session.execute(update(TemplateRow).where(TemplateRow.id == first).values(box=[0.0, 0.0, 6.0, 6.0]))
    report = service.reembedding.reembed(admin, gallery.id, DEFAULT_MODEL_ID)
    assert (report.templates, dict(report.failed)) == (2, {"no-face": 1})
    (swapped,) = [e.as_dict()["details"] for e in service.audit.list_audit(admin, action="gallery.reembedded")]
    assert (swapped["old_templates"], swapped["templates"], swapped["lost"]) == (3, 2, {"no-face": 1})
