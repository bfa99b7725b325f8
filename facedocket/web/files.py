"""Kept files for the pages that show them: probe photos and crops, enrolment photos and
crops, request documents. Each is read through :meth:`facedocket.service.photos.Photos.open_file`
(permission checked, the view recorded); pages load photos lazily, one request each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from facedocket.service import WebUser
from facedocket.vision.images import BROWSER_TYPES, encode_jpeg
from facedocket.web.security import current_user, service_of

router = APIRouter(include_in_schema=False)
User = Annotated[WebUser, Depends(current_user)]


@router.get("/files/{file_id}")
def kept_file(request: Request, file_id: int, user: User) -> Response:
    service = service_of(request)
    found = service.photos.open_file(user.actor, file_id)
    media_type, data = found.media_type, found.data
    if found.kind != "document" and media_type not in BROWSER_TYPES:  # a TIFF or BMP: shown as JPEG
        data, media_type = encode_jpeg(service.pipeline.load(data).pixels), "image/jpeg"
    shown = media_type.startswith("image/") or media_type in ("application/pdf", "text/plain")
    headers = {
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'{"inline" if shown else "attachment"}; filename="file-{file_id}"',
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
    }
    if media_type == "text/plain":
        media_type = "text/plain; charset=utf-8"
    return Response(data, media_type=media_type, headers=headers)
