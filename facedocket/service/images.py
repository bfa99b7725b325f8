"""The one place where the video side keeps and reads images: alert face crops, JPEG
encoded and encrypted at rest with ``settings.photo_cipher()`` (AES-256-GCM), in
``stored_image`` rows of their own kind. Everything that stores, reads or deletes an alert's
crop comes through here, so a change to how images are stored touches this module only.

Example::

    image_id = store_crop(ctx, session, agency_id, crop)     # inside the alert's transaction
    jpeg = read_crop(ctx, session, agency_id, image_id)
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image as PILImage
from sqlalchemy.orm import Session

from facedocket.errors import NotFound
from facedocket.service.context import Context
from facedocket.store.queries import alerts as queries
from facedocket.store.tables import StoredImage
from facedocket.types import RGBArray

ALERT_CROP = "alert-crop"
"""The ``stored_image.kind`` of an alert's face crop."""

JPEG_QUALITY = 90


def _associated(kind: str, agency_id: int, sha256: str) -> str:
    """What a ciphertext is bound to: moved to another row (another agency, another image)
    it fails to decrypt."""
    return f"{kind}:{agency_id}:{sha256}"


def encode_jpeg(pixels: RGBArray) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def store_crop(ctx: Context, session: Session, agency_id: int, crop: RGBArray) -> int:
    """Keep ``crop`` (RGB) as an encrypted JPEG in the caller's transaction; its image id."""
    jpeg = encode_jpeg(crop)
    digest = hashlib.sha256(jpeg).hexdigest()
    blob = ctx.settings.photo_cipher().encrypt(jpeg, _associated(ALERT_CROP, agency_id, digest))
    row = StoredImage(agency_id=agency_id, kind=ALERT_CROP, sha256=digest, data=blob, created=ctx.clock())
    session.add(row)
    session.flush()
    return int(row.id)


def read_crop(ctx: Context, session: Session, agency_id: int, image_id: int | None) -> bytes:
    """The JPEG of an alert's crop; NotFound once it was purged."""
    row = queries.image(session, image_id)
    if row is None or row.kind != ALERT_CROP or row.agency_id != agency_id:
        raise NotFound("this alert's face crop is no longer kept (purged with the alert's retention)")
    return ctx.settings.photo_cipher().decrypt(row.data, _associated(row.kind, row.agency_id, row.sha256))


def drop_alert_rows(session: Session, alert_ids: list[int]) -> int:
    """Delete alerts with their incident records and crops; the number of crops deleted."""
    return len(queries.drop_alerts(session, alert_ids))


__all__ = ["ALERT_CROP", "drop_alert_rows", "encode_jpeg", "read_crop", "store_crop"]
