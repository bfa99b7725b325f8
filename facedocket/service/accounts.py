"""Agencies, users, roles and API tokens.

The agency created by ``facedocket init`` is the *operator*: its admins create other
agencies (each with a first admin). Every other action stays inside the actor's agency.
Tokens are shown once; only their SHA-256 is stored, and each expires.

Only a user makes their own tokens. An admin who creates a user (or an agency's first
admin) gets an *activation token* to hand over: it only lets that user make their own token,
once, within ``activation_ttl_hours``, so the admin never holds a token that acts as the
user. Admins revoke tokens; deactivating a user revokes all of theirs, and reactivating
does not bring them back (an admin hands out a new activation token).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facedocket.errors import Conflict, Forbidden, InvalidInput, NotFound, StorageReadOnly, Unauthorized
from facedocket.governance.permissions import Actor, require
from facedocket.service.context import SYSTEM, Area, Who
from facedocket.service.inputs import text
from facedocket.store.queries import accounts as queries
from facedocket.store.tables import Agency, ApiToken, User
from facedocket.vocab import ROLES

log = logging.getLogger("facedocket.accounts")

TOKEN_PREFIX = "fd_"
TOKEN_USE_EVENT_EVERY = timedelta(minutes=10)
PERSONAL = "personal"
ACTIVATION = "activation"


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A token as issued: ``secret`` is shown this once and never stored. ``kind`` is
    ``personal`` or ``activation`` (it only makes its user's own token, once)."""

    id: int
    user_id: int
    username: str
    secret: str
    kind: str = PERSONAL
    expires: datetime | None = None


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
    password: str = "none"
    """Web sign-in: ``none`` (no password), ``temporary`` (a first password not used yet) or ``set``."""


def _user_info(user: User) -> UserInfo:
    password = "none" if not user.password_hash else "temporary" if user.password_temporary else "set"
    return UserInfo(user.id, user.username, user.agency_id, user.role, user.active, password)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")


class Accounts(Area):
    """Agencies, users and tokens (see the module docstring)."""

    def bootstrap(self, agency_name: str, admin_username: str) -> IssuedToken:
        """Create the operator agency and its first admin (``facedocket init``); only on an
        empty database. The admin's token is a personal one."""
        with self.ctx.write() as session:
            if queries.any_agency(session):
                raise Conflict("this database already has agencies; use `facedocket user create` instead")
            agency = Agency(name=text(agency_name, "agency name", required=True), is_operator=True,
                            created=self.clock())  # fmt: skip
            session.add(agency)
            session.flush()
            user = self._new_user(session, agency.id, admin_username, "admin")
            token = self._issue(session, user, "initial", PERSONAL)
            self.ctx.audit(session, Who(user.id, user.username, agency.id), "system.initialised", "agency",
                           agency.id, {"agency": agency.name, "admin": user.username})  # fmt: skip
            return token

    def _new_user(self, session: Session, agency_id: int, username: str, role: str) -> User:
        _check_role(role)
        user = User(agency_id=agency_id, username=text(username, "username", required=True), role=role,
                    created=self.clock())  # fmt: skip
        session.add(user)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict(f"username {username!r} is taken; choose another") from None
        return user

    def _issue(self, session: Session, user: User, name: str, kind: str) -> IssuedToken:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        life = (timedelta(hours=self.ctx.settings.activation_ttl_hours) if kind == ACTIVATION
                else timedelta(days=self.ctx.settings.token_ttl_days))  # fmt: skip
        token = ApiToken(user_id=user.id, token_hash=hash_token(secret), prefix=secret[:10], name=name,
                         created=now, expires=now + life, kind=kind)  # fmt: skip
        session.add(token)
        session.flush()
        return IssuedToken(token.id, user.id, user.username, secret, kind, token.expires)

    def _activation(self, session: Session, user: User) -> IssuedToken:
        """A fresh activation token for ``user``; any older one stops working."""
        queries.revoke_tokens(session, user.id, self.clock(), kind=ACTIVATION)
        return self._issue(session, user, "activation", ACTIVATION)

    def create_agency(self, actor: Actor, name: str, admin_username: str) -> tuple[AgencyInfo, IssuedToken]:
        """A new agency and the activation token of its first admin (operator admins only)."""
        require(actor, "agency.create", "other")
        with self.ctx.write() as session:
            agency = Agency(name=text(name, "agency name", required=True), created=self.clock())
            session.add(agency)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(f"an agency named {name!r} exists") from None
            user = self._new_user(session, agency.id, admin_username, "admin")
            token = self._activation(session, user)
            self.ctx.audit(session, actor, "agency.created", "agency", agency.id, {"name": agency.name})
            self.ctx.audit(session, actor, "user.created", "user", user.id,
                           {"username": user.username, "role": "admin"}, agency_id=agency.id)  # fmt: skip
            return AgencyInfo(agency.id, agency.name, False), token

    def list_agencies(self, actor: Actor) -> list[AgencyInfo]:
        """All agencies for the operator's admins; otherwise the actor's own."""
        require(actor, "agency.read")
        every = actor.operator and actor.role == "admin" and not actor.activation
        with self.ctx.read() as session:
            rows = queries.agencies(session, None if every else actor.agency_id)
            return [AgencyInfo(a.id, a.name, a.is_operator) for a in rows]

    def create_user(self, actor: Actor, username: str, role: str) -> tuple[UserInfo, IssuedToken]:
        """A user of the admin's own agency, and the activation token to hand to them."""
        require(actor, "user.create")
        with self.ctx.write() as session:
            user = self._new_user(session, actor.agency_id, username, role)
            token = self._activation(session, user)
            self.ctx.audit(session, actor, "user.created", "user", user.id, {"username": user.username, "role": role})
            return _user_info(user), token

    def list_users(self, actor: Actor) -> list[UserInfo]:
        require(actor, "user.read")
        with self.ctx.read() as session:
            return [_user_info(u) for u in queries.users(session, actor.agency_id)]

    def _agency_user(self, session: Session, actor: Actor, user_id: int) -> User:
        user = queries.user(session, user_id)
        if user is None or user.agency_id != actor.agency_id:
            raise NotFound(f"no user {user_id} in your agency")
        return user

    def set_user_active(self, actor: Actor, user_id: int, active: bool) -> UserInfo:
        """Deactivate a user (every token of theirs is revoked and every web session ends) or
        reactivate them (their old tokens stay revoked: hand them a new activation token with
        :meth:`issue_activation`)."""
        require(actor, "user.set_active")
        with self.ctx.write() as session:
            user = self._agency_user(session, actor, user_id)
            if user.id == actor.user_id and not active:
                raise Conflict("you cannot deactivate yourself; ask another admin")
            user.active = active
            revoked = 0 if active else queries.revoke_tokens(session, user.id, self.clock())
            ended = 0 if active else queries.end_sessions(session, user.id, self.clock(), "user deactivated")
            self.ctx.audit(session, actor, "user.activated" if active else "user.deactivated", "user", user.id,
                           {"username": user.username, "tokens_revoked": revoked, "sessions_ended": ended})  # fmt: skip
            return _user_info(user)

    def issue_activation(self, actor: Actor, user_id: int) -> IssuedToken:
        """A new activation token for an active user of the admin's agency (a lost token, a
        reactivated user); it only lets the user make their own token."""
        require(actor, "user.create")
        with self.ctx.write() as session:
            user = self._agency_user(session, actor, user_id)
            if not user.active:
                raise Conflict(f"user {user.username} is deactivated; activate them first")
            token = self._activation(session, user)
            self.ctx.audit(session, actor, "token.created", "token", token.id,
                           {"user_id": user.id, "kind": ACTIVATION})  # fmt: skip
            return token

    def create_token(self, actor: Actor, user_id: int | None = None, name: str = "") -> IssuedToken:
        """A new personal token for the actor. Nobody makes a token for someone else. Made
        with an activation token, it uses that token up."""
        require(actor, "token.create")
        if user_id is not None and user_id != actor.user_id:
            raise Forbidden(
                "only a user makes their own tokens; an admin revokes tokens, or hands out an activation "
                "token (`facedocket user activation USER`) with which the user makes their own"
            )
        label = text(name, "token name")
        with self.ctx.write() as session:
            user = self._agency_user(session, actor, actor.user_id)
            if actor.activation and actor.token_id is not None:
                used = queries.token(session, actor.token_id)
                if used is None or used.revoked is not None:
                    raise Unauthorized("this activation token was used already; ask an admin for a new one")
                used.revoked = self.clock()
            issued = self._issue(session, user, label, PERSONAL)
            self.ctx.audit(session, actor, "token.created", "token", issued.id,
                           {"user_id": user.id, "name": label, "kind": PERSONAL,
                            "expires": issued.expires.isoformat() if issued.expires else None})  # fmt: skip
            return issued

    def revoke_token(self, actor: Actor, token_id: int) -> None:
        """Revoke a token: one's own, or (admins) any of the agency's."""
        with self.ctx.write() as session:
            token = queries.token(session, token_id)
            owner = queries.user(session, token.user_id) if token else None
            if token is None or owner is None or owner.agency_id != actor.agency_id:
                raise NotFound(f"no token {token_id} in your agency")
            if owner.id != actor.user_id:
                require(actor, "token.revoke")
            token.revoked = self.clock()
            self.ctx.audit(session, actor, "token.revoked", "token", token.id, {"user_id": owner.id})

    def authenticate(self, secret: str | None, client: str | None = None) -> Actor:
        """The actor a bearer token stands for; :class:`Unauthorized` if none.

        ``client`` is the caller's address (the API passes it): a client past
        ``auth_failure_limit`` failures within ``auth_failure_window_s`` gets
        :class:`~facedocket.errors.TooManyRequests` without its token being looked at. The
        lookup is a read; a write happens only to record a token's use (at most every
        :data:`TOKEN_USE_EVENT_EVERY`) or a refusal (bounded, see :mod:`.signins`)."""
        now = self.clock()
        self._record_counted(now)
        if client is not None:
            self.ctx.sign_ins.check(client, now)
        if not secret:
            raise Unauthorized("missing token; send `Authorization: Bearer fd_...`")
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            self._failed(client, now)
            raise Unauthorized("malformed token; send `Authorization: Bearer fd_...`")
        with self.ctx.read() as session:
            token = queries.token_by_hash(session, hash_token(secret))
            user = queries.user(session, token.user_id) if token is not None else None
            refused = self._refusal(token, user)
            agency = queries.agency(session, user.agency_id) if user is not None and not refused else None
        if refused or token is None or user is None:
            self._failed(client, now)
            if self.ctx.sign_ins.record_refusal(client, now) and not self.ctx.read_only:
                details = {"prefix": secret[:10], "why": refused, "client": client or "local"}
                self.ctx.record(SYSTEM, "auth.refused", "token", token.id if token else "unknown", details,
                                agency_id=user.agency_id if user else None)  # fmt: skip
            raise Unauthorized(refused)
        actor = Actor(user.id, user.username, user.agency_id, user.role, bool(agency and agency.is_operator),
                      activation=token.kind == ACTIVATION, token_id=token.id)  # fmt: skip
        if _use_due(token.last_used, now) and not self.ctx.read_only:  # a read-only database records nothing
            self._record_use(actor, token.id, now)
        return actor

    def _record_use(self, actor: Actor, token_id: int, now: datetime) -> None:
        """Record a token's use, once per TOKEN_USE_EVENT_EVERY (re-checked under the row's lock);
        a database that turned out read-only records nothing, and the sign-in stands."""
        try:
            with self.ctx.write() as session:
                row = queries.lock_token(session, token_id)
                if row is not None and _use_due(row.last_used, now):
                    self.ctx.audit(session, actor, "auth.token_used", "token", row.id, {"prefix": row.prefix})
                    row.last_used = now
        except StorageReadOnly:
            log.warning("token %s was used but the database is read-only: the use is not recorded", token_id)

    def _failed(self, client: str | None, now: datetime) -> None:
        if client is not None:
            self.ctx.sign_ins.failed(client, now)

    def _record_counted(self, now: datetime, force: bool = False) -> None:
        """Record the refusals a finished period counted without recording them one by one."""
        counted = self.ctx.sign_ins.ended(now, force)
        if counted is not None and not self.ctx.read_only:
            self.ctx.record(SYSTEM, "auth.refusals_counted", "token", "unknown", counted)

    def flush_refusals(self) -> None:
        """Record the refusals counted so far (the server calls this when it stops)."""
        self._record_counted(self.clock(), force=True)

    def _refusal(self, token: ApiToken | None, user: User | None) -> str:
        if token is None or token.revoked is not None:
            return "unknown or revoked token; ask an admin for a new one"
        if token.expires is not None and token.expires <= self.clock():
            return "this token has expired; make a new one with a live token, or ask an admin for an activation token"
        if user is None or not user.active:
            return "this token's user is deactivated"
        return ""


def _use_due(last_used: datetime | None, now: datetime) -> bool:
    return last_used is None or now - last_used > TOKEN_USE_EVENT_EVERY
