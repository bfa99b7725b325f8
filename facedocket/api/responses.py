"""The error statuses of the API as OpenAPI documents them: the one error shape
(:class:`ErrorPublic`), what each status means, and the statuses every route of a kind can
answer (:func:`facedocket.api.document_statuses` adds them to each route)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorPublic(BaseModel):
    """The one error shape of the API."""

    ok: Literal[False] = Field(False, description="Always false for an error.")
    error: str = Field(description="One line: what went wrong and what to do next.")
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="Details, e.g. each validation error; may be empty."
    )
    status: int = Field(description="The HTTP status, repeated.")


_ERROR_DESCRIPTIONS = {
    400: "Invalid input: a body that is not valid JSON or form data, bytes that are not an image, an empty "
    "upload, text the service refuses (a control character, an unknown word).",
    401: "Missing, unknown or revoked token.",
    403: "Your role (or your agency) does not allow this, or the policy refuses it: `errors` names "
    'every failed rule (`{"rule": ..., "msg": ..., "type": "policy"}`).',
    404: "Unknown id, or a record of another agency.",
    409: "Clashes with what exists or with the request's state (a duplicate name, an undecided candidate).",
    413: "Upload or body over the size limit.",
    422: "Validation failed: a missing or ill-typed field, a number out of range (ids are 1 to 2**63-1), "
    "text over its limit, or no usable face in the probe.",
    429: "Too many failed sign-ins from your address: wait the seconds `Retry-After` gives.",
    503: "Busy (every image-decoding slot is taken; retry after `Retry-After` seconds), or the database "
    "cannot be written (read-only).",
    507: "The database could not be written: its disk is full. Nothing of the request was saved.",
}

AUTHENTICATED = (401, 403, 422, 429, 503, 507)
"""What every route that needs a token can answer besides its own codes."""
WITH_BODY = (400, 413)
"""What every route that reads a request body can answer."""
WITH_ID = (404,)
"""What every route with an id in its path can answer."""


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, all in the error shape (429 and 503
    with ``Retry-After``)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        responses[code] = {"model": ErrorPublic, "description": _ERROR_DESCRIPTIONS[code]}
        if code in (429, 503):
            responses[code]["headers"] = _RETRY_AFTER
    return responses
