"""Every error is one JSON shape: {"ok": false, "error": "...", "errors": [...], "status": N}."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from .helpers import WARRANT, Api, assert_error, rules

EAGLE = "noface/dlib__dlib_test_ffmpeg_data_eagle.jpg"


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api]) -> SimpleNamespace:
    api = make_api()
    staff = api.staff(api.operator, "sp", "requester", "examiner", "supervisor")
    gallery = api.gallery(api.operator, "booking")
    case = api.case(staff["requester"])
    return SimpleNamespace(api=api, gallery=gallery, case=case, **staff)


def _file(world: SimpleNamespace, probe: Path | bytes, submit: bool = True, **fields: str) -> httpx.Response:
    """File (and submit) a request in the world's case, naming the booking gallery."""
    form = {"case_id": str(world.case), "galleries": str(world.gallery), **fields}
    return world.api.file(world.requester, probe, submit=submit, **form)


@pytest.fixture(scope="module")
def small(make_api: Callable[..., Api]) -> Api:
    """An app whose upload limit is 2,048 bytes."""
    return make_api(max_upload_bytes=2048)


# --- 401 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/me", "/galleries", "/searches", "/agencies", "/users", "/requests", "/policy", "/audit/events"]
)
def test_401_without_token(world: SimpleNamespace, path: str) -> None:
    response = world.api.call("GET", path)
    assert_error(response, 401, "Bearer")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer fd_not-a-real-token", "Bearer not-even-the-prefix", "Basic dXNlcjpwYXNz", "Bearer", "fd_no_scheme"],
)
def test_401_bad_token(world: SimpleNamespace, authorization: str) -> None:
    response = world.api.call("GET", "/me", headers={"Authorization": authorization})
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_401_revoked_token(world: SimpleNamespace) -> None:
    api = world.api
    token = api.ok("POST", "/tokens", world.examiner, 201, json={"name": "laptop"})
    assert api.ok("GET", "/me", token["secret"])["username"] == "sp-examiner"
    assert api.call("DELETE", f"/tokens/{token['id']}", world.examiner).status_code == 204
    assert_error(api.call("GET", "/me", token["secret"]), 401, "revoked")


# --- 403, 404, 405 ---------------------------------------------------------------------------


def test_403_role(world: SimpleNamespace, dev_photo: Path) -> None:
    body = {"name": "mine", "source": "s", "purpose": "p"}
    assert_error(world.api.call("POST", "/galleries", world.requester, json=body), 403, "requester")
    request = world.api.approved(world.requester, world.supervisor, dev_photo, [world.gallery])
    assert_error(world.api.search(world.requester, request), 403, "requester")


def test_403_policy_names_every_failed_rule(world: SimpleNamespace, dev_photo: Path) -> None:
    filed = _file(world, dev_photo, legal_basis="consent", justification=" ", submit=False)
    assert_error(filed, 400, "justification")  # the service checks the form first
    filed = _file(world, dev_photo, legal_basis="consent", submit=False)
    assert filed.status_code == 201, filed.text
    submitted = world.api.call("POST", f"/requests/{filed.json()['id']}/submit", world.requester)
    assert rules(submitted) == ["requests.legal_bases"]
    assert world.api.ok("GET", f"/requests/{filed.json()['id']}", world.requester)["status"] == "draft"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/galleries/9999"),
        ("GET", "/galleries/9999/subjects"),
        ("POST", "/galleries/9999/index/rebuild"),
        ("GET", "/subjects/9999"),
        ("DELETE", "/subjects/9999"),
        ("GET", "/searches/9999"),
        ("GET", "/cases/9999"),
        ("GET", "/requests/9999"),
        ("GET", "/requests/9999/probe"),
        ("GET", "/requests/9999/export"),
        ("POST", "/users/9999/deactivate"),
        ("DELETE", "/tokens/9999"),
    ],
)
def test_404_unknown_id(world: SimpleNamespace, method: str, path: str) -> None:
    token = world.examiner if path.startswith(("/requests", "/cases")) else world.api.operator
    assert_error(world.api.call(method, path, token), 404, "9999")


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v2/health"])
def test_404_unknown_route(world: SimpleNamespace, path: str) -> None:
    response = world.api.client.get(path, headers={"Authorization": f"Bearer {world.api.operator}"})
    assert_error(response, 404, path)


def test_outside_the_api_the_web_ui_answers_with_its_page(world: SimpleNamespace) -> None:
    """Paths outside /api/v1 are the web UI's: an unknown one is its 404 page, not JSON."""
    response = world.api.client.get("/nothing-here")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "no such page" in response.text and "Traceback" not in response.text


def test_405_wrong_method(world: SimpleNamespace) -> None:
    response = world.api.call("DELETE", "/health")
    assert_error(response, 405, "DELETE", "GET")


# --- 413 -------------------------------------------------------------------------------------


def test_413_content_length_over_the_limit(small: Api, dev_photo: Path) -> None:
    # refused up front, before the token or the body is looked at
    files = {"probe": ("p.jpg", b"\xff" * 200_000, "image/jpeg")}
    response = small.call("POST", "/requests", "fd_whoever", data={**WARRANT, "case_id": "1"}, files=files)
    assert_error(response, 413, "2,048-byte limit")


def test_413_streamed_body_over_the_limit(small: Api) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 4096

    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    response = small.call("POST", "/requests", small.operator, headers=headers, content=chunks())
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "2,048-byte limit")


def test_413_file_over_the_limit(small: Api) -> None:
    # the body is within the middleware's allowance for form fields; the file alone is not
    gallery = small.gallery(small.operator, "tiny")
    response = small.enrol(small.operator, gallery, "someone", b"\xff" * 2049)
    assert_error(response, 413, "image", "2,048-byte")
    assert small.ok("GET", f"/galleries/{gallery}", small.operator)["templates"] == 0


# --- 422 -------------------------------------------------------------------------------------


def test_422_missing_form_field(world: SimpleNamespace, dev_photo: Path) -> None:
    api = world.api
    files = {"image": ("photo.jpg", dev_photo.read_bytes(), "image/jpeg")}
    body = assert_error(api.call("POST", f"/galleries/{world.gallery}/subjects", api.operator, files=files), 422)
    assert body["errors"] == [{"loc": ["body", "reference"], "msg": "Field required", "type": "missing"}]
    assert body["error"] == "reference: Field required"

    no_probe = api.call("POST", "/requests", world.requester, data={**WARRANT, "case_id": str(world.case)})
    assert [e["loc"] for e in assert_error(no_probe, 422, "probe")["errors"]] == [["body", "probe"]]
    files = {"probe": ("p.jpg", dev_photo.read_bytes(), "image/jpeg")}
    no_basis = api.call("POST", "/requests", world.requester, data={"case_id": str(world.case)}, files=files)
    missing = {tuple(e["loc"]) for e in assert_error(no_basis, 422, "and 1 more")["errors"]}
    assert missing == {("body", "legal_basis"), ("body", "justification")}


def test_422_json_body(world: SimpleNamespace) -> None:
    body = assert_error(world.api.call("POST", "/galleries", world.api.operator, json={"name": "x"}), 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "source"), ("body", "purpose")}
    assert "and 1 more" in body["error"]
    review = {"disposition": "looks like him", "rationale": "r"}
    body = assert_error(world.api.call("POST", "/requests/1/candidates/1/reviews", world.examiner, json=review), 422)
    assert body["errors"][0]["loc"] == ["body", "disposition"]
    both = {"profile": "research", "toml": "name = 'x'"}
    assert_error(world.api.call("PUT", "/policy", world.api.operator, json=both), 422, "exactly one")
    path = {"profile": "/etc/passwd"}  # a name of a shipped profile, never a file on the server
    assert_error(world.api.call("PUT", "/policy", world.api.operator, json=path), 422, "profile", "no shipped profile")


def test_422_galleries_not_ids(world: SimpleNamespace, dev_photo: Path) -> None:
    assert_error(_file(world, dev_photo, galleries="booking"), 422, "galleries", "booking")


@pytest.mark.parametrize(
    ("fields", "status", "fragment"),
    [
        ({"legal_basis": "hunch"}, 400, "legal basis must be one of"),
        ({"justification": "  "}, 400, "justification"),
        ({"probe_source": "crystal-ball"}, 400, "probe source"),
        ({"document_date": "20 Nov"}, 400, "YYYY-MM-DD"),
        ({"case_id": "9999"}, 404, "create the case first"),
        ({"target_agency_id": "9999"}, 404, "agency 9999"),
    ],
)
def test_request_without_a_usable_form(
    world: SimpleNamespace, dev_photo: Path, fields: dict[str, str], status: int, fragment: str
) -> None:
    before = world.api.ok("GET", "/requests", world.requester)["count"]
    assert_error(_file(world, dev_photo, **fields), status, fragment)
    assert world.api.ok("GET", "/requests", world.requester)["count"] == before


def test_400_bad_policy_text(world: SimpleNamespace) -> None:
    body = {"toml": "name = 'x'\n[requests]\nlegal_bases = ['hunch']\n"}
    assert_error(world.api.call("PUT", "/policy", world.api.operator, json=body), 400, "hunch", "title")
    assert world.api.ok("GET", "/policy", world.api.operator)["name"] == "test-permissive"


def test_409_state(world: SimpleNamespace, dev_photo: Path) -> None:
    request = world.api.approved(world.requester, world.supervisor, dev_photo, [world.gallery])
    again = world.api.call("POST", f"/requests/{request}/approve", world.supervisor, json={"reason": "twice"})
    assert_error(again, 409, "nothing to decide")
    assert_error(world.api.call("POST", f"/requests/{request}/close", world.requester), 409, "reviewed")


def test_422_probe_without_face(world: SimpleNamespace, faces_dir: Path) -> None:
    request = world.api.approved(world.requester, world.supervisor, faces_dir / EAGLE, [world.gallery])
    assert_error(world.api.search(world.examiner, request), 422, "no face")


# --- 400 and 500 -----------------------------------------------------------------------------


def test_400_not_an_image(world: SimpleNamespace) -> None:
    assert_error(_file(world, b"%PDF-1.4 this is no photo"), 400, "not an image")


def test_400_empty_upload(world: SimpleNamespace) -> None:
    assert_error(_file(world, b""), 400, "probe is empty")
    assert_error(world.api.enrol(world.examiner, world.gallery, "someone", b""), 400, "image is empty")


def test_500_unexpected_error_has_no_traceback(world: SimpleNamespace) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    world.api.app.add_api_route("/api/v1/test-broken", broken)
    response = world.api.client.get("/api/v1/test-broken")
    body = assert_error(response, 500, "internal error")
    assert "secret internals" not in response.text
    assert body["errors"] == []
