"""1:1 verification: compare a probe with one subject, under a written request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from facedocket.api.deps import ActorDep, RequestDep, ServiceDep, SettingsDep
from facedocket.api.schemas import VerificationPublic, error_responses
from facedocket.api.uploads import read_upload

router = APIRouter(tags=["verifications"], responses=error_responses(401, 403, 422))


@router.post("/verifications", status_code=201, responses=error_responses(400, 404, 409, 413))
def create_verification(
    fields: RequestDep,
    probe: Annotated[UploadFile, File(description="The probe photo; one face, or pick one with `face`.")],
    subject_id: Annotated[int, Form(description="The subject to compare with (its best template decides).")],
    actor: ActorDep,
    service: ServiceDep,
    settings: SettingsDep,
    threshold: Annotated[float | None, Form(description="Minimum score for 'same' (default: the model's).")] = None,
    face: Annotated[int | None, Form(description="Which face of the probe, 1-based, when it has several.")] = None,
) -> VerificationPublic:
    """Compare a probe photo with one subject's templates (examiners and supervisors), under a
    written request. ``decision`` is a comparison result at the stated threshold — "same" or
    "different" — for human review, not an identification. The verification is recorded as a
    search of kind "verify"."""
    data = read_upload(probe, settings.max_upload_bytes, "probe")
    result = service.verify(actor, fields, data, subject_id, threshold=threshold, face=face)
    best = result.candidates[0] if result.candidates else None
    return VerificationPublic(
        id=result.id,
        request_id=result.request_id,
        subject_id=subject_id,
        case_number=result.case_number,
        legal_basis=result.legal_basis,
        probe_sha256=result.probe_sha256,
        probe_quality=result.probe_quality,
        model_id=result.model_id,
        threshold=result.threshold,
        score=result.best_score,
        template_id=best.template_id if best else None,
        decision="same" if best else "different",
        duration_ms=result.duration_ms,
        created=result.created,
    )
