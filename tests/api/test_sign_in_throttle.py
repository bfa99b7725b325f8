"""Failed sign-ins are throttled per client and recorded in bounded numbers (issue 11, item 4):
300 random tokens took 2.6 s and wrote 300 audit rows. Now a client past
``auth_failure_limit`` failures within ``auth_failure_window_s`` gets 429 with
``Retry-After`` without its token being looked at, a refused token is recorded once per
client per 10 minutes (at most 100 events in all), and the rest are counted into one
``auth.refusals_counted`` event when the 10 minutes end."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from facedocket.service.signins import MAX_RECORDED
from facedocket.store.tables import AuditEvent

from .helpers import API, Api, assert_error

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

LIMIT = 20


def random_token() -> str:
    return "fd_" + secrets.token_urlsafe(32)


def count(api: Api, action: str) -> int:
    with api.service.sessions() as session:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        return int(session.scalar(query) or 0)


def details(api: Api, action: str) -> list[dict[str, Any]]:
    return [e.details for e in api.service.audit.list_audit(
        api.service.accounts.authenticate(api.operator), action=action, limit=10_000)]  # fmt: skip


def from_address(api: Api, address: str) -> TestClient:
    return TestClient(api.app, raise_server_exceptions=False, client=(address, 40000))


def me(client: TestClient, token: str) -> httpx.Response:
    return client.get(API + "/me", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api(auth_failure_limit=LIMIT, auth_failure_window_s=60)


def test_300_random_tokens_are_throttled_and_barely_recorded(api: Api) -> None:
    attacker = from_address(api, "203.0.113.9")
    answers = [me(attacker, random_token()) for _ in range(300)]
    statuses = [r.status_code for r in answers]
    assert statuses[:LIMIT] == [401] * LIMIT
    assert statuses[LIMIT:] == [429] * (300 - LIMIT)
    throttled = assert_error(answers[-1], 429, "too many failed sign-ins")
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60, throttled
    assert count(api, "auth.refused") == 1  # was 300
    # a valid token from the throttled address waits too; another address is not affected
    assert me(attacker, api.operator).status_code == 429
    assert me(from_address(api, "198.51.100.7"), api.operator).status_code == 200


def test_the_throttle_lifts_after_the_window(api: Api) -> None:
    attacker = from_address(api, "203.0.113.10")
    for _ in range(LIMIT):
        assert me(attacker, random_token()).status_code == 401
    assert me(attacker, api.operator).status_code == 429
    api.clock.advance(seconds=61)
    assert me(attacker, api.operator).status_code == 200


def test_refusals_not_recorded_one_by_one_are_counted_when_the_period_ends(api: Api) -> None:
    """Many addresses: at most MAX_RECORDED events, then one event with the counts."""
    addresses = [f"192.0.2.{n}" for n in range(1, 151)]
    for address in addresses:
        client = from_address(api, address)
        for _ in range(3):
            assert me(client, random_token()).status_code == 401
    assert count(api, "auth.refused") == MAX_RECORDED  # 450 refusals, 100 events
    assert count(api, "auth.refusals_counted") == 0
    api.clock.advance(minutes=11)
    assert me(from_address(api, "198.51.100.8"), api.operator).status_code == 200
    (counted,) = details(api, "auth.refusals_counted")
    assert counted["refused_not_recorded"] == 450 - MAX_RECORDED
    assert counted["clients"] == 150 and len(counted["by_client"]) == 20


def test_the_count_is_recorded_when_the_server_stops(make_api: Callable[..., Api]) -> None:
    api = make_api(auth_failure_limit=3)
    with TestClient(api.app, raise_server_exceptions=False, client=("203.0.113.11", 1)) as attacker:
        for _ in range(10):
            me(attacker, random_token())
    # leaving the block ran the app's shutdown
    (counted,) = details(api, "auth.refusals_counted")
    assert counted["refused_not_recorded"] == 2 and counted["throttled"] == 7


def test_expired_and_revoked_tokens_count_as_failures(api: Api) -> None:
    client = from_address(api, "203.0.113.12")
    made = api.ok("POST", "/tokens", api.operator, 201, json={"name": "to revoke"})
    api.ok("DELETE", f"/tokens/{made['id']}", api.operator, 204)
    for _ in range(LIMIT):
        assert_error(me(client, made["secret"]), 401, "revoked")
    assert me(client, made["secret"]).status_code == 429
