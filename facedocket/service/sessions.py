"""Sign-in for people: passwords, web sessions, back-off after failed attempts.

Programs act with bearer tokens (:mod:`.accounts`); people sign in to the web UI with a
username and a password (argon2id, :mod:`facedocket.crypto`). The design follows the
activation token's: an admin never holds a credential that stays valid.

* An admin sets a user's *temporary* first password (or resets a forgotten one,
  :meth:`Sessions.set_password`): it passes the password policy, is shown once, works once
  and for ``activation_ttl_hours`` only. Signing in with it uses it up and opens a session
  that may do nothing but choose the user's own password (:attr:`Actor.must_change`).
  Setting it ends the user's sessions.
* A session is a random secret in a cookie; the database keeps its SHA-256. It ends at
  sign-out, after ``session_idle_minutes`` without a request, ``session_max_hours`` after
  sign-in, or when the user is deactivated or their password changes.
* Failed sign-ins back off per username, whether anyone has that name or not (so the
  back-off tells nobody which names exist): the failure that uses up
  ``sign_in_free_attempts`` starts a wait of ``sign_in_backoff_s``, each further one doubles
  it, up to 15 minutes; during the wait nothing is checked, even the right password is
  refused (:class:`~facedocket.errors.TooManyAttempts`). A success clears the count. An
  unknown username costs the same hashing time as a known one.

Every sign-in, failed attempt and sign-out is in the audit log (``auth.signed_in``,
``auth.sign_in_failed`` with the username as typed and why, never the password;
``auth.signed_out``).

Example::

    temporary = service.signin.set_password(admin, user_id)      # handed to the person
    first = service.signin.sign_in("officer1", temporary)        # must_change: True
    service.signin.change_password(first.secret, "", "a long passphrase of mine")
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from facedocket.crypto import check_password_policy, hash_password, password_needs_rehash, verify_password
from facedocket.errors import Conflict, InvalidInput, NotFound, TooManyAttempts, Unauthorized
from facedocket.governance.permissions import Actor, require
from facedocket.service.context import SYSTEM, Area, Who
from facedocket.store.queries import accounts as queries
from facedocket.store.tables import User, WebSession

MAX_BACKOFF_S = 900
SEEN_EVERY = timedelta(seconds=30)
"""A session's last use is written at most this often (reads stay cheap)."""
WRONG = "wrong username or password"
MAX_USERNAME = 120
MAX_PASSWORD = 1024


def backoff_seconds(failures: int, free: int, base: int) -> int:
    """Seconds sign-in waits after ``failures`` failures in a row: none within ``free``, then
    ``base`` doubled for each further failure, at most 15 minutes.

    >>> [backoff_seconds(n, free=5, base=30) for n in (4, 5, 6, 7, 12)]
    [0, 30, 60, 120, 900]
    """
    if failures < free:
        return 0
    return int(min(MAX_BACKOFF_S, base * 2 ** min(failures - free, 16)))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _name_hash(username: str) -> str:
    """What the back-off is kept under: the SHA-256 of the username in lower case."""
    return _hash("sign-in:" + username.strip().lower())


def temporary_password() -> str:
    """A random first password that passes the policy: four groups of five letters and digits."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


@dataclass(frozen=True)
class SignedIn:
    """A new session: ``secret`` goes into the cookie and is shown nowhere else."""

    secret: str
    session_id: int
    actor: Actor
    must_change: bool
    expires: datetime


@dataclass(frozen=True)
class WebUser:
    """Who a session stands for: the actor, their agency's name, and whether they must
    choose their password first."""

    actor: Actor
    session_id: int
    agency_name: str
    must_change: bool


class Sessions(Area):
    """Passwords, sign-in, sessions and sign-out (see the module docstring)."""

    def set_password(self, actor: Actor, user_id: int, password: str | None = None) -> str:
        """Set a user's temporary first password (or reset it): ``password`` as given (it must
        pass the policy) or a random one. Returns it, to hand to the person; it works once,
        within ``activation_ttl_hours``. The user's sessions end."""
        require(actor, "user.password")
        with self.ctx.write() as session:
            user = queries.user(session, user_id)
            if user is None or user.agency_id != actor.agency_id:
                raise NotFound(f"no user {user_id} in your agency")
            if not user.active:
                raise Conflict(f"user {user.username} is deactivated; activate them first")
            chosen = temporary_password() if password is None else password
            check_password_policy(chosen, user.username)
            now = self.clock()
            expires = now + timedelta(hours=self.ctx.settings.activation_ttl_hours)
            user.password_hash, user.password_temporary, user.password_expires = hash_password(chosen), True, expires
            queries.attempts(session, _name_hash(user.username), now).blocked_until = None
            ended = queries.end_sessions(session, user.id, now, "password reset")
            details = {"username": user.username, "expires": expires.isoformat(), "sessions_ended": ended}
            self.ctx.audit(session, actor, "user.password_set", "user", user.id, details)
            return chosen

    def sign_in(self, username: str, password: str, client: str = "") -> SignedIn:
        """Open a session for ``username`` with ``password`` (see the module docstring).

        Raises:
            Unauthorized: a wrong username or password (one message for both), a deactivated
                user, an expired temporary password.
            TooManyAttempts: failed sign-ins backed off; nothing is checked until the wait ends.
        """
        name = (username or "").strip()[:MAX_USERNAME]
        secret = (password or "")[:MAX_PASSWORD]
        with self.ctx.write() as session:
            now = self.clock()
            tried = queries.attempts(session, _name_hash(name), now)
            user = queries.user_by_username(session, name, lock=True) if name else None
            if tried.blocked_until is not None and now < tried.blocked_until:
                wait = max(1, int((tried.blocked_until - now).total_seconds() + 0.999))
                self._failed(session, user, name, "backing off after failed attempts", tried.failures)
                refusal: Unauthorized | TooManyAttempts = TooManyAttempts(wait)
            else:
                matched = verify_password(user.password_hash if user else None, secret)
                why = self._refusal(user, matched, now)
                if not why:
                    assert user is not None
                    tried.failures, tried.blocked_until, tried.last = 0, None, now
                    return self._open(session, user, secret, client, now)
                settings = self.ctx.settings
                tried.failures, tried.last = tried.failures + 1, now
                wait = backoff_seconds(tried.failures, settings.sign_in_free_attempts, settings.sign_in_backoff_s)
                tried.blocked_until = now + timedelta(seconds=wait) if wait else None
                self._failed(session, user, name, why, tried.failures, wait)
                refusal = Unauthorized(_shown(why))
        raise refusal

    def _refusal(self, user: User | None, matched: bool, now: datetime) -> str:
        if user is None:
            return "unknown username"
        if user.password_hash is None:
            return "no password set"
        if not matched:
            return "wrong password"
        if not user.active:
            return "user deactivated"
        if user.password_temporary and user.password_expires is not None and user.password_expires <= now:
            return "temporary password expired"
        return ""

    def _failed(self, session: Session, user: User | None, name: str, why: str, failures: int, wait: int = 0) -> None:
        """Record a failed sign-in: the username as typed, why, the failures in a row, the wait
        it starts."""
        details = {"username": name, "why": why, "failures": failures, "backoff_s": wait or None}
        self.ctx.audit(session, SYSTEM, "auth.sign_in_failed", "user", user.id if user else "unknown", details,
                       agency_id=user.agency_id if user else None)  # fmt: skip

    def _open(self, session: Session, user: User, password: str, client: str, now: datetime) -> SignedIn:
        temporary = user.password_temporary
        if temporary:  # it works once: the session may only choose the user's own password
            user.password_hash, user.password_expires = None, None
        elif user.password_hash and password_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        secret = secrets.token_urlsafe(32)
        expires = now + timedelta(hours=self.ctx.settings.session_max_hours)
        row = WebSession(token_hash=_hash(secret), user_id=user.id, created=now, last_seen=now, expires=expires,
                         must_change=temporary, client=client[:200])  # fmt: skip
        session.add(row)
        session.flush()
        actor = self._actor(session, user, temporary)
        self.ctx.audit(session, actor, "auth.signed_in", "user", user.id,
                       {"session_id": row.id, "temporary_password": temporary})  # fmt: skip
        return SignedIn(secret, row.id, actor, temporary, expires)

    def _actor(self, session: Session, user: User, must_change: bool) -> Actor:
        agency = queries.agency(session, user.agency_id)
        return Actor(user.id, user.username, user.agency_id, user.role, bool(agency and agency.is_operator),
                     must_change=must_change)  # fmt: skip

    def current(self, secret: str | None, active: bool = True) -> WebUser:
        """Who the session with ``secret`` stands for; Unauthorized when there is none, or it
        ended (sign-out, idle, too old, deactivated, password changed). ``active=False`` for
        what a page asks by itself (a live queue's polling): it does not count as the
        person's activity, so an unattended screen still reaches the idle timeout."""
        if not secret or len(secret) > 200:
            raise Unauthorized("not signed in")
        with self.ctx.read() as session:
            row = queries.web_session(session, _hash(secret))
            user = queries.user(session, row.user_id) if row is not None else None
            why = self._ended(row, user)
            if not why and row is not None and user is not None:
                agency = queries.agency(session, user.agency_id)
                seen = self.clock() - row.last_seen > SEEN_EVERY
                web_user = WebUser(self._actor(session, user, row.must_change), row.id, agency.name if agency else "",
                                   row.must_change)  # fmt: skip
        if why:
            if row is not None and row.ended is None:
                self._end(row.id, why)
            raise Unauthorized("your session has ended; sign in again" if row else "not signed in")
        if seen and active:
            self._touch(web_user.session_id)
        return web_user

    def _ended(self, row: WebSession | None, user: User | None) -> str:
        now = self.clock()
        if row is None or user is None:
            return "unknown"
        if row.ended is not None:
            return row.ended_why or "ended"
        if not user.active:
            return "user deactivated"
        if now - row.last_seen > timedelta(minutes=self.ctx.settings.session_idle_minutes):
            return "idle timeout"
        if now >= row.expires:
            return "session too old"
        return ""

    def _touch(self, session_id: int) -> None:
        with self.ctx.write() as session:
            row = session.get(WebSession, session_id)
            if row is not None and row.ended is None:
                row.last_seen = self.clock()

    def _end(self, session_id: int, why: str) -> None:
        with self.ctx.write() as session:
            row = session.get(WebSession, session_id)
            if row is None or row.ended is not None:
                return
            row.ended, row.ended_why = self.clock(), why
            user = queries.user(session, row.user_id)
            who = Who(user.id, user.username, user.agency_id) if user else SYSTEM
            self.ctx.audit(session, who, "auth.signed_out", "user", row.user_id, {"session_id": row.id, "why": why},
                           agency_id=user.agency_id if user else None)  # fmt: skip

    def sign_out(self, secret: str | None) -> None:
        """End the session with ``secret`` (nothing happens for an unknown or ended one)."""
        if not secret or len(secret) > 200:
            return
        with self.ctx.read() as session:
            row = queries.web_session(session, _hash(secret))
        if row is not None and row.ended is None:
            self._end(row.id, "signed out")

    def change_password(self, secret: str, current: str, new: str) -> None:
        """Choose a new password in the session with ``secret``: after a temporary password,
        without giving it again; otherwise ``current`` must be right. The user's other
        sessions end; this one may do everything the role allows from now on."""
        web_user = self.current(secret)
        with self.ctx.write() as session:
            row = session.get(WebSession, web_user.session_id)
            user = queries.user(session, web_user.actor.user_id)
            assert row is not None and user is not None
            if not row.must_change and not verify_password(user.password_hash, (current or "")[:MAX_PASSWORD]):
                raise InvalidInput("the current password is wrong")
            if not row.must_change and current == new:
                raise InvalidInput("choose a password other than your current one")
            check_password_policy(new, user.username)
            now = self.clock()
            user.password_hash, user.password_temporary, user.password_expires = hash_password(new), False, None
            user.password_changed = now
            row.must_change = False
            ended = queries.end_sessions(session, user.id, now, "password changed", keep=row.id)
            self.ctx.audit(session, web_user.actor, "user.password_changed", "user", user.id,
                           {"first": web_user.must_change, "sessions_ended": ended})  # fmt: skip


def _shown(why: str) -> str:
    """What the person signing in is told: the same words whatever was wrong, except for a
    temporary password that expired (said only after the right password was given)."""
    if why == "temporary password expired":
        return "your temporary password has expired; ask an admin for a new one"
    return WRONG
