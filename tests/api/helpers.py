"""Helpers for the API tests: a TestClient over a real service (with a clock the tests can
move), the request workflow as one-liners, and the error-shape check."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import httpx
from policy_texts import PERMISSIVE

from facedocket.api import create_app
from facedocket.config import Settings
from facedocket.service import open_service
from facedocket.vision.pipeline import FacePipeline

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the project installs
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

API = "/api/v1"
ERROR_KEYS = {"ok", "error", "errors", "status"}
LEAD = "investigative lead — not a positive identification"
EMPTY = "no candidate above threshold"

# A permissive operational profile for tests that are not about a policy (the shipped
# profiles have their own scenarios in test_scenarios.py): any offence, approval first (or
# afterwards on an emergency basis), no threshold floor.
TEST_POLICY = PERMISSIVE

WARRANT = {
    "legal_basis": "warrant",
    "justification": "suspect filmed by the bank's CCTV",
    "document_type": "search warrant",
    "document_reference": "SW-2026-118",
    "document_issuer": "Suffolk Superior Court",
    "document_date": "2026-11-20",
}
"""The written request the helpers file unless told otherwise."""

_numbers = count(1)


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


def rules(response: httpx.Response) -> list[str]:
    """The rules a policy refusal (403) names in ``errors``."""
    body = assert_error(response, 403, "the policy refuses this")
    assert body["errors"] and all(e["type"] == "policy" and e["msg"] for e in body["errors"]), body
    return [str(e["rule"]) for e in body["errors"]]


class MovableClock:
    """The service's clock: real time plus an offset the tests can advance."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


class Api:
    """A TestClient over a fresh service (the operator agency "State Police" bootstrapped, with
    ``policy`` active, default the permissive :data:`TEST_POLICY`), and request helpers."""

    def __init__(
        self,
        home: Path,
        pipeline: FacePipeline | None = None,
        policy: str | None = TEST_POLICY,
        **settings: Any,
    ) -> None:
        self.settings = Settings(home=home, **settings)
        self.clock = MovableClock()
        self.service = open_service(self.settings, clock=self.clock, pipeline=pipeline)
        self.operator = self.service.accounts.bootstrap("State Police", "operator-admin").secret
        self.app = create_app(self.settings, self.service)
        self.client = TestClient(self.app, raise_server_exceptions=False)
        if policy is not None:
            self.policy(self.operator, toml=policy)

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(method, API + path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, token: str | None, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, token, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    # --- accounts and policy ------------------------------------------------------------

    def user(self, admin: str, username: str, role: str) -> dict[str, Any]:
        """Create a user, who then makes their own token with the activation token the admin
        was handed: the answer holds ``user``, ``activation`` (the admin's answer) and ``token``
        (the user's own, with its ``secret``)."""
        result: dict[str, Any] = self.ok("POST", "/users", admin, 201, json={"username": username, "role": role})
        return result | {"activation": result["token"], "token": self.activate(result["token"]["secret"])}

    def activate(self, activation: str) -> dict[str, Any]:
        """The user's own token, made with an activation token (POST /tokens)."""
        own: dict[str, Any] = self.ok("POST", "/tokens", activation, 201, json={"name": "tests"})
        return own

    def staff(self, admin: str, prefix: str, *roles: str) -> dict[str, str]:
        """Tokens of new users of the admin's agency, one per role (default every role but
        admin), named ``prefix-role``; the admin's own token under ``admin``."""
        wanted = roles or ("requester", "examiner", "supervisor", "auditor")
        return {"admin": admin} | {r: self.user(admin, f"{prefix}-{r}", r)["token"]["secret"] for r in wanted}

    def agency(self, name: str, admin_username: str, **policy: str) -> tuple[int, str]:
        """Create an agency (as the operator admin) and activate ``policy`` (``profile=`` or
        ``toml=``, default :data:`TEST_POLICY`) for it; its id and its admin's token."""
        created = self.ok(
            "POST", "/agencies", self.operator, 201, json={"name": name, "admin_username": admin_username}
        )
        admin = str(self.activate(created["token"]["secret"])["secret"])
        self.policy(admin, **(policy or {"toml": TEST_POLICY}))
        return int(created["agency"]["id"]), admin

    def policy(self, admin: str, **body: Any) -> dict[str, Any]:
        """PUT /policy with ``profile=`` (a shipped name) or ``toml=``."""
        result: dict[str, Any] = self.ok("PUT", "/policy", admin, json=body)
        return result

    # --- galleries ------------------------------------------------------------------------

    def gallery(self, token: str, name: str) -> int:
        body = {"name": name, "source": "booking photos 2020-2024", "purpose": "criminal investigations"}
        return int(self.ok("POST", "/galleries", token, 201, json=body)["id"])

    def enrol(self, token: str, gallery: int, reference: str, image: Path | bytes) -> httpx.Response:
        data = image if isinstance(image, bytes) else image.read_bytes()
        files = {"image": ("photo.jpg", data, "image/jpeg")}
        return self.call("POST", f"/galleries/{gallery}/subjects", token, data={"reference": reference}, files=files)

    def subjects(self, token: str, gallery: int) -> dict[str, int]:
        """Subject ids of a gallery by reference."""
        body = self.ok("GET", f"/galleries/{gallery}/subjects", token)
        return {s["reference"]: s["id"] for s in body["data"]}

    # --- the request workflow -----------------------------------------------------------

    def case(self, token: str, offence: str = "robbery", number: str | None = None) -> int:
        body = {"number": number or f"2026-{next(_numbers):04d}", "offence_category": offence}
        return int(self.ok("POST", "/cases", token, 201, json={**body, "description": "CCTV still"})["id"])

    def file(
        self,
        requester: str,
        probe: Path | bytes,
        galleries: list[int] | str | None = None,
        offence: str = "robbery",
        submit: bool = True,
        **fields: Any,
    ) -> httpx.Response:
        """File a request (in a new case unless ``case_id`` is given) with :data:`WARRANT`'s
        fields overridden by ``fields``; submitted unless ``submit`` is false. ``galleries`` is
        a list of ids or the form value as sent."""
        data = probe if isinstance(probe, bytes) else probe.read_bytes()
        form = {**WARRANT, "submit": "true" if submit else "false", **fields}
        form.setdefault("case_id", str(self.case(requester, offence)))
        if galleries:
            form["galleries"] = galleries if isinstance(galleries, str) else ",".join(str(g) for g in galleries)
        return self.call("POST", "/requests", requester, data=form, files={"probe": ("probe.jpg", data, "image/jpeg")})

    def approved(
        self, requester: str, supervisor: str, probe: Path | bytes, galleries: list[int] | None = None, **fields: Any
    ) -> int:
        """File, submit and approve a request; its id."""
        filed = self.file(requester, probe, galleries, **fields)
        assert filed.status_code == 201, filed.text
        request_id = int(filed.json()["id"])
        self.ok("POST", f"/requests/{request_id}/approve", supervisor, json={"reason": "the warrant covers it"})
        return request_id

    def search(self, examiner: str, request_id: int, **body: Any) -> httpx.Response:
        """POST /requests/{id}/searches with ``body`` (galleries, k, threshold, face)."""
        return self.call("POST", f"/requests/{request_id}/searches", examiner, json=body)

    def verify(self, examiner: str, request_id: int, subject_id: int, **body: Any) -> httpx.Response:
        return self.call(
            "POST", f"/requests/{request_id}/verifications", examiner, json={"subject_id": subject_id, **body}
        )

    def events(self, auditor: str, **filters: Any) -> list[dict[str, Any]]:
        """Audit events (newest first) matching ``filters``."""
        result: list[dict[str, Any]] = self.ok("GET", "/audit/events", auditor, params=filters)["data"]
        return result
