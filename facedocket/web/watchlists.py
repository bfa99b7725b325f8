"""Watchlists: the agency's lists, one list's entries (each with its reason code, incident
reference, who authorised it, evidence notes and expiry), adding an entry with a photo,
approving another person's entry, removing one. Entries whose expiry passed are shown as
gone from the list (the service says so: ``EntryInfo.standing``). A refusal by the policy
lists each failed rule in plain words."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from facedocket.errors import FaceDocketError, InvalidInput, PolicyDenied
from facedocket.governance.permissions import permits
from facedocket.service import EntryDraft, EntryInfo, WebUser
from facedocket.vocab import WATCHLIST_PURPOSE
from facedocket.web import forms
from facedocket.web.pages import blocking, page
from facedocket.web.refusals import ENTRY_WORDS, failures
from facedocket.web.security import checked_form, current_user, service_of

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(current_user)]

ON_THE_LIST = ("pending", "active")
ENTRY_FIELDS = ("reference", "reason", "incident_reference", "authorised_by", "authorised_at", "evidence_notes",
                "expires")  # fmt: skip
ENTRIES_SHOWN = 1000


def day(form: FormData, name: str, what: str) -> datetime | None:
    """An optional date (YYYY-MM-DD) as the start of that day in UTC."""
    value = forms.text(form, name).strip()
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time.min, UTC)
    except ValueError:
        raise InvalidInput(f"{what} is a date: YYYY-MM-DD") from None


# --- the lists --------------------------------------------------------------------------------


def _lists_page(request: Request, user: WebUser, error: str = "", status: int = 200) -> HTMLResponse:
    found = service_of(request).watchlists.list_watchlists(user.actor)
    return page(request, "watchlists.html", status=status, title="Watchlists", watchlists=found, error=error)


@router.get("/watchlists")
def watchlists(request: Request, user: User) -> HTMLResponse:
    return _lists_page(request, user)


@router.post("/watchlists")
async def create_watchlist(request: Request, user: User) -> Response:
    form = await checked_form(request)
    try:
        created = await blocking(service_of(request).watchlists.create_watchlist, user.actor,
                                 forms.text(form, "name"), forms.text(form, "source"))  # fmt: skip
    except FaceDocketError as error:
        return await blocking(_lists_page, request, user, str(error), error.status)
    return RedirectResponse(f"/watchlists/{created.id}", status_code=303)


# --- one list ---------------------------------------------------------------------------------


def _entries(request: Request, user: WebUser, gallery_id: int) -> dict[str, Any]:
    service = service_of(request)
    gallery = service.galleries.get_gallery(user.actor, gallery_id)
    if gallery.purpose != WATCHLIST_PURPOSE:
        raise InvalidInput(f"gallery {gallery_id} is not a watchlist; see Galleries")
    entries = service.watchlists.list_entries(user.actor, gallery_id, limit=ENTRIES_SHOWN)
    subjects = [e.subject_id for e in entries if e.subject_id is not None]
    photos = service.photos.of_subjects(user.actor, subjects) if subjects and permits(user.actor, "photo.read") else {}
    return {"gallery": gallery, "photos": {s: {p.kind: p for p in reversed(found)} for s, found in photos.items()},
            "listed": [e for e in entries if e.standing in ON_THE_LIST],
            "gone": sorted((e for e in entries if e.standing not in ON_THE_LIST),
                           key=lambda e: e.ended or e.expires, reverse=True)}  # fmt: skip


def _list_page(request: Request, user: WebUser, gallery_id: int, status: int = 200, **more: Any) -> HTMLResponse:
    context = {"values": {}, "error": "", "failed": [], "done": "", **_entries(request, user, gallery_id), **more}
    return page(request, "watchlist.html", status=status, title=f"Watchlist {context['gallery'].name}", **context)


@router.get("/watchlists/{gallery_id}")
def watchlist(request: Request, gallery_id: int, user: User, done: str = "") -> HTMLResponse:
    return _list_page(request, user, gallery_id, done=done)


@router.post("/watchlists/{gallery_id}/entries")
async def add_entry(request: Request, gallery_id: int, user: User) -> Response:
    form = await checked_form(request)
    service = service_of(request)
    values = {name: forms.text(form, name) for name in ENTRY_FIELDS}
    try:
        photo = await forms.upload(form, "photo", service.settings.max_upload_bytes, "photo", required=False)
        draft = EntryDraft(values["reference"], values["reason"], values["incident_reference"],
                           values["authorised_by"], values["evidence_notes"],
                           day(form, "authorised_at", "the date it was authorised"),
                           day(form, "expires", "the expiry"))  # fmt: skip
        entry = await blocking(service.watchlists.add_entry, user.actor, gallery_id, draft, photo)
    except PolicyDenied as refused:
        return await blocking(_list_page, request, user, gallery_id, 403, values=values, error=str(refused),
                              failed=failures(refused, ENTRY_WORDS))  # fmt: skip
    except FaceDocketError as error:
        return await blocking(_list_page, request, user, gallery_id, error.status, values=values, error=str(error))
    return RedirectResponse(f"/watchlists/{gallery_id}?done=added-{entry.id}", status_code=303)


async def _entry_action(request: Request, user: WebUser, entry_id: int, action: str) -> Response:
    form = await checked_form(request)
    service = service_of(request)
    entry: EntryInfo = await blocking(service.watchlists.get_entry, user.actor, entry_id)
    try:
        if action == "approved":
            await blocking(service.watchlists.approve_entry, user.actor, entry_id)
        else:
            await blocking(service.watchlists.remove_entry, user.actor, entry_id, forms.text(form, "reason"))
    except FaceDocketError as error:
        return await blocking(_list_page, request, user, entry.gallery_id, error.status, error=str(error))
    return RedirectResponse(f"/watchlists/{entry.gallery_id}?done={action}-{entry_id}", status_code=303)


@router.post("/watchlist-entries/{entry_id}/approve")
async def approve_entry(request: Request, entry_id: int, user: User) -> Response:
    return await _entry_action(request, user, entry_id, "approved")


@router.post("/watchlist-entries/{entry_id}/remove")
async def remove_entry(request: Request, entry_id: int, user: User) -> Response:
    return await _entry_action(request, user, entry_id, "removed")


__all__ = ["router"]
