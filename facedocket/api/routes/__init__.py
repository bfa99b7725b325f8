"""One router per resource, all mounted under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from facedocket.api.routes import (
    agencies,
    galleries,
    health,
    searches,
    subjects,
    tokens,
    users,
    verifications,
)

ROUTERS: list[APIRouter] = [
    health.router,
    agencies.router,
    users.router,
    tokens.router,
    galleries.router,
    subjects.router,
    searches.router,
    verifications.router,
]

TAGS = [
    {"name": "health", "description": "Is the API up. The only endpoint that needs no token."},
    {"name": "agencies", "description": "Tenants. No agency sees another's data unless a gallery is shared."},
    {"name": "users", "description": "Users of your agency and their roles."},
    {"name": "tokens", "description": "Bearer tokens (shown once) and who you are."},
    {"name": "galleries", "description": "Named sets of enrolled templates with a declared source and purpose."},
    {"name": "subjects", "description": "Person records in a gallery; enrolment by photo upload."},
    {
        "name": "searches",
        "description": "1:N searches under a written request; candidate lists are investigative leads.",
    },
    {"name": "verifications", "description": "1:1 comparisons of a probe with one subject."},
]
