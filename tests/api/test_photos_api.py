"""The API of photos for review and of people's sign-in: a probe's faces and the face chosen
at filing, the document kept with the request, the supervisor's checklist, kept files under
the permission table, a gallery's photo setting, and temporary passwords."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image as PILImage

from .helpers import WARRANT, Api, assert_error

ORDER = b"%PDF-1.4\n% search warrant SW-2026-118\n%%EOF\n"


def _two_faces(photo: Callable[[str, int], Path]) -> bytes:
    left, right = (PILImage.open(photo(p, 7)).convert("RGB") for p in ("Abdullah_Gul", "Amelia_Vega"))
    canvas = PILImage.new("RGB", (left.width + right.width + 40, max(left.height, right.height)), (235, 235, 235))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 40, 0))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api], photo: Callable[[str, int], Path]) -> SimpleNamespace:
    api = make_api(jitter=False)
    staff = api.staff(api.operator, "sp")
    gallery = api.gallery(api.operator, "booking")
    for person, n in (("Amelia_Vega", 1), ("Abdullah_Gul", 1)):
        assert api.enrol(api.operator, gallery, person, photo(person, n)).status_code == 201
    return SimpleNamespace(api=api, gallery=gallery, probe=_two_faces(photo), **staff)


def test_the_face_is_chosen_at_filing_and_the_document_is_kept(world: SimpleNamespace) -> None:
    api = world.api
    probe = ("probe.jpg", world.probe, "image/jpeg")
    faces = api.ok("POST", "/requests/faces", world.requester, files={"probe": probe})
    assert len(faces["faces"]) == 2 and faces["width"] > 0 and all(len(f["box"]) == 4 for f in faces["faces"])
    assert_error(api.file(world.requester, world.probe, [world.gallery]), 422, "choose the one to search")
    right = max(faces["faces"], key=lambda f: f["box"][0])["number"]
    form = {**WARRANT, "submit": "true", "case_id": str(api.case(world.requester)), "galleries": str(world.gallery),
            "probe_face": str(right)}  # fmt: skip
    document = ("order.pdf", ORDER, "application/pdf")
    filed = api.call("POST", "/requests", world.requester, data=form, files={"probe": probe, "document": document})
    assert filed.status_code == 201, filed.text
    request = filed.json()
    assert request["probe_face"] == right and request["requester"] == "sp-requester"
    assert request["document"]["sha256"] and request["document_file_id"]
    kept = api.call("GET", f"/files/{request['document_file_id']}", world.supervisor)
    assert kept.content == ORDER and kept.headers["content-type"] == "application/pdf"
    checklist = api.ok("GET", f"/requests/{request['id']}/checklist", world.supervisor)["data"]
    assert {v["state"] for v in checklist} == {"passed", "pending"}
    api.ok("POST", f"/requests/{request['id']}/approve", world.supervisor, json={"reason": "the warrant covers it"})
    result = api.search(world.examiner, request["id"]).json()
    assert [c["subject_reference"] for c in result["candidates"]] == ["Amelia_Vega"]  # the right-hand face
    assert_error(api.search(world.examiner, request["id"], face=3 - right), 400, "chosen when it was filed")


def test_photos_under_the_permission_table_and_the_gallery_setting(world: SimpleNamespace) -> None:
    api = world.api
    subject = api.subjects(world.examiner, world.gallery)["Amelia_Vega"]
    photos = api.ok("GET", f"/subjects/{subject}/photos", world.examiner)
    assert sorted(p["kind"] for p in photos["data"]) == ["enrolment-crop", "enrolment-source"]
    crop = next(p for p in photos["data"] if p["kind"] == "enrolment-crop")
    assert api.call("GET", f"/files/{crop['id']}", world.examiner).content[:3] == b"\xff\xd8\xff"
    assert_error(api.call("GET", f"/files/{crop['id']}", world.requester), 403, "requester")
    assert api.events(world.auditor, action="photo.viewed")[0]["details"]["sha256"] == crop["sha256"]
    kept = api.ok("PUT", f"/galleries/{world.gallery}/photos", world.admin, json={"keep": False})
    assert not kept["photos_kept"] and "does not keep" in kept["photos_note"]
    assert api.ok("GET", f"/subjects/{subject}/photos", world.examiner)["count"] == 0
    assert api.ok("PUT", f"/galleries/{world.gallery}/photos", world.admin, json={"keep": True})["photos_kept"]


def test_an_admin_sets_a_temporary_password(world: SimpleNamespace) -> None:
    api = world.api
    users = api.ok("GET", "/users", world.admin)["data"]
    examiner = next(u for u in users if u["username"] == "sp-examiner")
    assert examiner["password"] == "none"
    assert_error(api.call("POST", f"/users/{examiner['id']}/password", world.supervisor, json={}), 403, "admin")
    assert_error(api.call("POST", f"/users/{examiner['id']}/password", world.admin, json={"password": "short"}),
                 422, "shorter than 12")  # fmt: skip
    issued = api.ok("POST", f"/users/{examiner['id']}/password", world.admin, 201, json={})
    assert len(issued["password"]) >= 12
    users = api.ok("GET", "/users", world.admin)["data"]
    assert next(u for u in users if u["username"] == "sp-examiner")["password"] == "temporary"
