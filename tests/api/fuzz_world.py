"""A world for fuzzing the REST API with schemathesis: the app's own OpenAPI description,
a real service with one user per role, a gallery with an enrolled subject, a case and a
searched request, and the checks every answer must pass.

Used by ``tests/api/test_fuzz_api.py`` (a bounded, seeded pass in ``make test``) and by
``benchmarks/fuzz_api.py`` (the longer pass of ``make fuzz``, with the counts recorded).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from facedocket.api import create_app
from facedocket.config import Settings
from facedocket.errors import Unauthorized
from facedocket.vision.pipeline import FacePipeline

from .helpers import Api

ROLES = ("admin", "requester", "examiner", "supervisor", "auditor")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
"""No 5xx but the documented 503 and 507, every status documented for its route, every body of the
documented media type and shape."""


def openapi_schema() -> Any:
    """The app's OpenAPI description as schemathesis reads it (from an app on a throwaway home)."""
    with tempfile.TemporaryDirectory() as home:
        spec = create_app(Settings(home=Path(home))).openapi()
    return schemathesis.openapi.from_dict(spec)


class FuzzWorld:
    """A real app with data in it, and tokens for each role that stay valid: a fuzzed call
    may deactivate a user or revoke a token, and the next call of that role gets a new one."""

    def __init__(self, home: Path, pipeline: FacePipeline, photo: Path, probe: Path) -> None:
        self.api = Api(home, pipeline=pipeline)
        self.keeper = self.api.service.accounts.authenticate(self.api.operator)  # stays valid as an actor
        self.tokens = {
            role: self.api.user(self.api.operator, f"fuzz-{role}", role)["token"]["secret"] for role in ROLES
        }
        gallery = self.api.gallery(self.api.operator, "fuzz booking photos")
        enrolled = self.api.enrol(self.api.operator, gallery, "Aaron_Peirsol", photo)
        assert enrolled.status_code == 201, enrolled.text
        request = self.api.approved(self.tokens["requester"], self.tokens["supervisor"], probe, [gallery])
        searched = self.api.search(self.tokens["examiner"], request)
        assert searched.status_code == 201, searched.text
        self.statuses: Counter[str] = Counter()

    def token(self, role: str) -> str:
        """A live token of ``role`` (made anew when a fuzzed call revoked it)."""
        service, secret = self.api.service, self.tokens[role]
        try:
            service.accounts.authenticate(secret)
            return secret
        except Unauthorized:
            pass
        user = next(u for u in service.accounts.list_users(self.keeper) if u.username == f"fuzz-{role}")
        if not user.active:
            service.accounts.set_user_active(self.keeper, user.id, True)
        activation = service.accounts.issue_activation(self.keeper, user.id)
        self.tokens[role] = service.accounts.create_token(service.accounts.authenticate(activation.secret)).secret
        return self.tokens[role]

    def check(self, case: Any, role: str) -> None:
        """Send ``case`` as ``role`` and validate the answer with :data:`CHECKS`."""
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {self.token(role)}"}
        if case.operation.path.endswith("/stream"):  # a stream lasts its timeout (a minute by default)
            case.query = {**(case.query or {}), "timeout": 0.05}
        for waited in ("wait", "timeout"):  # long polls and streams: what they answer, not the waiting
            value = (case.query or {}).get(waited)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0.05:
                case.query[waited] = 0.05
        response = case.call(app=self.api.app)
        self.statuses[f"{case.operation.label} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)
