"""Subjects: enrol by upload, list, show, delete (with their templates, everywhere at once)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from facedocket.api.deps import ActorDep, DecodesDep, IdPath, ServiceDep, SettingsDep, text_form
from facedocket.api.errors import ApiError
from facedocket.api.schemas import (
    EnrolmentPublic,
    PhotoPublic,
    PhotosPublic,
    SubjectDeletedPublic,
    SubjectPublic,
    SubjectsPublic,
    error_responses,
)
from facedocket.api.uploads import read_upload
from facedocket.service.enrolment import Outcome
from facedocket.service.inputs import MAX_ID
from facedocket.vocab import MAX_BIRTH_YEAR, MIN_BIRTH_YEAR

router = APIRouter(tags=["subjects"], responses=error_responses(401, 403, 404, 422))

# Outcomes that enrol nothing: the status they are answered with, and what to do next.
_REFUSED: dict[str, tuple[int, str]] = {
    "invalid-image": (400, "upload a JPEG, PNG, WEBP, BMP, GIF or TIFF photo"),
    "no-face": (422, "upload a clear, frontal photo of the subject"),
    "several-faces": (422, "upload a photo of the subject alone, or crop it"),
    "below-quality": (422, "upload a sharper, frontal, well-lit photo"),
    "duplicate": (409, "the same photo was sent twice"),
    "no-consent": (422, "record the subject's consent first (POST /subjects, then its consents)"),
}


@router.post(
    "/galleries/{gallery_id}/subjects",
    status_code=201,
    responses={
        200: {"model": EnrolmentPublic, "description": "This photo is already in the gallery; nothing changed."},
        **error_responses(400, 409, 413, 503),
    },
)
def enrol_subject(
    gallery_id: IdPath,
    reference: Annotated[str, text_form("subject reference", "The subject's external reference; new or existing.")],
    image: Annotated[UploadFile, File(description="One photo of the subject: one face.")],
    actor: ActorDep,
    service: ServiceDep,
    settings: SettingsDep,
    decodes: DecodesDep,
    response: Response,
    sex: Annotated[str | None, text_form("sex", "Recorded sex, for evaluation and reporting only.")] = None,
    birth_year: Annotated[
        int | None, Form(ge=MIN_BIRTH_YEAR, le=MAX_BIRTH_YEAR, description="Recorded birth year, for evaluation only.")
    ] = None,
) -> EnrolmentPublic:
    """Enrol one photo into a gallery your agency owns (admins, supervisors, examiners): the
    subject is created on its first photo. 201 when enrolled, 200 when the photo is already in
    the gallery. A photo that enrols nothing (no face, several faces, too low quality: 422; not
    an image: 400) is answered in the error shape with the outcome in ``errors``. When every
    decode slot stays taken for ``decode_wait_s``, 503 with ``Retry-After``. An index file
    that could not be written after the commit is named in ``warnings``; the enrolment stands."""
    data = read_upload(image, settings.max_upload_bytes, "image")
    attributes: dict[str, Any] = {k: v for k, v in (("sex", sex), ("birth_year", birth_year)) if v is not None}
    with decodes.hold(settings.decode_wait_s):  # decoded, searched for faces, templated
        outcome = service.enrolment.enroll_image(actor, gallery_id, reference, data, attributes)
    if outcome.outcome not in ("enrolled", "already-enrolled"):
        raise _refused(outcome)
    if outcome.outcome == "already-enrolled":
        response.status_code = 200
    return EnrolmentPublic(
        gallery_id=gallery_id,
        reference=outcome.subject,
        outcome=outcome.outcome,
        detail=outcome.detail,
        template_id=outcome.template_id,
        sha256=outcome.sha256,
        warnings=[outcome.index_error] if outcome.index_error else [],
    )


def _refused(outcome: Outcome) -> ApiError:
    """The error for an outcome that enrolled nothing, with the outcome in ``errors``."""
    status, hint = _REFUSED.get(outcome.outcome, (422, "try another photo"))
    detail = {"outcome": outcome.outcome, "detail": outcome.detail, "reference": outcome.subject}
    message = f"{outcome.outcome}: {outcome.detail or outcome.outcome}; nothing was enrolled — {hint}"
    return ApiError(status, message, [{**detail, "sha256": outcome.sha256}])


@router.get("/galleries/{gallery_id}/subjects")
def list_subjects(
    gallery_id: IdPath,
    actor: ActorDep,
    service: ServiceDep,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Skip this many subjects.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many subjects.")] = 100,
) -> SubjectsPublic:
    """The subjects of a gallery your agency owns or may search, by id."""
    subjects = [
        SubjectPublic.model_validate(s) for s in service.galleries.list_subjects(actor, gallery_id, offset, limit)
    ]
    total = service.galleries.get_gallery(actor, gallery_id).subjects
    return SubjectsPublic(data=subjects, count=len(subjects), total=total, offset=offset, limit=limit)


@router.get("/subjects/{subject_id}")
def get_subject(subject_id: IdPath, actor: ActorDep, service: ServiceDep) -> SubjectPublic:
    """One subject of a gallery your agency owns or may search."""
    return SubjectPublic.model_validate(service.galleries.get_subject(actor, subject_id))


@router.delete("/subjects/{subject_id}")
def delete_subject(subject_id: IdPath, actor: ActorDep, service: ServiceDep) -> SubjectDeletedPublic:
    """Delete a subject and its templates from the database and the index in one operation
    (owner's admins and supervisors). Past searches keep their candidates, with the subject removed."""
    return SubjectDeletedPublic(id=subject_id, templates_deleted=service.galleries.delete_subject(actor, subject_id))


@router.get("/subjects/{subject_id}/photos")
def subject_photos(subject_id: IdPath, actor: ActorDep, service: ServiceDep) -> PhotosPublic:
    """The enrolment photos and aligned face crops kept of a subject (without their bytes):
    for readers the permission table lets see them (``photo.read``)."""
    photos = [PhotoPublic.model_validate(p) for p in service.photos.subject_photos(actor, subject_id)]
    return PhotosPublic(data=photos, count=len(photos))


@router.get(
    "/files/{file_id}",
    response_class=Response,
    responses={
        200: {"description": "The file's bytes, decrypted.", "content": {"image/jpeg": {}, "application/pdf": {}}}
    },
)
def kept_file(file_id: IdPath, actor: ActorDep, service: ServiceDep) -> Response:
    """A kept file: a subject's enrolment photo or face crop (``photo.read``), a request's
    probe photo or face crop (``probe.read``) or its document (``request.read``). Every view is
    recorded (``photo.viewed``, ``probe.viewed``, ``document.viewed``)."""
    found = service.photos.open_file(actor, file_id)
    return Response(found.data, media_type=found.media_type,
                    headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})  # fmt: skip
