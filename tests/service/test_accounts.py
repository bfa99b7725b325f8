"""Agencies, users, roles and tokens: who may do what, and what is stored of a token."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from tokens import own_token

from facedocket.errors import Conflict, Forbidden, NotFound, Unauthorized
from facedocket.service import Service
from facedocket.store.tables import ApiToken, Base

from .support import World, second_agency


def test_bootstrap_only_once(service: Service) -> None:
    token = service.accounts.bootstrap("State Police", "admin")
    admin = service.accounts.authenticate(token.secret)
    assert (admin.username, admin.role, admin.operator) == ("admin", "admin", True)
    with pytest.raises(Conflict):
        service.accounts.bootstrap("Another Police", "admin2")
    assert [a.name for a in service.accounts.list_agencies(admin)] == ["State Police"]


def _text_values(service: Service, table: sa.Table) -> list[str]:
    """Every value of the table's text (and JSON) columns, as text."""
    columns = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text, sa.JSON))]
    if not columns:
        return []
    with service.engine.connect() as conn:
        rows = conn.execute(sa.select(*columns)).all()
    return [value if isinstance(value, str) else repr(value) for row in rows for value in row if value is not None]


def test_token_secret_is_never_stored_only_its_sha256(world: World) -> None:
    service = world.service
    extra = service.accounts.create_token(world.admin, name="laptop")
    secrets = [*world.operator.secrets.values(), extra.secret]
    service.accounts.authenticate(extra.secret)  # authenticating writes last_used; still no secret

    token_values = _text_values(service, ApiToken.__table__)
    for secret in secrets:
        assert not any(secret in value for value in token_values)
        assert hashlib.sha256(secret.encode()).hexdigest() in token_values
    # nor anywhere else in the database
    everything = [v for table in Base.metadata.sorted_tables for v in _text_values(service, table)]
    for secret in secrets:
        assert not any(secret in value for value in everything)
    with service.sessions() as session:
        hashes = set(session.scalars(sa.select(ApiToken.token_hash)))
    assert {hashlib.sha256(s.encode()).hexdigest() for s in secrets} <= hashes


def test_authenticate(world: World) -> None:
    service = world.service
    examiner = service.accounts.authenticate(world.operator.secrets["examiner"])
    assert examiner == world.examiner
    assert (examiner.role, examiner.agency_id, examiner.operator) == ("examiner", world.operator.id, True)


@pytest.mark.parametrize("garbage", ["", None, "not-a-token", "fd_", "fd_" + "x" * 43, "Bearer fd_abc"])
def test_garbage_tokens_are_unauthorized(world: World, garbage: str | None) -> None:
    with pytest.raises(Unauthorized):
        world.service.accounts.authenticate(garbage)


def test_revoked_token_is_unauthorized(world: World) -> None:
    service = world.service
    issued = service.accounts.create_token(world.examiner, name="second")
    assert service.accounts.authenticate(issued.secret) == world.examiner
    service.accounts.revoke_token(world.examiner, issued.id)
    with pytest.raises(Unauthorized):
        service.accounts.authenticate(issued.secret)
    # the user's other token still works
    assert service.accounts.authenticate(world.operator.secrets["examiner"]) == world.examiner


def test_deactivated_user_is_unauthorized(world: World) -> None:
    service = world.service
    info = service.accounts.set_user_active(world.admin, world.examiner.user_id, False)
    assert info.active is False
    with pytest.raises(Unauthorized):
        service.accounts.authenticate(world.operator.secrets["examiner"])
    service.accounts.set_user_active(world.admin, world.examiner.user_id, True)
    with pytest.raises(Unauthorized):  # reactivation revives no old token
        service.accounts.authenticate(world.operator.secrets["examiner"])
    activation = service.accounts.issue_activation(world.admin, world.examiner.user_id)
    assert service.accounts.authenticate(own_token(service, activation).secret) == world.examiner


@pytest.mark.parametrize("role", ["supervisor", "examiner", "requester", "auditor"])
def test_only_admins_create_users(world: World, role: str) -> None:
    actor = getattr(world.operator, role)
    with pytest.raises(Forbidden):
        world.service.accounts.create_user(actor, "newcomer", "examiner")
    user, token = world.service.accounts.create_user(world.admin, "newcomer", "examiner")
    assert (user.role, user.agency_id, user.active) == ("examiner", world.operator.id, True)
    assert token.kind == "activation"
    assert world.service.accounts.authenticate(own_token(world.service, token).secret).user_id == user.id


def test_usernames_are_unique(world: World) -> None:
    with pytest.raises(Conflict):
        world.service.accounts.create_user(world.admin, "sp-examiner", "examiner")


def test_only_operator_admins_create_agencies(world: World) -> None:
    service = world.service
    for role in ("supervisor", "examiner", "requester", "auditor"):
        with pytest.raises(Forbidden):
            service.accounts.create_agency(getattr(world.operator, role), "Rogue Agency", "rogue")
    sheriff = second_agency(world)
    assert sheriff.admin.operator is False
    with pytest.raises(Forbidden):  # an admin, but not of the operator agency
        service.accounts.create_agency(sheriff.admin, "Rogue Agency", "rogue")
    names = [a.name for a in service.accounts.list_agencies(world.admin)]
    assert names == ["State Police", "County Sheriff"]
    assert [a.name for a in service.accounts.list_agencies(sheriff.admin)] == ["County Sheriff"]


def test_admins_act_only_inside_their_agency(world: World) -> None:
    service = world.service
    sheriff = second_agency(world)
    victim = world.examiner.user_id  # a user of the operator agency (A)
    with pytest.raises(Forbidden):
        service.accounts.create_token(sheriff.admin, user_id=victim)
    with pytest.raises(NotFound):
        service.accounts.set_user_active(sheriff.admin, victim, False)
    with pytest.raises(NotFound):
        service.accounts.issue_activation(sheriff.admin, victim)
    with pytest.raises(Forbidden):
        service.accounts.create_token(world.admin, user_id=sheriff.examiner.user_id)
    assert service.accounts.authenticate(world.operator.secrets["examiner"]) == world.examiner
    assert {u.username for u in service.accounts.list_users(sheriff.admin)} == {
        "county-admin", "county-supervisor", "county-examiner", "county-requester", "county-auditor",
    }  # fmt: skip


def test_users_make_their_own_tokens_and_admins_revoke_them(world: World) -> None:
    service = world.service
    issued = service.accounts.create_token(world.examiner, name="desk")
    assert service.accounts.authenticate(issued.secret) == world.examiner
    with pytest.raises(Forbidden):  # nobody makes a token for someone else, admins included
        service.accounts.create_token(world.admin, user_id=world.examiner.user_id)
    with pytest.raises(Forbidden):
        service.accounts.create_token(world.examiner, user_id=world.operator.auditor.user_id)
    sheriff = second_agency(world)
    with pytest.raises(NotFound):
        service.accounts.revoke_token(sheriff.admin, issued.id)
    service.accounts.revoke_token(world.admin, issued.id)
    with pytest.raises(Unauthorized):
        service.accounts.authenticate(issued.secret)
