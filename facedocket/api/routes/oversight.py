"""Oversight: legal holds, the retention run, erasure and access export of a subject,
subjects made without photos, consent, a gallery's consent rule and retention period, and
evaluations kept on record with the threshold calibrated from one.

Roles and visibility are the service's (:mod:`facedocket.service.oversight`): holds and
erasure are for supervisors and admins, the retention run and calibration for admins, the
access export also for auditors; another agency's subject, case or hold is a 404. The
request and response bodies live here, next to the only routes that use them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from facedocket.api.deps import ActorDep, IdPath, ServiceDep
from facedocket.api.schemas import SubjectPublic, UtcDatetime, error_responses, id_field, text_field
from facedocket.service.oversight import HoldInfo
from facedocket.vocab import MAX_BIRTH_YEAR, MAX_RETENTION_DAYS, MIN_BIRTH_YEAR

router = APIRouter(responses=error_responses(401, 403, 422))

NO_STORE = {"Cache-Control": "no-store"}

# --- bodies ----------------------------------------------------------------------------------


class HoldCreate(BaseModel):
    object_type: Literal["case", "subject"] = Field(
        description="What is held: a case (its requests' probe photos and candidate lists) or a subject "
        "(its templates; its erasure is refused)."
    )
    object_id: int = id_field("The case's or the subject's id, in your agency.")
    reason: str = text_field("reason", "The order or proceeding the hold serves (recorded).")


class HoldPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="The hold's id (to release it).")
    agency_id: int = Field(description="The agency that placed it.")
    object_type: str = Field(description="case or subject.")
    object_id: int = Field(description="The held case's or subject's id.")
    reason: str = Field(description="The order or proceeding the hold serves.")
    placed_by: int = Field(description="The user who placed it.")
    placed: UtcDatetime = Field(description="When it was placed (UTC).")
    released: UtcDatetime | None = Field(description="When it was released (UTC); null while it is active.")


class HoldsPublic(BaseModel):
    data: list[HoldPublic] = Field(description="Legal holds, oldest first.")
    count: int = Field(description="How many are listed.")


class RetentionRunCreate(BaseModel):
    dry_run: bool = Field(False, description="Only list what would be deleted; change nothing.")


class RetentionReportPublic(BaseModel):
    """What a retention run deleted (in a dry run: would delete) and what legal holds kept, by
    record type: probe_images (request ids), candidate_lists (candidate ids), templates
    (template ids), subjects (subject ids)."""

    dry_run: bool = Field(description="True when nothing was changed.")
    now: str = Field(description="The time the periods were measured from (ISO 8601, UTC).")
    deleted: dict[str, list[int]] = Field(description="Ids deleted (or that would be), per record type.")
    held: dict[str, list[int]] = Field(description="Ids past their period that a legal hold kept, per record type.")
    counts: dict[str, int] = Field(description="How many were deleted (or would be), per record type.")


class ErasureCreate(BaseModel):
    reason: str = text_field("reason", "Why: e.g. the data subject's request and its date (recorded).")


class AuditLinkPublic(BaseModel):
    seq: int = Field(description="The audit event's sequence number.")
    hash: str = Field(description="The audit event's hash: check it against the chain.")


class ErasureCertificatePublic(BaseModel):
    """The certificate of an erasure: what went, when, by whom, and the audit event that records it."""

    certificate: Literal["erasure"] = Field(description="Always 'erasure'.")
    erasure_id: int = Field(description="The erasure's id.")
    agency_id: int = Field(description="The agency that erased the subject.")
    gallery_id: int = Field(description="The gallery the subject was in.")
    subject_id: int = Field(description="The erased subject's id.")
    subject_reference: str = Field(
        description="The subject's reference, in clear here only: the audit log keeps a keyed hash of it."
    )
    reference_hmac: str = Field(
        description="HMAC-SHA256 of the reference under a key derived from the server's secret, as the audit "
        "log and the erasure record keep it (a list of names cannot confirm it without the secret)."
    )
    erased: dict[str, int] = Field(
        description="What was deleted: templates, candidate_entries, consents, photos (enrolment photos and "
        "face crops), and verifications_unlinked (1:1 verifications that named the subject, kept without it)."
    )
    photos: list[dict[str, str]] = Field(description="Each enrolment photo and crop deleted: its kind and SHA-256.")
    reason: str = Field(description="Why the subject was erased.")
    erased_by: str = Field(description="Who erased it (username).")
    time: str = Field(description="When (UTC, as in the audit log).")
    audit_event: AuditLinkPublic = Field(description="The audit event that records the erasure.")
    statement: str = Field(description="What the erasure covers, in words.")
    warnings: list[str] = Field(
        default_factory=list,
        description="What went wrong after the erasure was committed, e.g. an index file that could not be "
        "rewritten (with its path).",
    )


class ExportedSubjectPublic(BaseModel):
    id: int = Field(description="The subject's id.")
    reference: str = Field(description="The subject's external reference.")
    gallery: str = Field(description="The gallery's name.")
    gallery_source: str = Field(description="Where the gallery's photos come from.")
    gallery_purpose: str = Field(description="What the gallery may be searched for.")
    sex: str | None = Field(description="Recorded sex; null when not recorded.")
    birth_year: int | None = Field(description="Recorded birth year; null when not recorded.")
    attributes: dict[str, Any] = Field(description="Every recorded attribute.")
    created: str = Field(description="When the record was made (ISO 8601).")
    last_interaction: str | None = Field(description="The last enrolment or contact (ISO 8601), if recorded.")


class ExportedTemplatePublic(BaseModel):
    id: int = Field(description="The template's id.")
    model_id: str = Field(description="The model that made it.")
    quality: float = Field(description="The face's quality score (0 to 1).")
    source_image_sha256: str = Field(description="SHA-256 of the enrolment photo (in photos when it is kept).")
    box: list[Any] = Field(description="The face's box in the photo: left, top, right, bottom.")
    created: str = Field(description="When it was enrolled (ISO 8601).")
    vector: list[float] = Field(description="The template itself: the embedding vector.")


class AppearancePublic(BaseModel):
    search_id: int = Field(description="The search whose candidate list named the subject.")
    request_id: int | None = Field(description="The written request the search was made under.")
    rank: int = Field(description="The subject's rank in the list.")
    score: float = Field(description="The similarity score.")
    released: bool = Field(description="Whether the candidate was released to the requesting agency.")
    time: str = Field(description="When the search ran (ISO 8601).")


class ExportedPhotoPublic(BaseModel):
    kind: str = Field(description="enrolment-source (the photo as enrolled) or enrolment-crop (the aligned face).")
    sha256: str = Field(description="SHA-256 of the photo's bytes.")
    media_type: str = Field(description="The photo's media type.")
    template_id: int | None = Field(description="The template made from it.")
    created: str = Field(description="When it was kept (ISO 8601).")
    data_base64: str = Field(description="The photo itself, base64.")


class ExportedConsentPublic(BaseModel):
    given_by: str = Field(description="Who consented, and how.")
    purpose: str = Field(description="What the consent is for.")
    given: str = Field(description="When it was given (ISO 8601).")
    expires: str | None = Field(description="When it ends (ISO 8601); null: until withdrawn.")
    withdrawn: str | None = Field(description="When it was withdrawn (ISO 8601); null when not.")


class ExportedHoldPublic(BaseModel):
    id: int = Field(description="The hold's id.")
    reason: str = Field(description="The order or proceeding it serves.")
    placed: str = Field(description="When it was placed (ISO 8601).")
    released: str | None = Field(description="When it was released (ISO 8601); null while active.")


class SubjectExportPublic(BaseModel):
    """Everything held about a subject, for an access request."""

    subject: ExportedSubjectPublic = Field(description="The person record and its gallery.")
    templates: list[ExportedTemplatePublic] = Field(description="Every template, with its vector.")
    candidate_appearances: list[AppearancePublic] = Field(description="Every candidate list that names the subject.")
    consents: list[ExportedConsentPublic] = Field(description="Consent records.")
    legal_holds: list[ExportedHoldPublic] = Field(description="Legal holds on the subject, active or released.")
    images_held: int = Field(description="Enrolment photos and face crops kept of the subject.")
    photos: list[ExportedPhotoPublic] = Field(description="Each kept enrolment photo and face crop, with its bytes.")
    note: str = Field(description="What is and is not kept of enrolment photos, in words (what `policy show` says).")


class SubjectCreate(BaseModel):
    gallery_id: int = id_field("A gallery your agency owns.")
    reference: str = text_field("subject reference", "The subject's external reference, unique in the gallery.")
    sex: str | None = text_field("sex", "Recorded sex, for evaluation and reporting only.", None)
    birth_year: int | None = Field(
        None, ge=MIN_BIRTH_YEAR, le=MAX_BIRTH_YEAR, description="Recorded birth year, for evaluation only."
    )


class ConsentCreate(BaseModel):
    given_by: str = text_field("consent given by", "Who consented, and how, e.g. 'Ann Lee (signed form 17)'.")
    purpose: str = text_field("consent purpose", "What the consent is for.")
    given: UtcDatetime | None = Field(None, description="When it was given (ISO 8601; UTC unless zoned); default now.")
    expires: UtcDatetime | None = Field(None, description="When it ends (ISO 8601); default: until withdrawn.")


class ConsentPublic(BaseModel):
    id: int = Field(description="The consent record's id.")
    subject_id: int = Field(description="Whose consent it is.")
    given: UtcDatetime = Field(description="When it was given (UTC).")
    expires: UtcDatetime | None = Field(description="When it ends (UTC); null: until withdrawn.")


class ConsentWithdrawnPublic(BaseModel):
    subject_id: int = Field(description="Whose consents were withdrawn.")
    withdrawn: int = Field(description="How many live consents were withdrawn.")


class GalleryConsentUpdate(BaseModel):
    required: bool = Field(description="True: enrolment needs a live consent for each subject; false lifts it.")


class GalleryConsentPublic(BaseModel):
    gallery_id: int = Field(description="The gallery.")
    requires_consent: bool = Field(description="Whether enrolment needs a live consent for each subject.")


class GalleryRetentionUpdate(BaseModel):
    days: int | None = Field(
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Keep the gallery's templates this many days after enrolment; null: the policy's period.",
    )


class GalleryRetentionPublic(BaseModel):
    gallery_id: int = Field(description="The gallery.")
    retention_days: int | None = Field(description="Its template period in days; null: the policy profile's.")


def _hold(hold: HoldInfo) -> HoldPublic:
    return HoldPublic.model_validate(hold)


# --- legal holds -----------------------------------------------------------------------------


@router.post("/holds", status_code=201, tags=["oversight"], responses=error_responses(400, 404))
def place_hold(body: HoldCreate, actor: ActorDep, service: ServiceDep) -> HoldPublic:
    """Place a legal hold on a case or a subject of your agency (supervisors, admins): the
    retention run keeps what it covers and an erasure of the subject is refused (409) until
    it is released. The hold is recorded."""
    return _hold(service.oversight.place_hold(actor, body.object_type, body.object_id, body.reason))


@router.post("/holds/{hold_id}/release", tags=["oversight"], responses=error_responses(404, 409))
def release_hold(hold_id: IdPath, actor: ActorDep, service: ServiceDep) -> HoldPublic:
    """Release a legal hold of your agency (supervisors, admins); a 409 when it was released
    already. The release is recorded."""
    return _hold(service.oversight.release_hold(actor, hold_id))


@router.get("/holds", tags=["oversight"])
def list_holds(
    actor: ActorDep,
    service: ServiceDep,
    include_released: Annotated[bool, Query(description="Released holds too.")] = False,
) -> HoldsPublic:
    """Your agency's legal holds, oldest first: the active ones, or all with
    ``include_released`` (supervisors, admins, auditors)."""
    holds = [_hold(h) for h in service.oversight.list_holds(actor, active_only=not include_released)]
    return HoldsPublic(data=holds, count=len(holds))


# --- retention -------------------------------------------------------------------------------


@router.post("/retention/run", tags=["oversight"])
def run_retention(
    actor: ActorDep, service: ServiceDep, body: RetentionRunCreate | None = None
) -> RetentionReportPublic:
    """Delete what has outlived its retention period (admins): probe photos, candidate lists,
    templates (from the database and the index), subjects past the last-interaction limit and
    subjects of consent galleries whose consent ended. Periods come from the active policy
    profile (a gallery may set its own template period); whatever a legal hold covers is kept
    and listed under ``held``. The operator agency's admins run it for every agency, others
    for their own. With ``dry_run`` nothing changes. The server also runs it on a schedule."""
    dry_run = body.dry_run if body is not None else False
    return RetentionReportPublic.model_validate(service.oversight.retention_run(actor, dry_run=dry_run).as_dict())


# --- subjects: create, erase, export, consent ------------------------------------------------


@router.post("/subjects", status_code=201, tags=["subjects"], responses=error_responses(400, 404, 409))
def create_subject(body: SubjectCreate, actor: ActorDep, service: ServiceDep) -> SubjectPublic:
    """Create a subject without photos in a gallery your agency owns (admins, supervisors,
    examiners): in a gallery that needs consent, record the consent before enrolling photos."""
    subject_id = service.galleries.create_subject(actor, body.gallery_id, body.reference, body.sex, body.birth_year)
    return SubjectPublic.model_validate(service.galleries.get_subject(actor, subject_id))


@router.post("/subjects/{subject_id}/erase", tags=["subjects"], responses=error_responses(400, 404, 409))
def erase_subject(
    subject_id: IdPath, body: ErasureCreate, actor: ActorDep, service: ServiceDep
) -> ErasureCertificatePublic:
    """Erase a subject of a gallery your agency owns, everywhere (supervisors, admins): its
    templates, index entries, consent records and every candidate entry naming it. A legal
    hold on the subject refuses it (409). The audit log keeps that the erasure happened, with
    the reference only as a keyed hash (HMAC-SHA256); the answer is the erasure certificate."""
    return ErasureCertificatePublic.model_validate(
        service.oversight.erase_subject(actor, subject_id, body.reason).as_dict()
    )


@router.get("/subjects/{subject_id}/export", tags=["subjects"], responses=error_responses(404))
def export_subject(subject_id: IdPath, actor: ActorDep, service: ServiceDep, response: Response) -> SubjectExportPublic:
    """Everything held about a subject of a gallery your agency owns, for an access request
    (supervisors, admins, auditors): the record, its templates with their vectors, consents,
    candidate appearances and legal holds. The export is recorded; it is never cached."""
    response.headers.update(NO_STORE)
    return SubjectExportPublic.model_validate(service.oversight.export_subject(actor, subject_id).as_dict())


@router.post("/subjects/{subject_id}/consents", status_code=201, tags=["subjects"], responses=error_responses(400, 404))
def record_consent(subject_id: IdPath, body: ConsentCreate, actor: ActorDep, service: ServiceDep) -> ConsentPublic:
    """Record a subject's consent (admins, supervisors, examiners): who, for what purpose,
    from when (default now), until when (default until withdrawn). Recorded."""
    given = body.given or service.clock()
    consent_id = service.oversight.record_consent(actor, subject_id, body.given_by, body.purpose, given, body.expires)
    return ConsentPublic(id=consent_id, subject_id=subject_id, given=given, expires=body.expires)


@router.post("/subjects/{subject_id}/consents/withdraw", tags=["subjects"], responses=error_responses(404))
def withdraw_consent(subject_id: IdPath, actor: ActorDep, service: ServiceDep) -> ConsentWithdrawnPublic:
    """Withdraw every live consent of a subject (admins, supervisors, examiners): the next
    retention run erases the subject from a gallery that needs consent. Recorded."""
    return ConsentWithdrawnPublic(
        subject_id=subject_id, withdrawn=service.oversight.withdraw_consent(actor, subject_id)
    )


# --- a gallery's consent rule and retention period -------------------------------------------


@router.put("/galleries/{gallery_id}/consent", tags=["galleries"], responses=error_responses(404))
def set_gallery_consent(
    gallery_id: IdPath, body: GalleryConsentUpdate, actor: ActorDep, service: ServiceDep
) -> GalleryConsentPublic:
    """Make enrolment into a gallery your agency owns need a live consent for each subject, or
    lift it (admins, supervisors). While it is on, photos of a subject without consent are not
    enrolled, and each retention run erases the gallery's subjects without a live consent (on
    a gallery that holds subjects, check a dry run first). Recorded."""
    service.galleries.require_consent(actor, gallery_id, body.required)
    return GalleryConsentPublic(gallery_id=gallery_id, requires_consent=body.required)


@router.put("/galleries/{gallery_id}/retention", tags=["galleries"], responses=error_responses(400, 404))
def set_gallery_retention(
    gallery_id: IdPath, body: GalleryRetentionUpdate, actor: ActorDep, service: ServiceDep
) -> GalleryRetentionPublic:
    """Set how long a gallery your agency owns keeps its templates after enrolment, in days,
    or (null) follow the policy profile's period (admins, supervisors). Recorded."""
    service.galleries.set_gallery_retention(actor, gallery_id, body.days)
    return GalleryRetentionPublic(gallery_id=gallery_id, retention_days=body.days)
