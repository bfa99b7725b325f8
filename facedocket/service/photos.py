"""The encrypted file store, and the photos examiners compare candidates with.

Every file FaceDocket keeps — a request's probe photo, the aligned crop of the face the
requester chose, the legal basis's document, and each enrolled subject's source photo and
aligned face crop — is one ``stored_image`` row whose bytes are AES-256-GCM ciphertext under
the ``photo_key`` setting (:meth:`facedocket.config.Settings.photo_cipher`), bound to its
kind, agency and SHA-256, so a blob copied into another row fails to decrypt. Probe rows
written before migration 0008 are plain and stay readable. No file, and nothing derived from
one, ever goes into the audit log: events name files by kind and SHA-256 only.

:class:`FileStore` (``ctx.files``) is the store itself, for any area that keeps a file (the
watchlist's alert crops are meant to use it too: :meth:`FileStore.seal` with kind
``alert-crop``, in :mod:`facedocket.service.files`). :class:`Photos` (``service.photos``)
reads them back under the permission table, recording every view, and yields a gallery's
kept source photos for re-embedding (:meth:`Photos.kept_source_photos`).

Example::

    for photo in service.photos.kept_source_photos(admin, gallery_id):
        template = pipeline.template(pipeline.load(photo.data))   # re-embed with a new model
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from facedocket.errors import NotFound
from facedocket.governance.permissions import Actor, require
from facedocket.service.context import Area, Context
from facedocket.service.galleries import owned_gallery, usable_gallery
from facedocket.store.queries import photos as queries
from facedocket.store.tables import StoredImage
from facedocket.vocab import ENROLMENT_PHOTO_KINDS, PROBE_KINDS

if TYPE_CHECKING:
    from facedocket.service.requests import Requests

PAGE = 64
"""Source photos read per transaction by :meth:`Photos.kept_source_photos`."""


@dataclass(frozen=True)
class PhotoInfo:
    """A kept file without its bytes: what a page needs to show it (``meta``: the face's
    ``box`` and ``landmarks`` in decoded pixels, and the decoded ``width`` and ``height``)."""

    id: int
    kind: str
    sha256: str
    media_type: str
    meta: dict[str, Any]
    created: datetime
    template_id: int | None = None


@dataclass(frozen=True)
class FileContent:
    """A kept file's bytes, as read by someone allowed to."""

    id: int
    kind: str
    sha256: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class KeptPhoto:
    """One enrolment source photo of a gallery, decrypted (:meth:`Photos.kept_source_photos`)."""

    file_id: int
    subject_id: int
    reference: str
    template_id: int | None
    sha256: str
    media_type: str
    data: bytes
    meta: dict[str, Any]


def photo_info(row: StoredImage) -> PhotoInfo:
    return PhotoInfo(row.id, row.kind, row.sha256, row.media_type, dict(row.meta or {}), row.created, row.template_id)


class Photos(Area):
    """Kept photos and documents, read under the permission table (see the module docstring)."""

    def __init__(self, ctx: Context, requests: Requests) -> None:
        super().__init__(ctx)
        self.requests = requests

    def subject_photos(self, actor: Actor, subject_id: int) -> list[PhotoInfo]:
        """The enrolment photos and crops kept of a subject (without their bytes)."""
        from facedocket.service.galleries import visible_subject

        with self.ctx.read() as session:
            subject = visible_subject(session, actor, subject_id)
            gallery = usable_gallery(session, actor, subject.gallery_id)
            require(actor, "photo.read", actor.side(gallery.agency_id))
            return [photo_info(row) for row in queries.of_subject(session, subject_id)]

    def of_subjects(self, actor: Actor, subject_ids: list[int]) -> dict[int, list[PhotoInfo]]:
        """The enrolment photos and crops the actor's agency keeps of several subjects (a
        watchlist's entries, the people its alerts name), without their bytes, by subject id.
        Looking at one is :meth:`open_file` (recorded)."""
        require(actor, "photo.read")
        with self.ctx.read() as session:
            rows = queries.of_subjects(session, actor.agency_id, subject_ids)
        found: dict[int, list[PhotoInfo]] = {}
        for row in rows:
            found.setdefault(int(row.subject_id or 0), []).append(photo_info(row))
        return found

    def open_file(self, actor: Actor, file_id: int) -> FileContent:
        """A kept file's bytes, if the actor may see it; the view is recorded (``probe.viewed``,
        ``document.viewed`` or ``photo.viewed``). Anything else is NotFound."""
        with self.ctx.write() as session:
            row = queries.file(session, file_id) if 1 <= file_id <= 2**62 else None
            if row is None:
                raise NotFound(f"no file {file_id}")
            if row.kind in ENROLMENT_PHOTO_KINDS:
                self._check_photo(session, actor, row)
            elif row.kind in PROBE_KINDS or row.kind == "document":
                self._check_request_file(session, actor, row)
            else:
                raise NotFound(f"no file {file_id}")
            return FileContent(row.id, row.kind, row.sha256, row.media_type, self.ctx.files.open(row))

    def _check_photo(self, session: Session, actor: Actor, row: StoredImage) -> None:
        gallery = queries.gallery_of(session, row)
        if gallery is None:
            raise NotFound(f"no file {row.id}")
        try:
            usable_gallery(session, actor, gallery.id)
        except NotFound:
            raise NotFound(f"no file {row.id}") from None
        require(actor, "photo.read", actor.side(gallery.agency_id))
        self.ctx.audit(session, actor, "photo.viewed", "subject", row.subject_id,
                       {"file_id": row.id, "kind": row.kind, "sha256": row.sha256,
                        "template_id": row.template_id})  # fmt: skip

    def _check_request_file(self, session: Session, actor: Actor, row: StoredImage) -> None:
        from facedocket.service.requests import visible_request

        request = queries.request_of(session, row)
        if request is None:
            raise NotFound(f"no file {row.id}")
        try:
            visible = visible_request(session, actor, request.id)
        except NotFound:
            raise NotFound(f"no file {row.id}") from None
        if row.kind == "document":
            require(actor, "request.read", actor.side(visible.agency_id))
            self.requests.audit_both(session, actor, "document.viewed", visible, {"sha256": row.sha256})
        else:
            require(actor, "probe.read", actor.side(visible.agency_id))
            self.requests.audit_both(session, actor, "probe.viewed", visible,
                                     {"probe_sha256": row.sha256, "kind": row.kind})  # fmt: skip

    def kept_source_photos(self, actor: Actor, gallery_id: int) -> Iterator[KeptPhoto]:
        """Every enrolment source photo a gallery of the actor's agency keeps, decrypted, in
        the order they were enrolled, read a page at a time (for re-embedding the gallery
        with another model). The read is recorded once, with how many photos it covers."""
        require(actor, "enrolment.run")
        with self.ctx.write() as session:
            owned_gallery(session, actor, gallery_id)
            count = queries.count_of_gallery(session, gallery_id)
            self.ctx.audit(session, actor, "photo.viewed", "gallery", gallery_id,
                           {"kind": "enrolment-source", "purpose": "re-embedding", "photos": count})  # fmt: skip
        return self._sources(gallery_id)

    def _sources(self, gallery_id: int) -> Iterator[KeptPhoto]:
        after = 0
        while True:
            with self.ctx.read() as session:
                page = queries.gallery_sources(session, gallery_id, after, PAGE)
                photos = [KeptPhoto(row.id, int(row.subject_id or 0), reference, row.template_id, row.sha256,
                                    row.media_type, self.ctx.files.open(row), dict(row.meta or {}))
                          for row, reference in page]  # fmt: skip
            if not photos:
                return
            yield from photos
            after = photos[-1].file_id
