"""Agencies, users, roles and API tokens.

The agency created by ``facedocket init`` is the *operator*: its admins create other
agencies (each with a first admin). Every other action stays inside the actor's agency.
Tokens are shown once; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facedocket.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from facedocket.service.audit import SYSTEM, AuditMixin, Who
from facedocket.service.base import Actor
from facedocket.store.tables import ROLES, Agency, ApiToken, User

TOKEN_PREFIX = "fd_"
TOKEN_USE_EVENT_EVERY = timedelta(minutes=10)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token as issued: ``secret`` is shown this once and never stored."""

    id: int
    user_id: int
    username: str
    secret: str


@dataclass(frozen=True)
class AgencyInfo:
    id: int
    name: str
    operator: bool


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    agency_id: int
    role: str
    active: bool


def _user_info(user: User) -> UserInfo:
    return UserInfo(user.id, user.username, user.agency_id, user.role, user.active)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")


def _check_name(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 120:
        raise InvalidInput(f"{what} must be 1 to 120 characters")
    return value


class AccountsMixin(AuditMixin):
    def bootstrap(self, agency_name: str, admin_username: str) -> IssuedToken:
        """Create the operator agency and its first admin (``facedocket init``); only on an
        empty database."""
        with self.transaction() as session:
            if session.scalar(select(Agency.id).limit(1)) is not None:
                raise Conflict("this database already has agencies; use `facedocket user create` instead")
            agency = Agency(name=_check_name(agency_name, "agency name"), is_operator=True, created=self.clock())
            session.add(agency)
            session.flush()
            token = self._new_user_and_token(session, agency.id, admin_username, "admin")
            self._audit(session, Who(token.user_id, token.username, agency.id), "system.initialised", "agency",
                        agency.id, {"agency": agency.name, "admin": token.username})  # fmt: skip
            return token

    def _new_user_and_token(self, session: Session, agency_id: int, username: str, role: str) -> IssuedToken:
        _check_role(role)
        user = User(agency_id=agency_id, username=_check_name(username, "username"), role=role, created=self.clock())
        session.add(user)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(f"username {username!r} is taken; choose another") from None
        return self._issue(session, user, "initial")

    def _issue(self, session: Session, user: User, name: str) -> IssuedToken:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=user.id,
            token_hash=hash_token(secret),
            prefix=secret[:10],
            name=name,
            created=self.clock(),
        )
        session.add(token)
        session.flush()
        return IssuedToken(token.id, user.id, user.username, secret)

    def create_agency(self, actor: Actor, name: str, admin_username: str) -> tuple[AgencyInfo, IssuedToken]:
        """A new agency and its first admin's token. Only the operator's admins may."""
        actor.require("admin")
        if not actor.operator:
            raise Forbidden("only admins of the operator agency create agencies")
        with self.transaction() as session:
            agency = Agency(name=_check_name(name, "agency name"), created=self.clock())
            session.add(agency)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"an agency named {name!r} exists") from None
            token = self._new_user_and_token(session, agency.id, admin_username, "admin")
            self._audit(session, actor, "agency.created", "agency", agency.id, {"name": agency.name})
            self._audit(session, actor, "user.created", "user", token.user_id,
                        {"username": token.username, "role": "admin"}, agency_id=agency.id)  # fmt: skip
            return AgencyInfo(agency.id, agency.name, False), token

    def list_agencies(self, actor: Actor) -> list[AgencyInfo]:
        """All agencies for the operator's admins; otherwise the actor's own."""
        with self.sessions() as session:
            query = select(Agency).order_by(Agency.id)
            if not (actor.operator and actor.role == "admin"):
                query = query.where(Agency.id == actor.agency_id)
            return [AgencyInfo(a.id, a.name, a.is_operator) for a in session.scalars(query)]

    def create_user(self, actor: Actor, username: str, role: str) -> tuple[UserInfo, IssuedToken]:
        """A user of the admin's own agency, with a first token."""
        actor.require("admin")
        with self.transaction() as session:
            token = self._new_user_and_token(session, actor.agency_id, username, role)
            user = session.get(User, token.user_id)
            assert user is not None
            self._audit(session, actor, "user.created", "user", user.id, {"username": user.username, "role": role})
            return _user_info(user), token

    def list_users(self, actor: Actor) -> list[UserInfo]:
        actor.require("admin", "supervisor", "auditor")
        with self.sessions() as session:
            users = session.scalars(select(User).where(User.agency_id == actor.agency_id).order_by(User.id))
            return [_user_info(u) for u in users]

    def set_user_active(self, actor: Actor, user_id: int, active: bool) -> UserInfo:
        actor.require("admin")
        with self.transaction() as session:
            user = session.get(User, user_id)
            if user is None or user.agency_id != actor.agency_id:
                raise NotFound(f"no user {user_id} in your agency")
            user.active = active
            self._audit(session, actor, "user.activated" if active else "user.deactivated", "user", user.id,
                        {"username": user.username})  # fmt: skip
            return _user_info(user)

    def create_token(self, actor: Actor, user_id: int | None = None, name: str = "") -> IssuedToken:
        """A new token for the actor, or (admins) for a user of their agency."""
        with self.transaction() as session:
            target = user_id if user_id is not None else actor.user_id
            if target != actor.user_id:
                actor.require("admin")
            user = session.get(User, target)
            if user is None or user.agency_id != actor.agency_id:
                raise NotFound(f"no user {target} in your agency")
            issued = self._issue(session, user, name)
            self._audit(session, actor, "token.created", "token", issued.id, {"user_id": user.id, "name": name})
            return issued

    def revoke_token(self, actor: Actor, token_id: int) -> None:
        with self.transaction() as session:
            token = session.get(ApiToken, token_id)
            owner = session.get(User, token.user_id) if token else None
            if token is None or owner is None or owner.agency_id != actor.agency_id:
                raise NotFound(f"no token {token_id} in your agency")
            if owner.id != actor.user_id:
                actor.require("admin")
            token.revoked = self.clock()
            self._audit(session, actor, "token.revoked", "token", token.id, {"user_id": owner.id})

    def authenticate(self, secret: str | None) -> Actor:
        """The actor a bearer token stands for; :class:`Unauthorized` if none."""
        if not secret or not secret.startswith(TOKEN_PREFIX):
            raise Unauthorized("missing or malformed token; send `Authorization: Bearer fd_...`")
        refused = ""
        with self.transaction() as session:
            token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
            user = session.get(User, token.user_id) if token is not None else None
            if token is None or token.revoked is not None:
                refused = "unknown or revoked token; ask an admin for a new one"
            elif user is None or not user.active:
                refused = "this token's user is deactivated"
            if refused or token is None or user is None:
                self._audit(session, SYSTEM, "auth.refused", "token", token.id if token else "unknown",
                            {"prefix": secret[:10], "why": refused},
                            agency_id=user.agency_id if user else None)  # fmt: skip
            else:
                agency = session.get(Agency, user.agency_id)
                actor = Actor(user.id, user.username, user.agency_id, user.role, bool(agency and agency.is_operator))
                now = self.clock()
                if token.last_used is None or now - token.last_used > TOKEN_USE_EVENT_EVERY:
                    # Token use is recorded at most once per token per TOKEN_USE_EVENT_EVERY.
                    self._audit(session, actor, "auth.token_used", "token", token.id, {"prefix": token.prefix})
                    token.last_used = now
                return actor
        raise Unauthorized(refused)
