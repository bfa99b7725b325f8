"""The encrypted file store: every file FaceDocket keeps, AES-256-GCM under ``photo_key``.

One ``stored_image`` row per file (probe photo, probe face crop, request document, enrolment
source photo and face crop, alert crop); see :mod:`facedocket.service.photos` for what is
kept and who reads it. The ciphertext is bound to the row's kind, agency and SHA-256 (the
SHA-256 of the plain bytes, checked again after decryption). Probe rows written before
migration 0008 are plain (``encrypted`` false) and read as they are.

Example::

    row = ctx.files.seal(session, agency_id, "alert-crop", jpeg, meta={"box": box})
    ctx.files.open(row)  # the JPEG bytes again
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from facedocket.errors import DecryptionFailed
from facedocket.store.queries import photos as queries
from facedocket.store.tables import StoredImage
from facedocket.vision.images import media_type_of
from facedocket.vocab import FILE_KINDS

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from facedocket.config import Settings
    from facedocket.crypto import AtRestCipher


class FileStore:
    """Writes files encrypted and reads them back (see the module docstring)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self._settings, self._clock = settings, clock
        self._cipher: AtRestCipher | None = None
        self._lock = threading.Lock()

    @property
    def cipher(self) -> AtRestCipher:
        """The photo cipher of the settings, built on first use."""
        with self._lock:
            if self._cipher is None:
                self._cipher = self._settings.photo_cipher()
            return self._cipher

    def seal(self, session: Session, agency_id: int, kind: str, data: bytes, *, media_type: str | None = None,
             request_id: int | None = None, gallery_id: int | None = None, subject_id: int | None = None,
             template_id: int | None = None, meta: dict[str, Any] | None = None) -> StoredImage:  # fmt: skip
        """Keep ``data`` encrypted in ``session``'s transaction; returns the new row."""
        if kind not in FILE_KINDS:
            raise ValueError(f"unknown file kind {kind!r}")
        digest = hashlib.sha256(data).hexdigest()
        row = StoredImage(agency_id=agency_id, kind=kind, sha256=digest, encrypted=True,
                          media_type=media_type or media_type_of(data), request_id=request_id,
                          gallery_id=gallery_id, subject_id=subject_id, template_id=template_id, meta=meta,
                          created=self._clock())  # fmt: skip
        row.data = self.cipher.encrypt(data, _associated(row))
        return queries.add(session, row)

    def open(self, row: StoredImage) -> bytes:
        """The plain bytes of ``row``; a plain row written before encryption is read as it is.

        Raises:
            DecryptionFailed: altered ciphertext, or bytes that are not the ones recorded.
            ConfigurationError: the key it was encrypted with is not configured.
        """
        if not row.encrypted:
            return bytes(row.data)
        data = self.cipher.decrypt(bytes(row.data), _associated(row))
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise DecryptionFailed(f"stored file {row.id} does not match its recorded SHA-256")
        return data


def _associated(row: StoredImage) -> str:
    """What a file's ciphertext is bound to: its kind, agency and SHA-256."""
    return f"{row.kind}:{row.agency_id}:{row.sha256}"
