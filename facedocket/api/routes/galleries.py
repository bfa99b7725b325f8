"""Galleries: create, list, show, share with another agency, rebuild the index."""

from __future__ import annotations

from fastapi import APIRouter

from facedocket.api.deps import ActorDep, ServiceDep
from facedocket.api.schemas import (
    GalleriesPublic,
    GalleryCreate,
    GalleryPublic,
    IndexRebuildPublic,
    ShareCreate,
    error_responses,
)

router = APIRouter(tags=["galleries"], responses=error_responses(401, 403, 422))


@router.post("/galleries", status_code=201, responses=error_responses(400, 409))
def create_gallery(body: GalleryCreate, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """Create an empty gallery owned by your agency (admins and supervisors). Source and
    purpose are required: where the photos come from and what they may be searched for. Its
    templates are made with ``model_id`` (default sface-2021dec, the measured best)."""
    gallery = service.galleries.create_gallery(actor, body.name, body.source, body.purpose, body.index_kind,
                                               body.model_id)  # fmt: skip
    return GalleryPublic.model_validate(gallery)


@router.get("/galleries")
def list_galleries(actor: ActorDep, service: ServiceDep) -> GalleriesPublic:
    """Galleries your agency owns or that another agency shares with it."""
    galleries = [GalleryPublic.model_validate(g) for g in service.galleries.list_galleries(actor)]
    return GalleriesPublic(data=galleries, count=len(galleries))


@router.get("/galleries/{gallery_id}", responses=error_responses(404))
def get_gallery(gallery_id: int, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """One gallery your agency owns or may search."""
    return GalleryPublic.model_validate(service.galleries.get_gallery(actor, gallery_id))


@router.post("/galleries/{gallery_id}/shares", responses=error_responses(400, 404))
def share_gallery(gallery_id: int, body: ShareCreate, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """Let another agency search this gallery (owner's admins and supervisors). It may search
    it, not change it."""
    return GalleryPublic.model_validate(service.galleries.share_gallery(actor, gallery_id, body.agency_id, shared=True))


@router.delete("/galleries/{gallery_id}/shares/{agency_id}", responses=error_responses(400, 404))
def unshare_gallery(gallery_id: int, agency_id: int, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """Stop sharing this gallery with an agency (owner's admins and supervisors)."""
    return GalleryPublic.model_validate(service.galleries.share_gallery(actor, gallery_id, agency_id, shared=False))


@router.post("/galleries/{gallery_id}/index/rebuild", responses=error_responses(404))
def rebuild_index(gallery_id: int, actor: ActorDep, service: ServiceDep) -> IndexRebuildPublic:
    """Rebuild the gallery's index from the database, the record (owner's admins, supervisors
    and examiners)."""
    return IndexRebuildPublic(gallery_id=gallery_id, templates=service.galleries.rebuild_index(actor, gallery_id))
