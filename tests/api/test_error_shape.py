"""Every error is one JSON shape: {"ok": false, "error": "...", "errors": [...], "status": N}."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from .helpers import REQUEST, Api, assert_error

EAGLE = "noface/dlib__dlib_test_ffmpeg_data_eagle.jpg"


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api]) -> SimpleNamespace:
    api = make_api()
    examiner = api.user(api.operator, "examiner", "examiner")["token"]["secret"]
    requester = api.user(api.operator, "requester", "requester")["token"]["secret"]
    gallery = api.gallery(api.operator, "booking")
    return SimpleNamespace(api=api, examiner=examiner, requester=requester, gallery=gallery)


@pytest.fixture(scope="module")
def small(make_api: Callable[..., Api]) -> Api:
    """An app whose upload limit is 2,048 bytes."""
    return make_api(max_upload_bytes=2048)


# --- 401 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/me", "/galleries", "/searches", "/agencies", "/users"])
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
    assert api.ok("GET", "/me", token["secret"])["username"] == "examiner"
    assert api.call("DELETE", f"/tokens/{token['id']}", world.examiner).status_code == 204
    assert_error(api.call("GET", "/me", token["secret"]), 401, "revoked")


# --- 403, 404, 405 ---------------------------------------------------------------------------


def test_403_role(world: SimpleNamespace, dev_photo: Path) -> None:
    body = {"name": "mine", "source": "s", "purpose": "p"}
    assert_error(world.api.call("POST", "/galleries", world.requester, json=body), 403, "requester")
    assert_error(world.api.search(world.requester, [world.gallery], dev_photo), 403, "requester")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/galleries/9999"),
        ("GET", "/galleries/9999/subjects"),
        ("POST", "/galleries/9999/index/rebuild"),
        ("GET", "/subjects/9999"),
        ("DELETE", "/subjects/9999"),
        ("GET", "/searches/9999"),
        ("POST", "/users/9999/deactivate"),
        ("DELETE", "/tokens/9999"),
    ],
)
def test_404_unknown_id(world: SimpleNamespace, method: str, path: str) -> None:
    assert_error(world.api.call(method, path, world.api.operator), 404, "9999")


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/nothing-here", "/api/v2/health"])
def test_404_unknown_route(world: SimpleNamespace, path: str) -> None:
    response = world.api.client.get(path, headers={"Authorization": f"Bearer {world.api.operator}"})
    assert_error(response, 404, path)


def test_405_wrong_method(world: SimpleNamespace) -> None:
    response = world.api.call("DELETE", "/health")
    assert_error(response, 405, "DELETE", "GET")


# --- 413 -------------------------------------------------------------------------------------


def test_413_content_length_over_the_limit(small: Api, dev_photo: Path) -> None:
    # refused up front, before the token or the body is looked at
    response = small.search("fd_whoever", [1], b"\xff" * 200_000)
    assert_error(response, 413, "2,048-byte limit")


def test_413_streamed_body_over_the_limit(small: Api) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 4096

    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    response = small.call("POST", "/searches", small.operator, headers=headers, content=chunks())
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

    no_probe = api.call("POST", "/searches", world.examiner, data={**REQUEST, "galleries": str(world.gallery)})
    assert [e["loc"] for e in assert_error(no_probe, 422, "probe")["errors"]] == [["body", "probe"]]


def test_422_json_body(world: SimpleNamespace) -> None:
    body = assert_error(world.api.call("POST", "/galleries", world.api.operator, json={"name": "x"}), 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "source"), ("body", "purpose")}
    assert "and 1 more" in body["error"]


def test_422_galleries_not_ids(world: SimpleNamespace, dev_photo: Path) -> None:
    response = world.api.search(world.examiner, [], dev_photo, galleries="booking")
    assert_error(response, 422, "galleries", "booking")


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"legal_basis": ""}, "missing: legal_basis"),
        ({"legal_basis": "hunch"}, "hunch"),
        ({"case_number": "", "justification": ""}, "missing: case_number, justification"),
    ],
)
def test_422_search_without_legal_basis(
    world: SimpleNamespace, dev_photo: Path, fields: dict[str, str], fragment: str
) -> None:
    assert_error(world.api.search(world.examiner, [world.gallery], dev_photo, **fields), 422, fragment)
    response = world.api.verify(world.examiner, 1, dev_photo, **fields)
    assert_error(response, 422, fragment)


def test_422_probe_without_face(world: SimpleNamespace, faces_dir: Path) -> None:
    response = world.api.search(world.examiner, [world.gallery], faces_dir / EAGLE)
    assert_error(response, 422, "no face")


# --- 400 and 500 -----------------------------------------------------------------------------


def test_400_not_an_image(world: SimpleNamespace) -> None:
    response = world.api.search(world.examiner, [world.gallery], b"%PDF-1.4 this is no photo")
    assert_error(response, 400, "not an image")


def test_400_empty_upload(world: SimpleNamespace) -> None:
    assert_error(world.api.search(world.examiner, [world.gallery], b""), 400, "probe is empty")
    assert_error(world.api.enrol(world.examiner, world.gallery, "someone", b""), 400, "image is empty")


def test_500_unexpected_error_has_no_traceback(world: SimpleNamespace) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    world.api.app.add_api_route("/api/v1/test-broken", broken)
    response = world.api.client.get("/api/v1/test-broken")
    body = assert_error(response, 500, "internal error")
    assert "secret internals" not in response.text
    assert body["errors"] == []
