"""Accuracy evaluations: run one on a data set the server holds, keep results on record, and
store the threshold one recommends. The same use case as `facedocket evaluate` and
``service.evaluation.evaluate``; the data set is a folder under the ``evaluation_data_dir``
setting, named by the caller (no path is ever taken from a request)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from facedocket.api.deps import ActorDep, ServiceDep
from facedocket.api.schemas import error_responses
from facedocket.service.evaluation import EvaluationSpec

router = APIRouter(tags=["evaluations"], responses=error_responses(401, 403, 422))


class EvaluationCreate(BaseModel):
    """An evaluation result: the JSON of `facedocket evaluate --json`, kept whole."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="The template model evaluated.")
    detector: str = Field(description="The face detector used.")
    verification: dict[str, Any] = Field(
        description="The 1:1 figures, with fnmr_at_fmr, threshold_at_fmr and fmr_table (thresholds per FMR)."
    )
    fingerprint: dict[str, Any] | str | None = Field(
        None, description="The data set's fingerprint (sha256 over its files), as evaluate gives it."
    )
    settings: dict[str, Any] | None = Field(None, description="The settings the evaluation ran with.")


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
    target_fmr: float = Field(gt=0, lt=1, description="The false match rate to hold, one the run measured, e.g. 0.001.")
    gallery_id: int | None = Field(None, description="Only for this gallery of your agency; default every gallery.")


class CalibrationPublic(BaseModel):
    evaluation_run_id: int = Field(description="The run the threshold comes from.")
    target_fmr: float = Field(description="The false match rate it holds.")
    gallery_id: int | None = Field(description="The gallery it is for; null: every gallery of the run's model.")
    threshold: float = Field(description="The threshold searches now default to (the policy's floor still applies).")


class EvaluationRunCreate(BaseModel):
    dataset: str = Field(
        min_length=1, max_length=200,
        description="A folder (one sub-folder per identity) under the server's evaluation data directory.",
    )  # fmt: skip
    max_identities: int | None = Field(None, ge=2, le=100_000, description="Use only the first N identities.")
    max_impostor_pairs: int = Field(100_000, ge=1, le=10_000_000, description="Impostor sample size.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the deterministic samples.")
    groups: str | None = Field(
        None, max_length=200,
        description="A CSV of group labels per identity inside the data set folder (adds per-group figures).",
    )  # fmt: skip
    target_fmr: float = Field(0.001, gt=0, lt=1, description="Overall FMR the per-group threshold is set for.")
    bootstrap: int = Field(1000, ge=1, le=100_000, description="Bootstrap replicates for the intervals.")
    save: bool = Field(True, description="Keep the result on record (the answer then carries its run id).")
    model_id: str | None = Field(
        None, max_length=80,
        description="The template model to evaluate (GET /models); default dlib-resnet-v1, as `facedocket evaluate`.",
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
def get_evaluation(run_id: int, actor: ActorDep, service: ServiceDep) -> EvaluationPublic:
    """One evaluation run of your agency, the whole result as saved (auditors, supervisors,
    admins)."""
    return EvaluationPublic.model_validate(service.evaluation.get_evaluation(actor, run_id).as_dict())


@router.post("/evaluations/{run_id}/calibrate", responses=error_responses(400, 404))
def calibrate(run_id: int, body: CalibrationCreate, actor: ActorDep, service: ServiceDep) -> CalibrationPublic:
    """Store the threshold an evaluation run measured for ``target_fmr`` (admins): searches of
    the run's model (in one gallery, with ``gallery_id``) then default to it; the policy's
    threshold floor still applies. The FMR must be one the run measured (400 otherwise).
    Recorded."""
    threshold = service.evaluation.calibrate(actor, run_id, body.target_fmr, body.gallery_id)
    return CalibrationPublic(
        evaluation_run_id=run_id, target_fmr=body.target_fmr, gallery_id=body.gallery_id, threshold=threshold
    )
