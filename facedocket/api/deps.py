"""Dependencies: the service, and the actor a bearer token stands for."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Form, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from facedocket.config import Settings
from facedocket.service import LEGAL_BASES, Actor, RequestFields, Service

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


ServiceDep = Annotated[Service, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_actor(
    service: ServiceDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Actor:
    """The actor of ``Authorization: Bearer fd_...``; the service raises Unauthorized (401,
    with ``WWW-Authenticate: Bearer``) for a missing, unknown or revoked token."""
    return service.authenticate(credentials.credentials if credentials else None)


ActorDep = Annotated[Actor, Depends(get_actor)]


def request_fields(
    case_number: Annotated[str, Form(description="Case number the search is for (required).")] = "",
    offence: Annotated[str, Form(description="The offence under investigation (required).")] = "",
    legal_basis: Annotated[str, Form(description=f"Legal basis (required): {', '.join(LEGAL_BASES)}.")] = "",
    justification: Annotated[str, Form(description="Why this search is needed (required).")] = "",
) -> RequestFields:
    """The written request a search or verification is made under. The service checks it
    (a missing field or an unknown legal basis is a 422) before it looks at the probe."""
    return RequestFields(case_number, offence, legal_basis, justification)


RequestDep = Annotated[RequestFields, Depends(request_fields)]
