"""Accuracy evaluations: run one on a data set the server holds, keep results on record, and
store the threshold one recommends. The same use case as `facedocket evaluate` and
``service.evaluation.evaluate``; the data set is a folder under the ``evaluation_data_dir``
setting, named by the caller (no path is ever taken from a request)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from facedocket.api.deps import ActorDep, IdPath, ServiceDep
from facedocket.api.schemas import error_responses, id_field, text_field
from facedocket.service.evaluation import EvaluationSpec
from facedocket.service.inputs import json_problem
from facedocket.vocab import TEXT_LIMITS

router = APIRouter(tags=["evaluations"], responses=error_responses(401, 403, 422))


class EvaluationCreate(BaseModel):
    """An evaluation result: the JSON of `facedocket evaluate --json`, kept whole."""

    model_config = ConfigDict(extra="allow")

    model: str = text_field("model id", "The template model evaluated.")
    detector: str = text_field("model id", "The face detector used.")
    verification: dict[str, Any] = Field(
        description="The 1:1 figures, with fnmr_at_fmr, threshold_at_fmr and fmr_table (thresholds per FMR)."
    )
    groups: dict[str, Any] | None = Field(
        None, description="Per-group figures, by group column (as `facedocket evaluate --groups` gives them)."
    )
    fingerprint: dict[str, Any] | Annotated[str, StringConstraints(max_length=TEXT_LIMITS["sha256"])] | None = Field(
        None, description="The data set's fingerprint (sha256 over its files), as evaluate gives it."
    )
    settings: dict[str, Any] | None = Field(None, description="The settings the evaluation ran with.")

    @model_validator(mode="after")
    def _storable(self) -> EvaluationCreate:
        """Numbers finite, text printable and valid Unicode, nesting bounded (everything is kept and answered)."""
        if problem := json_problem(self.model_dump()):
            raise ValueError(f"the evaluation result cannot be kept: {problem}")
        return self


class EvaluationSummaryPublic(BaseModel):
    id: int = Field(description="The evaluation run's id.")
    created: str = Field(description="When it was saved (ISO 8601).")
    fingerprint: str = Field(description="SHA-256 fingerprint of the data set; empty when the result has none.")
    model: str = Field(description="The template model evaluated.")
    detector: str = Field(description="The face detector used.")


class EvaluationsPublic(BaseModel):
    data: list[EvaluationSummaryPublic] = Field(description="Your agency's evaluation runs, oldest first.")
    count: int = Field(description="How many are listed.")


class EvaluationPublic(BaseModel):
    """An evaluation run: the result as saved (every field of `facedocket evaluate --json`),
    with its id and when it was saved."""

    model_config = ConfigDict(extra="allow")

    id: int = Field(description="The evaluation run's id.")
    created: str = Field(description="When it was saved (ISO 8601).")
    model: str = Field(description="The template model evaluated.")
    detector: str = Field(description="The face detector used.")
    verification: dict[str, Any] = Field(description="The 1:1 figures, with the thresholds per FMR.")


class CalibrationCreate(BaseModel):
    target_fmr: float = Field(
        gt=0, lt=1, allow_inf_nan=False, description="The false match rate to hold, one the run measured, e.g. 0.001."
    )
    gallery_id: int | None = id_field("Only for this gallery of your agency; default every gallery.", None)


class CalibrationPublic(BaseModel):
    evaluation_run_id: int = Field(description="The run the threshold comes from.")
    target_fmr: float = Field(description="The false match rate it holds.")
    gallery_id: int | None = Field(description="The gallery it is for; null: every gallery of the run's model.")
    threshold: float = Field(description="The threshold searches now default to (the policy's floor still applies).")


class EvaluationRunCreate(BaseModel):
    dataset: str = text_field(
        "data set", "A folder (one sub-folder per identity) under the server's evaluation data directory.",
        min_length=1,
    )  # fmt: skip
    max_identities: int | None = Field(None, ge=2, le=100_000, description="Use only the first N identities.")
    max_impostor_pairs: int = Field(100_000, ge=1, le=10_000_000, description="Impostor sample size.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the deterministic samples.")
    groups: str | None = text_field(
        "data set", "A CSV of group labels per identity inside the data set folder (adds per-group figures).", None
    )
    target_fmr: float = Field(
        0.001, gt=0, lt=1, allow_inf_nan=False, description="Overall FMR the per-group threshold is set for."
    )
    bootstrap: int = Field(1000, ge=1, le=100_000, description="Bootstrap replicates for the intervals.")
    save: bool = Field(True, description="Keep the result on record (the answer then carries its run id).")
    model_id: str | None = text_field(
        "model id", "The template model to evaluate (GET /models); default dlib-resnet-v1, as `facedocket evaluate`.",
        None,
    )  # fmt: skip


class EvaluationRunPublic(BaseModel):
    """The result of an evaluation (every field of `facedocket evaluate --json`) and its run id
    when kept on record."""

    model_config = ConfigDict(extra="allow")

    run_id: int | None = Field(description="The evaluation run on record; null when not saved.")
    model: str = Field(description="The template model evaluated.")
    detector: str = Field(description="The face detector used.")
    verification: dict[str, Any] = Field(description="The 1:1 figures, with the thresholds per FMR.")


@router.post("/evaluations/run", status_code=201, responses=error_responses(400, 404))
def run_evaluation(body: EvaluationRunCreate, actor: ActorDep, service: ServiceDep) -> EvaluationRunPublic:
    """Measure accuracy on a data set held on the server (auditors, supervisors, admins):
    FNMR at FMR, EER, rank-1, FNIR at FPIR, detection failures, speed, and with ``groups``
    per-group figures. Runs to the end before it answers (minutes for thousands of photos).
    Saving it is recorded."""
    folder = service.evaluation.dataset(body.dataset)
    groups = service.evaluation.dataset_file(folder, body.groups) if body.groups else None
    spec = EvaluationSpec(folder, body.max_identities, body.max_impostor_pairs, body.seed, groups, (),
                          body.target_fmr, body.bootstrap)  # fmt: skip
    outcome = service.evaluation.evaluate(actor, spec, save=body.save, model_id=body.model_id)
    return EvaluationRunPublic.model_validate(outcome.result | {"run_id": outcome.run_id})


@router.post("/evaluations", status_code=201, responses=error_responses(400))
def save_evaluation(body: EvaluationCreate, actor: ActorDep, service: ServiceDep) -> EvaluationSummaryPublic:
    """Keep an evaluation result (the JSON of `facedocket evaluate --json`) on record
    (auditors, supervisors, admins). The saving is recorded."""
    run_id = service.evaluation.save_evaluation(actor, body.model_dump(exclude_unset=True))
    (saved,) = [r.summary() for r in service.evaluation.list_evaluations(actor) if r.id == run_id]
    return EvaluationSummaryPublic.model_validate(saved)


@router.get("/evaluations")
def list_evaluations(actor: ActorDep, service: ServiceDep) -> EvaluationsPublic:
    """Your agency's evaluation runs, oldest first (auditors, supervisors, admins)."""
    runs = [EvaluationSummaryPublic.model_validate(r.summary()) for r in service.evaluation.list_evaluations(actor)]
    return EvaluationsPublic(data=runs, count=len(runs))


@router.get("/evaluations/{run_id}", responses=error_responses(404))
def get_evaluation(run_id: IdPath, actor: ActorDep, service: ServiceDep) -> EvaluationPublic:
    """One evaluation run of your agency, the whole result as saved (auditors, supervisors,
    admins)."""
    return EvaluationPublic.model_validate(service.evaluation.get_evaluation(actor, run_id).as_dict())


@router.post("/evaluations/{run_id}/calibrate", responses=error_responses(400, 404))
def calibrate(run_id: IdPath, body: CalibrationCreate, actor: ActorDep, service: ServiceDep) -> CalibrationPublic:
    """Store the threshold an evaluation run measured for ``target_fmr`` (admins): searches of
    the run's model (in one gallery, with ``gallery_id``) then default to it; the policy's
    threshold floor still applies. The FMR must be one the run measured (400 otherwise).
    Recorded."""
    threshold = service.evaluation.calibrate(actor, run_id, body.target_fmr, body.gallery_id)
    return CalibrationPublic(
        evaluation_run_id=run_id, target_fmr=body.target_fmr, gallery_id=body.gallery_id, threshold=threshold
    )
