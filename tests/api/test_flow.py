"""The whole job over HTTP: enrol by upload, file a request, search under it, read the search
back, verify 1:1, delete a subject; uploads that enrol nothing write nothing; OpenAPI
describes it all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from facedocket import __version__
from facedocket.vision.models import DEFAULT_MODEL_ID, threshold_at_fmr

from .helpers import EMPTY, LEAD, Api, assert_error

ENROLLED = ("Aaron_Peirsol", "Abdullah", "Aicha_El_Ouafi", "Amelia_Vega")  # photos 1 and 2; 3 is held back
UNENROLLED = ("Albert_Costa", 1)
GROUP = "multi/CompreFace__embedding-calculator_sample_images_010_2.jpg"
EAGLE = "noface/dlib__dlib_test_ffmpeg_data_eagle.jpg"


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api], photo: Callable[[str, int], Path]) -> SimpleNamespace:
    api = make_api(multi_face="reject")
    staff = api.staff(api.operator, "sp")
    examiner = staff["examiner"]
    gallery = api.gallery(api.operator, "booking")
    enrolments = [api.enrol(examiner, gallery, name, photo(name, n)) for name in ENROLLED for n in (1, 2)]
    world = SimpleNamespace(api=api, examiner=examiner, gallery=gallery, enrolments=enrolments, photo=photo)
    world.requester, world.supervisor = staff["requester"], staff["supervisor"]
    world.searches = {}
    world.enrolled = (_counts(world), api.ok("GET", f"/galleries/{gallery}/subjects", examiner))
    return world


def _counts(world: SimpleNamespace) -> tuple[int, int]:
    gallery = world.api.ok("GET", f"/galleries/{world.gallery}", world.examiner)
    return gallery["subjects"], gallery["templates"]


def _request(world: SimpleNamespace, probe: Path, galleries: list[int] | None = None) -> int:
    """An approved request for ``probe`` naming the booking gallery (or ``galleries``)."""
    return world.api.approved(world.requester, world.supervisor, probe, galleries or [world.gallery])


def _search(world: SimpleNamespace, name: str) -> dict[str, Any]:
    """The search for the held-back photo of ``name`` (run once, while the subject is enrolled)."""
    if name not in world.searches:
        response = world.api.search(world.examiner, _request(world, world.photo(name, 3)))
        assert response.status_code == 201, response.text
        world.searches[name] = response.json()
    result: dict[str, Any] = world.searches[name]
    return result


def test_health_needs_no_token(world: SimpleNamespace) -> None:
    assert world.api.ok("GET", "/health", None) == {"ok": True, "version": __version__}


def test_enrol_by_upload(world: SimpleNamespace) -> None:
    for response in world.enrolments:
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["outcome"] == "enrolled" and body["template_id"] > 0 and len(body["sha256"]) == 64
    assert [r.json()["reference"] for r in world.enrolments[::2]] == list(ENROLLED)
    counts, subjects = world.enrolled
    assert counts == (4, 8)
    assert [s["reference"] for s in subjects["data"]] == list(ENROLLED)
    assert [s["templates"] for s in subjects["data"]] == [2, 2, 2, 2]
    assert (subjects["count"], subjects["total"]) == (4, 4)
    page = world.api.ok("GET", f"/galleries/{world.gallery}/subjects?offset=1&limit=2", world.examiner)
    assert [s["reference"] for s in page["data"]] == list(ENROLLED[1:3])
    assert (page["count"], page["total"], page["offset"], page["limit"]) == (2, 4, 1, 2)


def test_enrol_with_recorded_fields(world: SimpleNamespace) -> None:
    api, url = world.api, f"/galleries/{world.gallery}/subjects"
    files = {"image": ("p.jpg", world.photo("Ahmed_Chalabi", 3).read_bytes(), "image/jpeg")}
    bad = {"reference": "Ahmed_Chalabi", "birth_year": "nineteen fifty"}
    assert_error(api.call("POST", url, world.examiner, data=bad, files=files), 422, "birth_year")
    form = {"reference": "Ahmed_Chalabi", "sex": "M", "birth_year": "1944"}
    assert api.call("POST", url, world.examiner, data=form, files=files).status_code == 201
    subject = api.ok("GET", f"/subjects/{api.subjects(world.examiner, world.gallery)['Ahmed_Chalabi']}", api.operator)
    assert (subject["sex"], subject["birth_year"], subject["templates"]) == ("M", 1944, 1)
    assert subject["gallery_id"] == world.gallery


@pytest.mark.parametrize(
    ("image", "status", "outcome"),
    [(GROUP, 422, "several-faces"), (EAGLE, 422, "no-face"), (b"GIF89a but not really", 400, "invalid-image")],
)
def test_uploads_that_enrol_nothing_write_nothing(
    world: SimpleNamespace, faces_dir: Path, image: str | bytes, status: int, outcome: str
) -> None:
    before = _counts(world)
    data = image if isinstance(image, bytes) else (faces_dir / image).read_bytes()
    body = assert_error(world.api.enrol(world.examiner, world.gallery, "Nobody", data), status, outcome)
    assert body["errors"][0]["outcome"] == outcome
    assert "nothing was enrolled" in body["error"]
    assert _counts(world) == before
    assert "Nobody" not in world.api.subjects(world.examiner, world.gallery)


def test_same_photo_again_is_already_enrolled(world: SimpleNamespace) -> None:
    before = _counts(world)
    response = world.api.enrol(world.examiner, world.gallery, "Aaron_Peirsol", world.photo("Aaron_Peirsol", 1))
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "already-enrolled" and response.json()["template_id"] is None
    assert _counts(world) == before


@pytest.mark.parametrize("name", ENROLLED)
def test_search_finds_the_held_back_photo_at_rank_1(world: SimpleNamespace, name: str) -> None:
    result = _search(world, name)
    top = result["candidates"][0]
    assert (top["rank"], top["subject_reference"], top["gallery_id"]) == (1, name, world.gallery)
    assert top["score"] >= result["threshold"]
    assert top["subject_id"] == world.api.subjects(world.examiner, world.gallery)[name]
    assert top["template_id"] > 0 and top["id"] > 0 and top["released"] is False
    assert top["label"] == result["label"] == LEAD
    assert "expected_false" in top
    assert result["summary"].endswith(LEAD) and result["purged"] is False
    request = world.api.ok("GET", f"/requests/{result['request_id']}", world.examiner)
    assert (result["kind"], result["legal_basis"]) == ("search", "warrant")
    assert result["case_number"] == request["case_number"]
    assert (request["status"], request["approval"], request["searches"]) == ("searched", "approved", [result["id"]])


def test_unenrolled_person_gives_an_empty_list(world: SimpleNamespace) -> None:
    response = world.api.search(world.examiner, _request(world, world.photo(*UNENROLLED)))
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["candidates"] == []
    assert result["summary"] == EMPTY
    assert result["threshold"] == _search(world, ENROLLED[0])["threshold"]  # the model's default
    assert result["gallery_size"] == _counts(world)[1]
    assert result["created"].endswith("Z")


def test_search_is_read_back(world: SimpleNamespace) -> None:
    posted = _search(world, ENROLLED[0])
    assert world.api.ok("GET", f"/searches/{posted['id']}", world.examiner) == posted
    under = world.api.ok("GET", f"/requests/{posted['request_id']}/searches", world.examiner)
    assert under == {"data": [posted], "count": 1}
    listed = world.api.ok("GET", "/searches", world.examiner)["data"]
    assert posted in listed
    assert [s["id"] for s in listed] == sorted((s["id"] for s in listed), reverse=True)


def test_galleries_k_and_threshold(world: SimpleNamespace) -> None:
    request = _request(world, world.photo("Aaron_Peirsol", 3))
    just_above_the_floor = round(threshold_at_fmr(DEFAULT_MODEL_ID, 1e-3) + 0.001, 6)
    body = {"galleries": [world.gallery, world.gallery], "k": 1, "threshold": just_above_the_floor}
    result = world.api.ok("POST", f"/requests/{request}/searches", world.examiner, 201, json=body)
    assert (result["galleries"], result["k"], result["threshold"]) == ([world.gallery], 1, just_above_the_floor)
    assert result["models"] == [{"model_id": DEFAULT_MODEL_ID, "threshold": just_above_the_floor,
                                 "galleries": [world.gallery], "gallery_size": result["gallery_size"],
                                 "probe_quality": result["probe_quality"]}]  # fmt: skip
    assert [c["subject_reference"] for c in result["candidates"]] == ["Aaron_Peirsol"]


def test_galleries_as_repeated_form_field(world: SimpleNamespace) -> None:
    form = {"galleries": [str(world.gallery), str(world.gallery)]}
    filed = world.api.file(world.requester, world.photo("Aaron_Peirsol", 3), **form)
    assert filed.status_code == 201, filed.text
    assert (filed.json()["galleries"], filed.json()["status"]) == ([world.gallery], "submitted")
    assert world.api.ok("GET", f"/requests/{filed.json()['id']}", world.examiner)["galleries"] == [world.gallery]


def test_verify_one_to_one(world: SimpleNamespace) -> None:
    subject = world.api.subjects(world.examiner, world.gallery)["Aaron_Peirsol"]
    same = world.api.verify(world.examiner, _request(world, world.photo("Aaron_Peirsol", 3)), subject)
    assert same.status_code == 201, same.text
    same_body = same.json()
    assert (same_body["kind"], same_body["subject_id"]) == ("verify", subject)
    assert same_body["best_score"] >= same_body["threshold"]
    assert [c["subject_id"] for c in same_body["candidates"]] == [subject]
    assert "not a positive identification" in same_body["label"]
    different = world.api.verify(world.examiner, _request(world, world.photo(*UNENROLLED)), subject).json()
    assert different["candidates"] == [] and different["summary"] == EMPTY
    assert different["best_score"] is not None and different["best_score"] < different["threshold"]
    assert different["threshold"] == same_body["threshold"]
    recorded = world.api.ok("GET", f"/searches/{same_body['id']}", world.examiner)
    assert recorded == same_body


def test_delete_subject_then_search_again(world: SimpleNamespace) -> None:
    api, name = world.api, ENROLLED[-1]
    subject = api.subjects(world.examiner, world.gallery)[name]
    before = _search(world, name)
    assert before["candidates"][0]["subject_id"] == subject
    templates = _counts(world)[1]
    assert_error(api.call("DELETE", f"/subjects/{subject}", world.examiner), 403)  # examiners do not delete
    assert api.ok("DELETE", f"/subjects/{subject}", api.operator) == {"id": subject, "templates_deleted": 2}
    assert_error(api.call("GET", f"/subjects/{subject}", api.operator), 404)
    assert_error(api.call("DELETE", f"/subjects/{subject}", api.operator), 404)
    again = api.search(world.examiner, _request(world, world.photo(name, 3))).json()
    assert subject not in [c["subject_id"] for c in again["candidates"]]
    assert name not in [c["subject_reference"] for c in again["candidates"]]
    # the earlier search keeps its candidate row, with the subject removed
    earlier = api.ok("GET", f"/searches/{before['id']}", world.examiner)
    assert (earlier["candidates"][0]["subject_id"], earlier["candidates"][0]["subject_reference"]) == (None, None)
    rebuilt = api.ok("POST", f"/galleries/{world.gallery}/index/rebuild", world.examiner)
    assert rebuilt == {"gallery_id": world.gallery, "templates": templates - 2}


def test_openapi_lists_every_path(world: SimpleNamespace) -> None:
    schema = world.api.client.get("/openapi.json").json()
    expected = {
        "/health": {"get"},
        "/agencies": {"get", "post"},
        "/users": {"get", "post"},
        "/users/{user_id}/deactivate": {"post"},
        "/users/{user_id}/activate": {"post"},
        "/tokens": {"post"},
        "/tokens/{token_id}": {"delete"},
        "/me": {"get"},
        "/policy": {"get", "put"},
        "/policy/profiles": {"get"},
        "/galleries": {"get", "post"},
        "/galleries/{gallery_id}": {"get"},
        "/galleries/{gallery_id}/shares": {"post"},
        "/galleries/{gallery_id}/shares/{agency_id}": {"delete"},
        "/galleries/{gallery_id}/index/rebuild": {"post"},
        "/galleries/{gallery_id}/subjects": {"get", "post"},
        "/subjects/{subject_id}": {"get", "delete"},
        "/cases": {"get", "post"},
        "/cases/{case_id}": {"get"},
        "/requests": {"get", "post"},
        "/requests/{request_id}": {"get"},
        "/requests/{request_id}/submit": {"post"},
        "/requests/{request_id}/approve": {"post"},
        "/requests/{request_id}/deny": {"post"},
        "/requests/{request_id}/probe": {"get"},
        "/requests/{request_id}/searches": {"get", "post"},
        "/requests/{request_id}/verifications": {"post"},
        "/requests/{request_id}/candidates/{candidate_id}/reviews": {"post"},
        "/requests/{request_id}/reviews": {"get"},
        "/requests/{request_id}/conclude": {"post"},
        "/requests/{request_id}/close": {"post"},
        "/requests/{request_id}/export": {"get"},
        "/searches": {"get"},
        "/searches/{search_id}": {"get"},
        "/audit/events": {"get"},
        "/audit/verify": {"post"},
        "/audit/export": {"get"},
    }
    paths = schema["paths"]
    listed = {p: set(ops) for p, ops in paths.items()}
    # every path here is listed (other areas, e.g. reports, add their own and test them there)
    assert {p: listed.get(f"/api/v1{p}") for p in expected} == expected
    assert "post" not in listed["/api/v1/searches"] and "/api/v1/verifications" not in listed  # only under a request
    assert all(p.startswith("/api/v1/") for p in listed)
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation["tags"] and operation["description"], (method, path)
            if path != "/api/v1/health":
                assert operation["security"] == [{"token": []}], (method, path)
                error = operation["responses"]["401"]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorPublic"}
    tags = {t["name"] for t in schema["tags"]}
    assert tags >= {
        "health", "agencies", "users", "tokens", "policy", "galleries", "subjects", "cases", "requests", "searches",
        "audit",
    }  # fmt: skip
    assert {tag for operations in paths.values() for op in operations.values() for tag in op["tags"]} <= tags
    post = paths["/api/v1/requests/{request_id}/searches"]["post"]
    search = post["responses"]["201"]["content"]["application/json"]["schema"]
    assert search == {"$ref": "#/components/schemas/SearchPublic"}
    assert "errors" in post["responses"]["403"]["description"]  # a policy refusal names its rules
    for name, model in schema["components"]["schemas"].items():  # every field of every body is described
        if name not in ("ValidationError", "HTTPValidationError"):
            for field, spec in model.get("properties", {}).items():
                assert spec.get("description"), (name, field)


def test_docs_serve_html(world: SimpleNamespace) -> None:
    response = world.api.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower() and "/openapi.json" in response.text
