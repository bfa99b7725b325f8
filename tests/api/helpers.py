"""Helpers for the API tests: a TestClient over a real service, and the error-shape check."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import httpx

from facedocket.api import create_app
from facedocket.config import Settings
from facedocket.service import open_service

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the project installs
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

API = "/api/v1"
REQUEST = {
    "case_number": "2026-001",
    "offence": "robbery",
    "legal_basis": "warrant",
    "justification": "suspect seen on CCTV at the scene",
}
ERROR_KEYS = {"ok", "error", "errors", "status"}


def assert_error(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    """The response is ``status`` in the one error shape, with a one-line message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["ok"] is False
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"].strip()
    assert "\n" not in body["error"]
    assert isinstance(body["errors"], list)
    assert "Traceback" not in response.text
    for fragment in fragments:
        assert fragment in body["error"], body["error"]
    return body


class Api:
    """A TestClient over a fresh service, its operator admin's token, and request helpers."""

    def __init__(self, home: Path, **settings: Any) -> None:
        self.settings = Settings(home=home, **settings)
        self.service = open_service(self.settings)
        self.operator = self.service.bootstrap("State Police", "operator-admin").secret
        self.app = create_app(self.settings, self.service)
        self.client = TestClient(self.app, raise_server_exceptions=False)

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(method, API + path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, token: str | None, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, token, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def user(self, admin: str, username: str, role: str) -> dict[str, Any]:
        """Create a user; the answer holds ``user`` and ``token`` (with its ``secret``)."""
        result: dict[str, Any] = self.ok("POST", "/users", admin, 201, json={"username": username, "role": role})
        return result

    def gallery(self, token: str, name: str) -> int:
        body = {"name": name, "source": "booking photos 2020-2024", "purpose": "criminal investigations"}
        return int(self.ok("POST", "/galleries", token, 201, json=body)["id"])

    def enrol(self, token: str, gallery: int, reference: str, image: Path | bytes) -> httpx.Response:
        data = image if isinstance(image, bytes) else image.read_bytes()
        files = {"image": ("photo.jpg", data, "image/jpeg")}
        return self.call("POST", f"/galleries/{gallery}/subjects", token, data={"reference": reference}, files=files)

    def search(self, token: str, gallery_ids: list[int], probe: Path | bytes, **fields: Any) -> httpx.Response:
        data = probe if isinstance(probe, bytes) else probe.read_bytes()
        form = {**REQUEST, "galleries": ",".join(str(g) for g in gallery_ids), **fields}
        return self.call("POST", "/searches", token, data=form, files={"probe": ("probe.jpg", data, "image/jpeg")})

    def verify(self, token: str, subject: int, probe: Path | bytes, **fields: Any) -> httpx.Response:
        data = probe if isinstance(probe, bytes) else probe.read_bytes()
        form = {**REQUEST, "subject_id": str(subject), **fields}
        return self.call("POST", "/verifications", token, data=form, files={"probe": ("probe.jpg", data, "image/jpeg")})

    def subjects(self, token: str, gallery: int) -> dict[str, int]:
        """Subject ids of a gallery by reference."""
        body = self.ok("GET", f"/galleries/{gallery}/subjects", token)
        return {s["reference"]: s["id"] for s in body["data"]}
