"""Agencies, users, tokens and each agency's active policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facedocket.store.tables import Agency, ApiToken, User


def any_agency(session: Session) -> bool:
    return session.scalar(select(Agency.id).limit(1)) is not None


def agency(session: Session, agency_id: int) -> Agency | None:
    return session.get(Agency, agency_id)


def lock_agency(session: Session, agency_id: int) -> Agency | None:
    return session.get(Agency, agency_id, with_for_update=True)


def agencies(session: Session, only: int | None = None) -> list[Agency]:
    query = select(Agency).order_by(Agency.id)
    if only is not None:
        query = query.where(Agency.id == only)
    return list(session.scalars(query))


def agency_names(session: Session) -> dict[int, str]:
    return {int(i): str(n) for i, n in session.execute(select(Agency.id, Agency.name))}


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
    return session.get(ApiToken, token_id, with_for_update=True)


def revoke_tokens(session: Session, user_id: int, moment: datetime, kind: str | None = None) -> int:
    """Revoke the user's live tokens (of one kind, when given); returns how many."""
    query = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(None))
    if kind is not None:
        query = query.where(ApiToken.kind == kind)
    return int(session.execute(query.values(revoked=moment)).rowcount or 0)  # type: ignore[attr-defined]
