"""Roles, as the service enforces them and the API translates them (403)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from .helpers import TEST_POLICY, Api, assert_error

ROLES = ("requester", "examiner", "supervisor", "auditor", "admin")


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api], photo: Callable[[str, int], Path]) -> SimpleNamespace:
    api = make_api()
    tokens = {"admin": api.operator}
    users = {}
    for role in ROLES[:-1]:
        created = api.user(api.operator, role, role)
        tokens[role], users[role] = created["token"]["secret"], created["user"]["id"]
    gallery = api.gallery(api.operator, "booking")
    enrolled = api.enrol(tokens["examiner"], gallery, "Aaron_Peirsol", photo("Aaron_Peirsol", 1))
    assert enrolled.status_code == 201, enrolled.text  # examiners enrol
    other, other_admin = api.agency("Transit Police", "t-admin")
    return SimpleNamespace(
        api=api,
        tokens=tokens,
        users=users,
        gallery=gallery,
        probe=photo("Aaron_Peirsol", 2),
        other_agency=other,
        other_admin=other_admin,
    )


@pytest.mark.parametrize("role", ROLES)
def test_me_shows_the_role(world: SimpleNamespace, role: str) -> None:
    me = world.api.ok("GET", "/me", world.tokens[role])
    assert me["role"] == role
    assert me["agency"] == {"id": 1, "name": "State Police", "operator": True}


def _request(world: SimpleNamespace) -> int:
    """One approved request of the agency (filed by its requester, approved by its supervisor)."""
    if not hasattr(world, "request"):
        world.request = world.api.approved(
            world.tokens["requester"], world.tokens["supervisor"], world.probe, [world.gallery]
        )
    request: int = world.request
    return request


@pytest.mark.parametrize("role", ROLES)
def test_only_examiners_and_supervisors_search(world: SimpleNamespace, role: str) -> None:
    response = world.api.search(world.tokens[role], _request(world))
    if role in ("examiner", "supervisor"):
        assert response.status_code == 201, response.text
        assert response.json()["candidates"][0]["subject_reference"] == "Aaron_Peirsol"
    else:
        assert_error(response, 403, role)


@pytest.mark.parametrize("role", ROLES)
def test_requesters_examiners_supervisors_file_requests(world: SimpleNamespace, role: str) -> None:
    response = world.api.call(
        "POST", "/cases", world.tokens[role], json={"number": f"R-{role}", "offence_category": "theft"}
    )
    if role in ("requester", "examiner", "supervisor"):
        assert response.status_code == 201, response.text
        filed = world.api.file(world.tokens[role], world.probe, case_id=str(response.json()["id"]), submit=False)
        assert filed.status_code == 201, filed.text
        assert (filed.json()["status"], filed.json()["requester_id"]) == ("draft", world.users.get(role))
    else:
        assert_error(response, 403, role)


@pytest.mark.parametrize("role", ROLES)
def test_only_supervisors_approve_and_never_their_own(world: SimpleNamespace, role: str) -> None:
    api = world.api
    filed = api.file(world.tokens["requester"], world.probe, [world.gallery]).json()
    response = api.call("POST", f"/requests/{filed['id']}/approve", world.tokens[role], json={"reason": "ok"})
    if role == "supervisor":
        assert response.json()["approval"] == "approved", response.text
    else:
        assert_error(response, 403, role)
    own = api.file(world.tokens["supervisor"], world.probe, [world.gallery]).json()
    assert_error(api.call("POST", f"/requests/{own['id']}/deny", world.tokens["supervisor"], json={"reason": "x"}), 403)


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_set_the_policy(world: SimpleNamespace, role: str) -> None:
    response = world.api.call("PUT", "/policy", world.tokens[role], json={"profile": "massachusetts-2020"})
    if role == "admin":
        assert response.json()["name"] == "massachusetts-2020", response.text
        world.api.policy(world.tokens["admin"], toml=TEST_POLICY)  # back to the permissive profile
    else:
        assert_error(response, 403, role)
    assert world.api.ok("GET", "/policy", world.tokens[role])["name"] == "test-permissive"  # every role reads it


def test_other_agency_policy_only_for_operator_admins(world: SimpleNamespace) -> None:
    api, other = world.api, world.other_agency
    assert_error(api.call("PUT", "/policy", world.other_admin, json={"profile": "research", "agency_id": 1}), 403)
    assert_error(api.call("GET", "/policy?agency_id=1", world.other_admin), 404)
    set_by_operator = api.policy(world.tokens["admin"], profile="detroit-307", agency_id=other)
    assert (set_by_operator["agency_id"], set_by_operator["name"]) == (other, "detroit-307")
    assert api.ok("GET", f"/policy?agency_id={other}", world.tokens["auditor"])["name"] == "detroit-307"
    assert api.ok("GET", "/policy", world.other_admin)["name"] == "detroit-307"
    assert api.ok("GET", "/policy", world.tokens["admin"])["name"] == "test-permissive"


@pytest.mark.parametrize("role", ["requester", "examiner", "supervisor", "admin"])
def test_only_auditors_and_admins_read_the_audit_log(world: SimpleNamespace, role: str) -> None:
    api, token = world.api, world.tokens[role]
    if role == "admin":
        assert api.ok("GET", "/audit/events", token)["count"] > 0
        assert api.ok("POST", "/audit/verify", token)["ok"] is True
        assert api.ok("GET", "/audit/events?action=audit.verified", world.tokens["auditor"])["count"] >= 1
    else:
        assert_error(api.call("GET", "/audit/events", token), 403, role)
        assert_error(api.call("POST", "/audit/verify", token), 403, role)
        assert_error(api.call("GET", "/audit/export", token), 403, role)


@pytest.mark.parametrize("role", ["requester", "auditor"])
def test_requesters_and_auditors_cannot_enrol(world: SimpleNamespace, role: str) -> None:
    assert_error(world.api.enrol(world.tokens[role], world.gallery, "x", world.probe), 403, role)
    assert world.api.ok("GET", f"/galleries/{world.gallery}", world.tokens["admin"])["templates"] == 1


def test_requester_cannot_read_searches_auditor_can(world: SimpleNamespace) -> None:
    api = world.api
    request = api.approved(world.tokens["requester"], world.tokens["supervisor"], world.probe, [world.gallery])
    made = api.search(world.tokens["examiner"], request)
    assert made.status_code == 201, made.text
    assert_error(api.call("GET", "/searches", world.tokens["requester"]), 403)
    listed = api.ok("GET", "/searches", world.tokens["auditor"])
    assert listed["count"] >= 1 and made.json()["id"] in [s["id"] for s in listed["data"]]


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_create_users(world: SimpleNamespace, role: str) -> None:
    body = {"username": f"new-{role}", "role": "examiner"}
    response = world.api.call("POST", "/users", world.tokens[role], json=body)
    if role == "admin":
        assert response.status_code == 201, response.text
        assert response.json()["token"]["secret"].startswith("fd_")
    else:
        assert_error(response, 403, role)


def test_only_operator_admins_create_agencies(world: SimpleNamespace) -> None:
    api = world.api
    body = {"name": "Harbour Police", "admin_username": "h-admin"}
    assert_error(api.call("POST", "/agencies", world.other_admin, json=body), 403, "operator")
    assert_error(api.call("POST", "/agencies", world.tokens["supervisor"], json=body), 403)
    created = api.ok("POST", "/agencies", world.tokens["admin"], 201, json=body)
    assert created["agency"]["operator"] is False
    assert api.ok("GET", "/me", created["token"]["secret"])["role"] == "admin"
    assert_error(api.call("POST", "/agencies", world.tokens["admin"], json=body), 409)


@pytest.mark.parametrize("role", ROLES)
def test_galleries_are_created_by_admins_and_supervisors(world: SimpleNamespace, role: str) -> None:
    body = {"name": f"gallery of {role}", "source": "s", "purpose": "p"}
    response = world.api.call("POST", "/galleries", world.tokens[role], json=body)
    if role in ("admin", "supervisor"):
        assert response.status_code == 201, response.text
    else:
        assert_error(response, 403, role)


def test_tokens_only_for_yourself_and_admins_revoke(world: SimpleNamespace) -> None:
    api, examiner = world.api, world.tokens["examiner"]
    mine = api.ok("POST", "/tokens", examiner, 201, json={"name": "second laptop"})
    assert mine["kind"] == "personal" and mine["expires"]
    assert api.ok("GET", "/me", mine["secret"])["username"] == "examiner"
    assert_error(api.call("POST", "/tokens", examiner, json={"user_id": world.users["auditor"]}), 403)
    # an admin never mints a token for someone else (it would act as them)
    assert_error(api.call("POST", "/tokens", world.tokens["admin"], json={"user_id": world.users["auditor"]}), 403)
    theirs = api.ok("POST", "/tokens", world.tokens["auditor"], 201, json={"name": "auditor's own"})
    assert_error(api.call("DELETE", f"/tokens/{theirs['id']}", examiner), 403)
    assert api.call("DELETE", f"/tokens/{theirs['id']}", world.tokens["admin"]).status_code == 204
    assert api.call("DELETE", f"/tokens/{mine['id']}", examiner).status_code == 204
    assert_error(api.call("GET", "/me", mine["secret"]), 401)
    assert_error(api.call("GET", "/me", theirs["secret"]), 401)


def test_deactivated_users_tokens_stop_working(world: SimpleNamespace) -> None:
    api, admin, requester = world.api, world.tokens["admin"], world.users["requester"]
    assert_error(api.call("POST", f"/users/{requester}/deactivate", world.tokens["supervisor"]), 403)
    old = world.tokens["requester"]
    try:
        assert api.ok("POST", f"/users/{requester}/deactivate", admin)["active"] is False
        assert_error(api.call("GET", "/me", old), 401, "revoked")
    finally:
        assert api.ok("POST", f"/users/{requester}/activate", admin)["active"] is True
        activation = api.ok("POST", f"/users/{requester}/activation", admin, 201)
        world.tokens["requester"] = api.activate(activation["secret"])["secret"]
    assert_error(api.call("GET", "/me", old), 401)  # reactivation revives no old token
    assert api.ok("GET", "/me", world.tokens["requester"])["role"] == "requester"


def test_users_are_listed_by_admins_supervisors_auditors(world: SimpleNamespace) -> None:
    for role in ("admin", "supervisor", "auditor"):
        users = world.api.ok("GET", "/users", world.tokens[role])["data"]
        assert {"requester", "examiner"} <= {u["username"] for u in users}
    for role in ("requester", "examiner"):
        assert_error(world.api.call("GET", "/users", world.tokens[role]), 403)
