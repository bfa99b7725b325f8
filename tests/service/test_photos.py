"""Photos for review: enrolment keeps each subject's source photo and aligned face crop,
encrypted; the gallery's setting and the policy profile say whether; retention, legal holds,
erasure and the access export reach them; views are recorded; old plain probes stay readable."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from policy_texts import PERMISSIVE, permissive
from sqlalchemy import select

from facedocket.errors import DecryptionFailed, Forbidden, NotFound, PolicyDenied
from facedocket.governance.retention import PHOTO_RULE
from facedocket.service import Service
from facedocket.store.tables import AuditEvent, StoredImage
from facedocket.vocab import ENROLMENT_PHOTO_KINDS

from .conftest import ServiceFactory
from .support import World, approved_request, items_for, make_world, photo, probe, second_agency

FORBIDDING = permissive(retention={"keep_enrolment_photos": False}).replace("test-permissive", "test-no-photos")


def _files(service: Service, *kinds: str) -> list[StoredImage]:
    with service.sessions() as session:
        query = select(StoredImage).order_by(StoredImage.id)
        if kinds:
            query = query.where(StoredImage.kind.in_(kinds))
        return list(session.scalars(query))


def _subject(world: World, reference: str) -> int:
    listed = world.service.galleries.list_subjects(world.admin, world.gallery.id)
    return next(s.id for s in listed if s.reference == reference)


def test_enrolment_keeps_the_photo_and_crop_encrypted(world: World) -> None:
    service = world.service
    service.enrolment.enroll(world.admin, world.gallery.id, items_for({"Amelia_Vega": [1, 2]}))
    kept = _files(service, *ENROLMENT_PHOTO_KINDS)
    assert sorted(f.kind for f in kept) == ["enrolment-crop"] * 2 + ["enrolment-source"] * 2
    originals = {hashlib.sha256(photo("Amelia_Vega", n).read_bytes()).hexdigest(): n for n in (1, 2)}
    for row in kept:
        plain = service.ctx.files.open(row)
        assert row.encrypted and row.data[:3] == b"FDE" and plain not in row.data
        assert hashlib.sha256(plain).hexdigest() == row.sha256
        if row.kind == "enrolment-source":
            assert row.sha256 in originals and plain == photo("Amelia_Vega", originals[row.sha256]).read_bytes()
            assert len(row.meta["landmarks"]) == 5 and row.meta["width"] > 0 and len(row.meta["box"]) == 4
        else:
            assert plain[:3] == b"\xff\xd8\xff" and row.meta == {
                "width": 112,
                "height": 112,
            }  # the gallery model's (SFace's) aligned chip
    subject_id = _subject(world, "Amelia_Vega")
    infos = service.photos.subject_photos(world.examiner, subject_id)
    assert len(infos) == 4 and all(i.template_id for i in infos)
    with service.sessions() as session:  # the audit log names photos by SHA-256 only
        details = " ".join(session.scalars(select(AuditEvent.details)))
    assert all(service.ctx.files.open(row).hex()[:64] not in details for row in kept)
    assert '"photos_kept":4' in details.replace(" ", "")


def test_a_blob_moved_or_altered_fails_and_old_plain_probes_stay_readable(world: World) -> None:
    service = world.service
    service.enrolment.enroll(world.admin, world.gallery.id, items_for({"Amelia_Vega": [1], "Adrien_Brody": [1]}))
    first, second = _files(service, "enrolment-source")
    with pytest.raises(DecryptionFailed):
        service.ctx.files.open(StoredImage(**{**_columns(second), "data": first.data}))
    altered = bytearray(first.data)
    altered[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        service.ctx.files.open(StoredImage(**{**_columns(first), "data": bytes(altered)}))
    request_id = approved_request(service, world.operator, probe("Amelia_Vega"), [world.gallery.id])
    legacy = probe("Adrien_Brody")
    with service.ctx.write() as session:  # a probe stored before 0008: plain bytes
        row = session.get(StoredImage, service.requests.get_request(world.examiner, request_id).probe_file_id)
        assert row is not None and row.encrypted
        row.data, row.encrypted, row.sha256 = legacy, False, hashlib.sha256(legacy).hexdigest()
    assert service.requests.probe_image(world.examiner, request_id) == legacy


def _columns(row: StoredImage) -> dict[str, object]:
    return {c: getattr(row, c) for c in ("agency_id", "kind", "sha256", "encrypted", "media_type")}


def test_a_gallery_that_keeps_no_photos_and_a_profile_that_forbids_them(world: World) -> None:
    service, admin = world.service, world.admin
    none = service.galleries.create_gallery(admin, "no-photos", "test", "test", keep_photos=False)
    service.enrolment.enroll(admin, none.id, items_for({"Amelia_Vega": [1]}))
    assert _files(service, *ENROLMENT_PHOTO_KINDS) == [] and not none.photos_kept
    service.enrolment.enroll(admin, world.gallery.id, items_for({"Adrien_Brody": [1]}))
    assert len(_files(service, *ENROLMENT_PHOTO_KINDS)) == 2
    stopped = service.galleries.set_keep_photos(admin, world.gallery.id, False)
    assert _files(service, *ENROLMENT_PHOTO_KINDS) == [] and "does not keep" in stopped.photos_note
    service.galleries.set_keep_photos(admin, world.gallery.id, True)
    service.enrolment.enroll(admin, world.gallery.id, items_for({"Adrien_Brody": [3]}))
    assert len(_files(service, *ENROLMENT_PHOTO_KINDS)) == 2

    service.policy.activate_policy_text(admin, FORBIDDING)
    with pytest.raises(PolicyDenied) as refused:
        service.galleries.create_gallery(admin, "wants-photos", "test", "test", keep_photos=True)
    assert refused.value.failures[0][0] == PHOTO_RULE
    assert not service.galleries.create_gallery(admin, "default", "test", "test").keep_photos
    assert not service.galleries.get_gallery(admin, world.gallery.id).photos_kept
    service.enrolment.enroll(admin, world.gallery.id, items_for({"Ai_Sugiyama": [1]}))
    assert len(_files(service, *ENROLMENT_PHOTO_KINDS)) == 2  # nothing new kept
    run = service.oversight.retention_run(admin)
    assert len(run.deleted["enrolment_images"]) == 2 and _files(service, *ENROLMENT_PHOTO_KINDS) == []


def test_retention_holds_erasure_and_access_reach_the_photos(service_factory: ServiceFactory) -> None:
    clock = _Clock()
    world = make_world(service_factory(clock=clock), permissive(retention={"enrolment_images": 30}))
    service, admin = world.service, world.admin
    service.enrolment.enroll(admin, world.gallery.id, items_for({"Amelia_Vega": [1], "Adrien_Brody": [1]}))
    amelia, adrien = _subject(world, "Amelia_Vega"), _subject(world, "Adrien_Brody")
    record = service.oversight.export_subject(admin, amelia).as_dict()
    assert record["images_held"] == 2 and "2 are kept of this subject, for 30 days" in record["note"]
    sources = [p for p in record["photos"] if p["kind"] == "enrolment-source"]
    assert json.loads(json.dumps(record)) and sources[0]["data_base64"]
    hold = service.oversight.place_hold(world.operator.supervisor, "subject", adrien, "appeal pending")
    clock.now += timedelta(days=31)
    run = service.oversight.retention_run(admin)
    assert len(run.deleted["enrolment_images"]) == 2 and len(run.held["enrolment_images"]) == 2
    assert {f.subject_id for f in _files(service, *ENROLMENT_PHOTO_KINDS)} == {adrien}
    service.oversight.release_hold(world.operator.supervisor, hold.id)
    kept = {(f.kind, f.sha256) for f in _files(service, *ENROLMENT_PHOTO_KINDS)}
    certificate = service.oversight.erase_subject(admin, adrien, "data subject's request of 2026-11-02").as_dict()
    assert {(p["kind"], p["sha256"]) for p in certificate["photos"]} == kept
    assert certificate["erased"]["photos"] == 2 and _files(service, *ENROLMENT_PHOTO_KINDS) == []
    assert "enrolment photos" in certificate["statement"]


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_photos_are_read_under_the_permission_table_and_recorded(world: World) -> None:
    service = world.service
    service.enrolment.enroll(world.admin, world.gallery.id, items_for({"Amelia_Vega": [1]}))
    source = next(f for f in _files(service, "enrolment-source"))
    seen = service.photos.open_file(world.examiner, source.id)
    assert seen.data == photo("Amelia_Vega", 1).read_bytes()
    (event,) = service.audit.list_audit(world.admin, action="photo.viewed")
    assert event.details["sha256"] == source.sha256 and event.actor == world.examiner.username
    with pytest.raises(Forbidden):  # requesters do not see gallery photos
        service.photos.open_file(world.operator.requester, source.id)
    other = second_agency(world)
    with pytest.raises(NotFound):
        service.photos.open_file(other.examiner, source.id)
    kept = list(service.photos.kept_source_photos(world.admin, world.gallery.id))
    assert [(k.reference, k.data) for k in kept] == [("Amelia_Vega", photo("Amelia_Vega", 1).read_bytes())]


def test_a_gallery_enrolled_before_photos_were_kept_says_none_exists(world: World) -> None:
    service = world.service
    service.enrolment.enroll(world.admin, world.gallery.id, items_for({"Amelia_Vega": [1]}))
    with service.ctx.write() as session:  # as if enrolled before migration 0008
        for row in session.scalars(select(StoredImage)):
            session.delete(row)
    subject_id = _subject(world, "Amelia_Vega")
    record = service.oversight.export_subject(world.admin, subject_id).as_dict()
    assert record["images_held"] == 0 and "none exists of this subject" in record["note"]
    request_id = approved_request(service, world.operator, probe("Amelia_Vega"), [world.gallery.id])
    service.searches.search(world.examiner, request_id)
    space = service.comparison.workspace(world.examiner, request_id)
    assert space.candidates and space.candidates[0].source is None and space.probe is not None
    assert PERMISSIVE  # the world's profile allows photos: the gallery simply holds none
