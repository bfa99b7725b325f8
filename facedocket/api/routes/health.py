"""GET /health: is the API up, and which version."""

from __future__ import annotations

from fastapi import APIRouter

from facedocket import __version__
from facedocket.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> HealthPublic:
    """Whether the API is up, and its version. Needs no token."""
    return HealthPublic(ok=True, version=__version__)
