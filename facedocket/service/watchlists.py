"""Watchlists: galleries of purpose ``watchlist`` whose subjects are matched on video only
while they hold a live entry.

An entry records why the person is on the list (a reason code the policy allows), the
incident it rests on, who authorised it and when, evidence notes, and when it expires (at
the latest the policy's ``retention.watchlist_entries`` days after it is added). Where the
policy asks for it (``watchlists.entry_approval``) an entry waits for a second person, a
supervisor other than whoever added it, before it is matched. An entry whose expiry passed
leaves the list at once (deployments match only unexpired active entries); the retention run
marks it expired and deletes its templates and subject record. Removing an entry deletes
them at once. Where the watchlist keeps photos (its ``keep_photos`` setting, unless the
policy forbids it) the entry's photo and aligned face crop are kept encrypted, as enrolment
keeps them, for the people who check its alerts; they go with the subject record. Adding,
approving, refusing, expiring and removing are audited.

Example::

    entry = service.watchlists.add_entry(examiner, watchlist.id, EntryDraft(
        "incident 2026-113", "theft-with-violence", "INC-2026-113", "Store manager A. Jones"), photo)
    service.watchlists.approve_entry(supervisor, entry.id)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from facedocket.errors import Conflict, Forbidden, InvalidInput, NoFaceFound, NotFound, PolicyDenied
from facedocket.governance.permissions import Actor, require
from facedocket.governance.retention import photos_kept
from facedocket.governance.watchlists import EntryFacts, check_entry
from facedocket.service.context import SYSTEM, Area, Context
from facedocket.service.enrolment import keep_photos
from facedocket.service.galleries import Galleries, GalleryInfo, owned_gallery
from facedocket.service.indexes import bump
from facedocket.service.inputs import text
from facedocket.service.policy import ActivePolicy, policy_of
from facedocket.store.queries import accounts as account_queries
from facedocket.store.queries import enrolment as enrolment_queries
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.queries import oversight as oversight_queries
from facedocket.store.queries import watchlists as queries
from facedocket.store.tables import Gallery, Subject, TemplateRow, WatchlistEntry
from facedocket.vision.models import WATCHLIST_MODEL_ID
from facedocket.vision.pipeline import FoundFace
from facedocket.vocab import ENTRY_STATES, WATCHLIST_PURPOSE

DEFAULT_ENTRY_DAYS = 365
"""How long an entry lasts when neither the caller nor the policy says."""


@dataclass(frozen=True)
class EntryDraft:
    """A new watchlist entry: the subject's reference, the reason code, the incident it rests
    on, who authorised it (a name and role, e.g. "Store manager A. Jones") and when (default
    now), evidence notes, and its expiry (default: the policy's longest period)."""

    reference: str
    reason: str
    incident_reference: str
    authorised_by: str
    evidence_notes: str = ""
    authorised_at: datetime | None = None
    expires: datetime | None = None


@dataclass(frozen=True)
class EntryInfo:
    id: int
    gallery_id: int
    subject_id: int | None
    reference: str | None
    reason: str
    incident_reference: str
    evidence_notes: str
    authorised_by: str
    authorised_at: datetime
    added_by: int
    added: datetime
    expires: datetime
    status: str
    approved_by: int | None
    approved: datetime | None
    ended: datetime | None
    end_reason: str
    templates: int
    standing: str = ""
    """What the entry is now: its status, except that a pending or active entry whose expiry
    passed is ``expired`` at once (deployments no longer match it), before the retention run
    marks it so and deletes its template and photos."""
    added_by_name: str = ""
    approved_by_name: str = ""


@dataclass(frozen=True)
class WatchlistInfo:
    """A watchlist gallery with its entries counted by state."""

    gallery: GalleryInfo
    entries: dict[str, int] = field(default_factory=dict)


def entry_info(entry: WatchlistEntry, reference: str | None, templates: int, now: datetime | None = None,
               names: dict[int, str] | None = None) -> EntryInfo:  # fmt: skip
    names = names or {}
    lapsed = now is not None and entry.status in queries.LIVE and entry.expires <= now
    return EntryInfo(
        entry.id, entry.gallery_id, entry.subject_id, reference, entry.reason, entry.incident_reference,
        entry.evidence_notes, entry.authorised_by, entry.authorised_at, entry.added_by, entry.added, entry.expires,
        entry.status, entry.approved_by, entry.approved, entry.ended, entry.end_reason, templates,
        "expired" if lapsed else entry.status, names.get(entry.added_by, ""), names.get(entry.approved_by or -1, ""),
    )  # fmt: skip


def end_entry(ctx: Context, session: Session, entry: WatchlistEntry, status: str, moment: datetime,
              who: int | None, reason: str) -> list[int]:  # fmt: skip
    """End ``entry`` (expired or removed) and delete its subject's templates and record in the
    caller's transaction; returns the template ids deleted (for the index)."""
    entry.status, entry.ended, entry.ended_by, entry.end_reason = status, moment, who, reason
    removed: list[int] = []
    if entry.subject_id is not None:
        removed, _counts = oversight_queries.erase_subject_rows(session, entry.subject_id)
        entry.subject_id = None
    return removed


def expire_due(ctx: Context, session: Session, agency_id: int, now: datetime, held: set[int]) -> tuple[
        list[int], list[int], dict[int, list[int]]]:  # fmt: skip
    """In the retention run's transaction: end the agency's entries whose expiry passed (their
    templates and subject records deleted). Returns (expired entry ids, entry ids a legal hold
    on the subject keeps, template ids deleted by gallery)."""
    expired: list[int] = []
    kept: list[int] = []
    touched: dict[int, list[int]] = {}
    for entry in queries.due_entries(session, agency_id, now):
        if entry.subject_id is not None and entry.subject_id in held:
            kept.append(entry.id)
            continue
        removed = end_entry(ctx, session, entry, "expired", now, None, "its expiry passed")
        touched.setdefault(entry.gallery_id, []).extend(removed)
        expired.append(entry.id)
        ctx.audit(session, SYSTEM, "watchlist.entry_expired", "watchlist_entry", entry.id,
                  {"gallery_id": entry.gallery_id, "expires": entry.expires.isoformat(), "templates": len(removed)},
                  agency_id=agency_id)  # fmt: skip
    return expired, kept, touched


class Watchlists(Area):
    """Watchlists and their entries (see the module docstring)."""

    def __init__(self, ctx: Context, galleries: Galleries) -> None:
        super().__init__(ctx)
        self.galleries = galleries

    def create_watchlist(self, actor: Actor, name: str, source: str) -> GalleryInfo:
        """A new, empty gallery of purpose ``watchlist`` (``source``: where its photos come
        from, e.g. "incident reports of the Main St store"), of the watchlist model
        (:data:`~facedocket.vision.models.WATCHLIST_MODEL_ID`)."""
        return self.galleries.create_gallery(actor, name, source, WATCHLIST_PURPOSE)

    def list_watchlists(self, actor: Actor) -> list[WatchlistInfo]:
        require(actor, "watchlist.read")
        with self.ctx.read() as session:
            galleries = queries.watchlists(session, actor.agency_id, WATCHLIST_PURPOSE)
            counts = queries.entry_counts(session, [g.id for g in galleries])
        infos = [self.galleries.get_gallery(actor, g.id) for g in galleries]
        return [WatchlistInfo(g, {s: counts.get((g.id, s), 0) for s in ENTRY_STATES}) for g in infos]

    def list_entries(self, actor: Actor, gallery_id: int, status: str | None = None, offset: int = 0,
                     limit: int = 100) -> list[EntryInfo]:  # fmt: skip
        """A watchlist's entries (one state, or all), oldest first."""
        require(actor, "watchlist.read")
        if status is not None and status not in ENTRY_STATES:
            raise InvalidInput(f"an entry's state is one of: {', '.join(ENTRY_STATES)}")
        with self.ctx.read() as session:
            self._watchlist(session, actor, gallery_id)
            rows = queries.entries(session, gallery_id, status, max(0, offset), max(1, min(limit, 1000)))
            return self._infos(session, rows)

    def get_entry(self, actor: Actor, entry_id: int) -> EntryInfo:
        require(actor, "watchlist.read")
        with self.ctx.read() as session:
            return self._infos(session, [self._entry(session, actor, entry_id)])[0]

    # --- add, approve, remove -----------------------------------------------------------

    def add_entry(self, actor: Actor, gallery_id: int, draft: EntryDraft, photo: bytes | None = None) -> EntryInfo:
        """Put a person on a watchlist: with ``photo`` their template is made from it (a new
        subject, or another photo of an existing one); without, the subject ``reference``
        must already hold a template. The policy checks the entry first; a refusal is recorded
        and raised (PolicyDenied, every failed rule)."""
        require(actor, "watchlist.add")
        clean = self._clean(draft)
        face, size = self._face(photo) if photo is not None else (None, (0, 0))
        refused: list[tuple[str, str]] = []
        with self.ctx.write() as session:
            gallery = self._watchlist(session, actor, gallery_id)
            now = self.clock()
            active = policy_of(session, actor.agency_id)
            period = active.profile.retention.watchlist_entries if active else None
            expires = clean.expires or now + timedelta(days=period if period else DEFAULT_ENTRY_DAYS)
            if expires <= now:
                raise InvalidInput("an entry's expiry must be in the future")
            facts = EntryFacts(clean.reason, gallery.purpose, (expires - now).total_seconds() / 86400)
            refused = check_entry(active.profile if active else None, facts)
            if refused:
                self.ctx.audit(session, actor, "watchlist.entry_refused", "gallery", gallery_id,
                               {"failed": [r for r, _ in refused], "why": [w for _, w in refused],
                                "reason": clean.reason})  # fmt: skip
            else:
                entry, added, template = self._write_entry(session, actor, gallery_id, clean, face, expires, now)
                kept = self._keep(session, actor, active, gallery, template, face, photo, size)
                approval = active is not None and active.profile.watchlists.entry_approval
                entry.status = "pending" if approval else "active"
                entry.policy_name, entry.policy_sha256 = (active.profile.name, active.sha256) if active else ("", "")
                session.flush()
                generation = bump(session, gallery_id) if added else None
                self.ctx.audit(session, actor, "watchlist.entry_added", "watchlist_entry", entry.id,
                               {"gallery_id": gallery_id, "subject_id": entry.subject_id, "reason": entry.reason,
                                "incident_reference": entry.incident_reference, "authorised_by": entry.authorised_by,
                                "expires": expires.isoformat(), "status": entry.status,
                                "template_ids": [t for t, _ in added], "photos_kept": kept})  # fmt: skip
                info = self._infos(session, [entry])[0]
        if refused:
            raise PolicyDenied(refused)
        if generation is not None:
            ids = np.array([t for t, _ in added], dtype=np.int64)
            self.ctx.indexes.applied(gallery_id, generation, added=(ids, np.stack([v for _, v in added])))
        return info

    def approve_entry(self, actor: Actor, entry_id: int) -> EntryInfo:
        """A second person's approval: the entry is matched from now on. Whoever added the
        entry cannot approve it."""
        require(actor, "watchlist.approve")
        with self.ctx.write() as session:
            entry = self._entry(session, actor, entry_id, lock=True)
            if entry.status != "pending":
                raise Conflict(f"entry {entry_id} is {entry.status}; only a pending entry is approved")
            if entry.added_by == actor.user_id:
                raise Forbidden("you added this entry; a second person approves it")
            if entry.expires <= self.clock():
                raise Conflict(f"entry {entry_id} has expired; add a new entry if it is still justified")
            entry.status, entry.approved_by, entry.approved = "active", actor.user_id, self.clock()
            self.ctx.audit(session, actor, "watchlist.entry_approved", "watchlist_entry", entry.id,
                           {"gallery_id": entry.gallery_id, "added_by": entry.added_by})  # fmt: skip
            return self._infos(session, [entry])[0]

    def remove_entry(self, actor: Actor, entry_id: int, reason: str) -> EntryInfo:
        """Take an entry off the list now; its templates and subject record are deleted."""
        require(actor, "watchlist.remove")
        reason = text(reason, "reason", required=True)
        with self.ctx.write() as session:
            entry = self._entry(session, actor, entry_id, lock=True)
            if entry.status not in queries.LIVE:
                raise Conflict(f"entry {entry_id} is {entry.status} already")
            if entry.subject_id is not None and entry.subject_id in oversight_queries.held(session, "subject"):
                raise Conflict(f"entry {entry_id}'s subject is under a legal hold; release it before removing")
            removed = end_entry(self.ctx, session, entry, "removed", self.clock(), actor.user_id, reason)
            generation = bump(session, entry.gallery_id)
            self.ctx.audit(session, actor, "watchlist.entry_removed", "watchlist_entry", entry.id,
                           {"gallery_id": entry.gallery_id, "reason": reason, "templates": len(removed)})  # fmt: skip
            info = self._infos(session, [entry])[0]
        self.ctx.indexes.applied(entry.gallery_id, generation, removed=np.array(removed, dtype=np.int64))
        self.ctx.indexes.scrub(entry.gallery_id)
        return info

    # --- helpers ------------------------------------------------------------------------

    def _clean(self, draft: EntryDraft) -> EntryDraft:
        return EntryDraft(
            text(draft.reference, "subject reference", required=True),
            text(draft.reason, "reason", required=True),
            text(draft.incident_reference, "incident reference", required=True),
            text(draft.authorised_by, "authorised by", required=True),
            text(draft.evidence_notes, "evidence notes"),
            draft.authorised_at,
            draft.expires,
        )

    def _keep(self, session: Session, actor: Actor, active: ActivePolicy | None, gallery: Gallery,
              template: TemplateRow | None, face: FoundFace | None, photo: bytes | None,
              size: tuple[int, int]) -> int:  # fmt: skip
        """Keep the entry's photo and aligned face crop (encrypted) for the people who check its
        alerts, when the watchlist keeps photos and the policy allows it; how many files."""
        if template is None or face is None or photo is None:
            return 0
        if not photos_kept(active.profile if active else None, gallery.keep_photos):
            return 0
        return keep_photos(self.ctx.files, session, actor.agency_id, template, face, (photo, size))

    def _face(self, photo: bytes) -> tuple[FoundFace, tuple[int, int]]:
        """The face of an entry's photo (the largest), made into a template, and the photo's
        decoded size."""
        pipeline = self.ctx.pipeline.for_model(WATCHLIST_MODEL_ID)
        result = next(iter(pipeline.run_many([("watchlist photo", photo)], batch_size=1)))
        if result.invalid:
            raise InvalidInput(result.error)
        best = result.best
        if best is None:
            raise NoFaceFound("no face found in the entry's photo; give a photo that shows the person's face")
        if len(result.faces) > 1 and self.ctx.settings.multi_face == "reject":
            raise InvalidInput(f"the photo shows {len(result.faces)} faces; crop it to the person")
        if best.template.quality < self.ctx.settings.enrol_min_quality:
            raise InvalidInput(f"the face's quality {best.template.quality:.2f} is below the enrolment minimum")
        return best, result.size

    def _write_entry(
        self, session: Session, actor: Actor, gallery_id: int, draft: EntryDraft, face: FoundFace | None,
        expires: datetime, now: datetime,
    ) -> tuple[WatchlistEntry, list[tuple[int, np.ndarray]], TemplateRow | None]:  # fmt: skip
        """The entry (pending), its subject (new, or an existing one of the list) and, from a
        photo not seen before, its template; returns the entry, (template id, vector) added,
        and the template row."""
        template: TemplateRow | None = None
        subject = gallery_queries.subject_by_reference(session, gallery_id, draft.reference)
        if subject is None:
            if face is None:
                raise InvalidInput(f"no subject {draft.reference!r} in this watchlist; give a photo of the person")
            subject = Subject(gallery_id=gallery_id, reference=draft.reference, attributes={}, created=now,
                              last_interaction=now)  # fmt: skip
            session.add(subject)
            session.flush()
        elif queries.live_entry_of(session, subject.id) is not None:
            raise Conflict(f"{draft.reference!r} is on this watchlist already; remove that entry first")
        subject.last_interaction = now
        added: list[tuple[int, np.ndarray]] = []
        if face is not None and face.template.source_sha256 not in enrolment_queries.known_photos(
            session, gallery_id, [face.template.source_sha256]
        ):
            vector = np.asarray(face.template.vector, dtype=np.float32)
            row = TemplateRow(
                gallery_id=gallery_id, subject_id=subject.id, vector=vector.tobytes(), model_id=face.template.model_id,
                quality=float(face.template.quality), source_sha256=face.template.source_sha256,
                box=face.face.box.as_list(), created=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            added.append((row.id, vector))
            template = row
        elif gallery_queries.subject_template_count(session, subject.id) == 0:
            raise InvalidInput(f"subject {draft.reference!r} holds no template; give a photo of the person")
        entry = WatchlistEntry(
            agency_id=actor.agency_id, gallery_id=gallery_id, subject_id=subject.id, reason=draft.reason,
            incident_reference=draft.incident_reference, evidence_notes=draft.evidence_notes,
            authorised_by=draft.authorised_by, authorised_at=draft.authorised_at or now, added_by=actor.user_id,
            added=now, expires=expires, status="pending", end_reason="",
        )  # fmt: skip
        session.add(entry)
        session.flush()
        return entry, added, template

    def _watchlist(self, session: Session, actor: Actor, gallery_id: int) -> Gallery:
        gallery = owned_gallery(session, actor, gallery_id)
        if gallery.purpose != WATCHLIST_PURPOSE:
            raise InvalidInput(f"gallery {gallery_id} is not a watchlist (its purpose is {gallery.purpose!r})")
        return gallery

    def _entry(self, session: Session, actor: Actor, entry_id: int, lock: bool = False) -> WatchlistEntry:
        entry = queries.lock_entry(session, entry_id) if lock else queries.entry(session, entry_id)
        if entry is None or entry.agency_id != actor.agency_id:
            raise NotFound(f"no watchlist entry {entry_id} in your agency")
        return entry

    def _infos(self, session: Session, rows: list[WatchlistEntry]) -> list[EntryInfo]:
        references = queries.references(session, [e.subject_id for e in rows])
        counts = queries.template_counts(session, [e.subject_id for e in rows])
        names = account_queries.usernames(session, {i for e in rows for i in (e.added_by, e.approved_by) if i})
        now = self.clock()
        return [entry_info(e, references.get(e.subject_id or -1), counts.get(e.subject_id or -1, 0), now, names)
                for e in rows]  # fmt: skip


__all__ = ["EntryDraft", "EntryInfo", "WatchlistInfo", "Watchlists", "end_entry", "entry_info", "expire_due"]
