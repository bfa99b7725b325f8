"""Dependencies: the service, and the actor a bearer token stands for."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, Form, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from facedocket.config import Settings
from facedocket.service import Actor, Service
from facedocket.service.inputs import MAX_ID
from facedocket.vision.images import DecodeSlots
from facedocket.vocab import TEXT_LIMITS

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="An API token: `Authorization: Bearer fd_...` (`facedocket init` prints the first one).",
)


def get_service(request: Request) -> Service:
    """The service built by :func:`facedocket.api.create_app`."""
    return cast(Service, request.app.state.service)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_decodes(request: Request) -> DecodeSlots:
    """The app's decode slots: ``max_concurrent_decodes`` uploads decoded (and searched for
    faces) at once; hold one with ``decodes.hold(settings.decode_wait_s)`` (Busy, 503, when none frees)."""
    return cast(DecodeSlots, request.app.state.decodes)


IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="An id: 1 to 2**63-1.")]
"""An id in a path: a number outside 1 to 2**63-1 (what a table holds) is a 422."""


def text_form(what: str, description: str) -> Any:
    """A form field of at most ``TEXT_LIMITS[what]`` characters, saying so in its description."""
    limit = TEXT_LIMITS[what]
    return Form(max_length=limit, description=f"{description} At most {limit:,} characters.")


def text_query(what: str, description: str) -> Any:
    """A query parameter of at most ``TEXT_LIMITS[what]`` characters, saying so in its description."""
    limit = TEXT_LIMITS[what]
    return Query(max_length=limit, description=f"{description} At most {limit:,} characters.")


ServiceDep = Annotated[Service, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DecodesDep = Annotated[DecodeSlots, Depends(get_decodes)]


def get_actor(
    request: Request,
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The actor of ``Authorization: Bearer fd_...``; the service raises Unauthorized (401,
    with ``WWW-Authenticate: Bearer``) for a missing, unknown or revoked token, and
    TooManyRequests (429, with ``Retry-After``) for a client address past its failed sign-ins."""
    client = request.client.host if request.client is not None else "unknown"
    return service.accounts.authenticate(credentials.credentials if credentials else None, client=client)


ActorDep = Annotated[Actor, Depends(get_actor)]


def parse_ids(values: list[str], field: str) -> list[int]:
    """Integer ids from repeated and/or comma-separated form values; a 422 for anything else."""
    parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
    bad = [part for part in parts if not part.isdigit()]
    if bad:
        msg = f"must be ids, comma-separated or repeated; got {', '.join(bad)}"
        raise RequestValidationError([{"loc": ("body", field), "msg": msg, "type": "value_error"}])
    return [int(part) for part in parts]
