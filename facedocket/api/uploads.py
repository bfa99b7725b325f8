"""Upload limits: a request body over the limit is refused with 413 before it is read, and
each uploaded file is read in chunks that stop past the limit.

``Content-Length`` is checked up front; a body sent without one (chunked) is counted as it
streams in. The body may exceed ``max_upload_bytes`` by :data:`FORM_OVERHEAD` (form fields and
multipart boundaries); each file on its own may not.
"""

from __future__ import annotations

import re

from fastapi import UploadFile
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facedocket.api.errors import error_response
from facedocket.errors import InvalidInput, PayloadTooLarge

FORM_OVERHEAD = 64 * 1024
CHUNK = 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised while a body streams in past the limit; answered as a 413 in the error shape."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


class UploadLimitMiddleware:
    """Refuse request bodies over ``max_upload_bytes`` (plus :data:`FORM_OVERHEAD`) with 413;
    paths matching a pattern of ``larger`` (the web UI's enrolment upload) have that limit."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_body = max_upload_bytes + FORM_OVERHEAD
        self.larger = [(re.compile(pattern), limit) for pattern, limit in (larger or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((n for pattern, n in self.larger if pattern.match(scope.get("path", ""))), self.max_upload_bytes)
        await self._limited(scope, receive, send, limit, limit + FORM_OVERHEAD)

    async def _limited(self, scope: Scope, receive: Receive, send: Send, limit: int, max_body: int) -> None:
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > max_body:
            await error_response(413, _too_large(limit))(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except BodyTooLarge:
            if started:
                raise
            await error_response(413, _too_large(limit))(scope, receive, send)


def read_upload(upload: UploadFile, limit: int, field: str) -> bytes:
    """All bytes of an uploaded file, read in chunks (from a thread-pool endpoint):
    :class:`PayloadTooLarge` past ``limit``, :class:`InvalidInput` when empty."""
    file = upload.file
    file.seek(0)
    parts: list[bytes] = []
    size = 0
    while chunk := file.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{field} is over the {limit:,}-byte upload limit; send a smaller image")
        parts.append(chunk)
    if size == 0:
        raise InvalidInput(f"{field} is empty (0 bytes); attach an image file")
    return b"".join(parts)


def _too_large(limit: int) -> str:
    return f"the upload is over the {limit:,}-byte limit; send a smaller image"
