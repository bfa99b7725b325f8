"""Galleries: create, list, show, share with another agency, rebuild the index."""

from __future__ import annotations

from fastapi import APIRouter

from facedocket.api.deps import ActorDep, IdPath, ServiceDep
from facedocket.api.schemas import (
    GalleriesPublic,
    GalleryCreate,
    GalleryPublic,
    IndexRebuildPublic,
    PhotoSetting,
    ShareCreate,
    error_responses,
)

router = APIRouter(tags=["galleries"], responses=error_responses(401, 403, 422))


@router.post("/galleries", status_code=201, responses=error_responses(400, 409))
def create_gallery(body: GalleryCreate, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """Create an empty gallery owned by your agency (admins and supervisors). Source and
    purpose are required: where the photos come from and what they may be searched for. Its
    templates are made with ``model_id`` (default sface-2021dec, the measured best). It keeps
    enrolment photos unless ``keep_photos`` is false or the policy forbids it (asking for it
    then is a 403 naming the rule)."""
    gallery = service.galleries.create_gallery(actor, body.name, body.source, body.purpose, body.index_kind,
                                               body.model_id, keep_photos=body.keep_photos)  # fmt: skip
    return GalleryPublic.model_validate(gallery)


@router.get("/galleries")
def list_galleries(actor: ActorDep, service: ServiceDep) -> GalleriesPublic:
    """Galleries your agency owns or that another agency shares with it."""
    galleries = [GalleryPublic.model_validate(g) for g in service.galleries.list_galleries(actor)]
    return GalleriesPublic(data=galleries, count=len(galleries))


@router.get("/galleries/{gallery_id}", responses=error_responses(404))
def get_gallery(gallery_id: IdPath, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """One gallery your agency owns or may search."""
    return GalleryPublic.model_validate(service.galleries.get_gallery(actor, gallery_id))


@router.post("/galleries/{gallery_id}/shares", responses=error_responses(400, 404))
def share_gallery(gallery_id: IdPath, body: ShareCreate, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """Let another agency search this gallery (owner's admins and supervisors). It may search
    it, not change it."""
    return GalleryPublic.model_validate(service.galleries.share_gallery(actor, gallery_id, body.agency_id, shared=True))


@router.delete("/galleries/{gallery_id}/shares/{agency_id}", responses=error_responses(400, 404))
def unshare_gallery(gallery_id: IdPath, agency_id: IdPath, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """Stop sharing this gallery with an agency (owner's admins and supervisors)."""
    return GalleryPublic.model_validate(service.galleries.share_gallery(actor, gallery_id, agency_id, shared=False))


@router.post("/galleries/{gallery_id}/index/rebuild", responses=error_responses(404))
def rebuild_index(gallery_id: IdPath, actor: ActorDep, service: ServiceDep) -> IndexRebuildPublic:
    """Rebuild the gallery's index from the database, the record (owner's admins, supervisors
    and examiners)."""
    return IndexRebuildPublic(gallery_id=gallery_id, templates=service.galleries.rebuild_index(actor, gallery_id))


@router.put("/galleries/{gallery_id}/photos", responses=error_responses(404, 409))
def keep_photos(gallery_id: IdPath, body: PhotoSetting, actor: ActorDep, service: ServiceDep) -> GalleryPublic:
    """Keep enrolment photos in this gallery from now on, or stop (owner's admins and
    supervisors): stopping deletes the photos and crops it holds (a 409 while a legal hold
    covers one of its subjects); keeping them under a policy that forbids it is a 403."""
    return GalleryPublic.model_validate(service.galleries.set_keep_photos(actor, gallery_id, body.keep))
