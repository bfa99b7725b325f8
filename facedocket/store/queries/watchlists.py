"""Watchlist entries: what the watchlist area and the deployments read and write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facedocket.store.locks import NO_KEY_UPDATE
from facedocket.store.tables import Gallery, Subject, TemplateRow, WatchlistEntry

LIVE = ("pending", "active")


def entry(session: Session, entry_id: int) -> WatchlistEntry | None:
    return session.get(WatchlistEntry, entry_id)


def lock_entry(session: Session, entry_id: int) -> WatchlistEntry | None:
    """The entry, locked for the transaction (FOR NO KEY UPDATE on PostgreSQL)."""
    return session.get(WatchlistEntry, entry_id, with_for_update=NO_KEY_UPDATE, populate_existing=True)


def live_entry_of(session: Session, subject_id: int) -> WatchlistEntry | None:
    """The subject's pending or active entry, if any."""
    return session.scalar(
        select(WatchlistEntry).where(WatchlistEntry.subject_id == subject_id, WatchlistEntry.status.in_(LIVE))
    )


def entries(session: Session, gallery_id: int, status: str | None, offset: int, limit: int) -> list[WatchlistEntry]:
    query = select(WatchlistEntry).where(WatchlistEntry.gallery_id == gallery_id)
    if status is not None:
        query = query.where(WatchlistEntry.status == status)
    return list(session.scalars(query.order_by(WatchlistEntry.id).offset(offset).limit(limit)))


def references(session: Session, subject_ids: Iterable[int | None]) -> dict[int, str]:
    ids = sorted({i for i in subject_ids if i is not None})
    if not ids:
        return {}
    return {
        int(i): str(r) for i, r in session.execute(select(Subject.id, Subject.reference).where(Subject.id.in_(ids)))
    }


def template_counts(session: Session, subject_ids: Iterable[int | None]) -> dict[int, int]:
    ids = sorted({i for i in subject_ids if i is not None})
    if not ids:
        return {}
    rows = session.execute(
        select(TemplateRow.subject_id, func.count())
        .where(TemplateRow.subject_id.in_(ids))
        .group_by(TemplateRow.subject_id)
    )
    return {int(s): int(n) for s, n in rows}


def watchlists(session: Session, agency_id: int, purpose: str) -> list[Gallery]:
    query = select(Gallery).where(Gallery.agency_id == agency_id, Gallery.purpose == purpose).order_by(Gallery.id)
    return list(session.scalars(query))


def entry_counts(session: Session, gallery_ids: Iterable[int]) -> dict[tuple[int, str], int]:
    """(gallery id, status) -> number of entries."""
    ids = sorted(set(gallery_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(WatchlistEntry.gallery_id, WatchlistEntry.status, func.count())
        .where(WatchlistEntry.gallery_id.in_(ids))
        .group_by(WatchlistEntry.gallery_id, WatchlistEntry.status)
    )
    return {(int(g), str(s)): int(n) for g, s, n in rows}


def matchable(session: Session, gallery_ids: Iterable[int], now: datetime) -> list[tuple[int, int, int, bytes, str]]:
    """(template id, entry id, gallery id, vector bytes, model id) of every template of an
    active, unexpired entry of the galleries: what a deployment matches against."""
    ids = sorted(set(gallery_ids))
    if not ids:
        return []
    rows = session.execute(
        select(TemplateRow.id, WatchlistEntry.id, WatchlistEntry.gallery_id, TemplateRow.vector, TemplateRow.model_id)
        .join(WatchlistEntry, WatchlistEntry.subject_id == TemplateRow.subject_id)
        .where(
            WatchlistEntry.gallery_id.in_(ids),
            WatchlistEntry.status == "active",
            WatchlistEntry.expires > now,
        )
        .order_by(TemplateRow.id)
    )
    return [(int(t), int(e), int(g), bytes(v), str(m)) for t, e, g, v, m in rows]


def active_count(session: Session, gallery_ids: Iterable[int], now: datetime) -> int:
    """Active, unexpired entries of the galleries that hold at least one template."""
    ids = sorted(set(gallery_ids))
    if not ids:
        return 0
    query = (
        select(func.count(func.distinct(WatchlistEntry.id)))
        .join(TemplateRow, TemplateRow.subject_id == WatchlistEntry.subject_id)
        .where(WatchlistEntry.gallery_id.in_(ids), WatchlistEntry.status == "active", WatchlistEntry.expires > now)
    )
    return int(session.scalar(query) or 0)


def due_entries(session: Session, agency_id: int, now: datetime) -> list[WatchlistEntry]:
    """Pending or active entries of the agency whose expiry has passed."""
    query = select(WatchlistEntry).where(
        WatchlistEntry.agency_id == agency_id, WatchlistEntry.status.in_(LIVE), WatchlistEntry.expires <= now
    )
    return list(session.scalars(query.order_by(WatchlistEntry.id).with_for_update(key_share=True)))


__all__ = [
    "LIVE",
    "active_count",
    "due_entries",
    "entries",
    "entry",
    "entry_counts",
    "live_entry_of",
    "lock_entry",
    "matchable",
    "references",
    "template_counts",
    "watchlists",
]
