"""Agencies, users, tokens and each agency's active policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facedocket.store.locks import NO_KEY_UPDATE
from facedocket.store.tables import Agency, ApiToken, SignInAttempts, User, WebSession


def any_agency(session: Session) -> bool:
    return session.scalar(select(Agency.id).limit(1)) is not None


def agency(session: Session, agency_id: int) -> Agency | None:
    return session.get(Agency, agency_id)


def lock_agency(session: Session, agency_id: int) -> Agency | None:
    return session.get(Agency, agency_id, with_for_update=NO_KEY_UPDATE)


def agencies(session: Session, only: int | None = None) -> list[Agency]:
    query = select(Agency).order_by(Agency.id)
    if only is not None:
        query = query.where(Agency.id == only)
    return list(session.scalars(query))


def agency_names(session: Session, ids: set[int] | None = None) -> dict[int, str]:
    """agency id -> name (of the given ids, or all)."""
    query = select(Agency.id, Agency.name)
    if ids is not None:
        query = query.where(Agency.id.in_(sorted(ids)))
    return {int(i): str(n) for i, n in session.execute(query)}


def user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def users(session: Session, agency_id: int) -> list[User]:
    return list(session.scalars(select(User).where(User.agency_id == agency_id).order_by(User.id)))


def usernames(session: Session, ids: set[int] | None = None) -> dict[int, str]:
    """user id -> username (of the given ids, or all)."""
    query = select(User.id, User.username)
    if ids is not None:
        query = query.where(User.id.in_(sorted(ids)))
    return {int(i): str(n) for i, n in session.execute(query)}


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


def token(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def lock_token(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id, with_for_update=NO_KEY_UPDATE)


def revoke_tokens(session: Session, user_id: int, moment: datetime, kind: str | None = None) -> int:
    """Revoke the user's live tokens (of one kind, when given); returns how many."""
    query = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(None))
    if kind is not None:
        query = query.where(ApiToken.kind == kind)
    return int(session.execute(query.values(revoked=moment)).rowcount or 0)  # type: ignore[attr-defined]


def user_by_username(session: Session, username: str, lock: bool = False) -> User | None:
    query = select(User).where(User.username == username)
    if lock:
        query = query.with_for_update(key_share=True)
    return session.scalar(query)


def web_session(session: Session, token_hash: str) -> WebSession | None:
    return session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))


def end_sessions(session: Session, user_id: int, moment: datetime, why: str, keep: int | None = None) -> int:
    """End the user's open web sessions (but ``keep``); returns how many."""
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.ended.is_(None))
    if keep is not None:
        query = query.where(WebSession.id != keep)
    return int(session.execute(query.values(ended=moment, ended_why=why)).rowcount or 0)  # type: ignore[attr-defined]


def attempts(session: Session, name_sha256: str, moment: datetime) -> SignInAttempts:
    """The failed-sign-in record of a username (made, empty, when there is none), locked."""
    row = session.get(SignInAttempts, name_sha256, with_for_update=NO_KEY_UPDATE)
    if row is None:
        row = SignInAttempts(name_sha256=name_sha256, failures=0, last=moment)
        session.add(row)
    return row
