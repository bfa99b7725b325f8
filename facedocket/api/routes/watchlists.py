"""Watchlists: create one (a gallery of purpose `watchlist`), add entries (with a photo, a
reason code, the incident, who authorised it, an expiry), approve, remove, list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from facedocket.api.deps import ActorDep, ServiceDep, SettingsDep
from facedocket.api.schemas import GalleryPublic, error_responses
from facedocket.api.uploads import read_upload
from facedocket.api.video_schemas import (
    EntriesPublic,
    EntryPublic,
    EntryRemove,
    WatchlistCreate,
    WatchlistPublic,
    WatchlistsPublic,
)
from facedocket.service import EntryDraft

router = APIRouter(tags=["watchlists"], responses=error_responses(401, 403, 404, 422))


@router.post("/watchlists", status_code=201, responses=error_responses(400, 409))
def create_watchlist(body: WatchlistCreate, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """Create an empty watchlist: a gallery of purpose `watchlist` (admins and supervisors)."""
    return GalleryPublic.model_validate(service.watchlists.create_watchlist(actor, body.name, body.source))


@router.get("/watchlists")
def list_watchlists(actor: ActorDep, service: ServiceDep) -> WatchlistsPublic:
    """Your agency's watchlists, with their entries counted by state."""
    found = [
        WatchlistPublic(gallery=GalleryPublic.model_validate(w.gallery), entries=w.entries)
        for w in service.watchlists.list_watchlists(actor)
    ]
    return WatchlistsPublic(data=found, count=len(found))


@router.get("/watchlists/{gallery_id}/entries")
def list_entries(
    gallery_id: int,
    actor: ActorDep,
    service: ServiceDep,
    status: Annotated[str | None, Query(description="Only entries in this state.")] = None,
    offset: Annotated[int, Query(ge=0, description="Skip this many entries.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many entries.")] = 100,
) -> EntriesPublic:
    """A watchlist's entries, oldest first."""
    entries = [
        EntryPublic.model_validate(e) for e in service.watchlists.list_entries(actor, gallery_id, status, offset, limit)
    ]
    return EntriesPublic(data=entries, count=len(entries))


@router.post("/watchlists/{gallery_id}/entries", status_code=201, responses=error_responses(400, 409, 413))
def add_entry(
    gallery_id: int,
    actor: ActorDep,
    service: ServiceDep,
    settings: SettingsDep,
    reference: Annotated[str, Form(description="The person's reference in the watchlist (new or existing).")],
    reason: Annotated[str, Form(description="The reason code (one the policy allows).")],
    incident_reference: Annotated[str, Form(description="The incident report the entry rests on.")],
    authorised_by: Annotated[str, Form(description="Who authorised the entry (name and role).")],
    evidence_notes: Annotated[str, Form(description="Notes on the evidence.")] = "",
    authorised_at: Annotated[datetime | None, Form(description="When it was authorised (ISO 8601; now).")] = None,
    expires: Annotated[
        datetime | None, Form(description="When it leaves the list (ISO 8601); default the policy's longest period.")
    ] = None,
    photo: Annotated[UploadFile | None, File(description="A photo of the person (one face).")] = None,
) -> EntryPublic:
    """Put a person on a watchlist (admins, supervisors, examiners). The policy checks the
    entry (reason code, expiry within its period, watchlists allowed at all); a refusal is a
    403 naming every failed rule. Where the policy asks for it the entry is `pending` until a
    second person approves it."""
    data = read_upload(photo, settings.max_upload_bytes, "photo") if photo is not None else None
    draft = EntryDraft(reference, reason, incident_reference, authorised_by, evidence_notes, authorised_at, expires)
    return EntryPublic.model_validate(service.watchlists.add_entry(actor, gallery_id, draft, data))


@router.get("/watchlist-entries/{entry_id}")
def get_entry(entry_id: int, actor: ActorDep, service: ServiceDep) -> EntryPublic:
    """One watchlist entry of your agency."""
    return EntryPublic.model_validate(service.watchlists.get_entry(actor, entry_id))


@router.post("/watchlist-entries/{entry_id}/approve", responses=error_responses(409))
def approve_entry(entry_id: int, actor: ActorDep, service: ServiceDep) -> EntryPublic:
    """A second person's approval (a supervisor who did not add it): the entry is matched from now on."""
    return EntryPublic.model_validate(service.watchlists.approve_entry(actor, entry_id))


@router.post("/watchlist-entries/{entry_id}/remove", responses=error_responses(409))
def remove_entry(entry_id: int, body: EntryRemove, actor: ActorDep, service: ServiceDep) -> EntryPublic:
    """Take an entry off the list now (admins, supervisors): its templates and person record are deleted."""
    return EntryPublic.model_validate(service.watchlists.remove_entry(actor, entry_id, body.reason))
