"""Template models: the installation's models (shipped and the operator's own), and
calibrating a registered model on a data set the server holds. Registering a model
(copying its weights in) is done on the server: ``facedocket model add CARD.toml``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from facedocket.api.deps import ActorDep, ServiceDep
from facedocket.api.schemas import error_responses
from facedocket.vocab import TEXT_LIMITS

ModelPath = Annotated[str, Path(max_length=TEXT_LIMITS["model id"], description="A template model's id (GET /models).")]

router = APIRouter(tags=["models"], responses=error_responses(401, 403, 422))


class ModelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    model_id: str = Field(description="The template model's id; galleries and templates record it.")
    description: str = Field(description="What the model is.")
    licence: str = Field(description="The weights' licence.")
    source: str = Field(description="Where the weights come from.")
    sha256: str = Field(description="SHA-256 of the weights file, checked whenever the model is loaded.")
    dimensions: int = Field(description="Length of its templates.")
    shipped: bool = Field(description="True for a model that ships with FaceDocket; false for an operator's own.")
    roles: list[str] = Field(description="'default for new galleries', or the model of older galleries.")
    galleries: int = Field(description="Galleries of this installation (every agency) that use it.")
    calibration: dict[str, Any] | None = Field(
        description="The calibration policy floors and false-candidate estimates resolve through: threshold, "
        "target_fmr, fnmr_at_threshold, data, date, flip and the fmr_table; null for a registered model not yet "
        "calibrated (it cannot be searched under a policy floor until it is)."
    )
    registered: datetime | None = Field(description="When an operator's model was registered (UTC).")
    problem: str = Field(description="Why a registered model cannot be used now (its files failed their check).")


class ModelsPublic(BaseModel):
    data: list[ModelPublic] = Field(description="The template models of this installation.")
    count: int = Field(description="How many are listed.")


class ModelCalibrationCreate(BaseModel):
    dataset: str = Field(
        min_length=1, max_length=200,
        description="A folder (one sub-folder per identity) under the server's evaluation data directory: the "
        "operator's labelled photos.",
    )  # fmt: skip
    target_fmr: float = Field(
        0.001, gt=0, lt=1, allow_inf_nan=False, description="The false-match rate whose threshold is stored."
    )
    max_identities: int | None = Field(None, ge=2, le=100_000, description="Use only the first N identities.")
    max_impostor_pairs: int = Field(100_000, ge=1, le=10_000_000, description="Impostor sample size.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the deterministic samples.")


@router.get("/models")
def list_models(actor: ActorDep, service: ServiceDep) -> ModelsPublic:
    """The template models of this installation: the shipped ones and the operator's own,
    with their calibration and how many galleries use each."""
    found = [ModelPublic.model_validate(m) for m in service.models.list_models(actor)]
    return ModelsPublic(data=found, count=len(found))


@router.get("/models/{model_id}", responses=error_responses(404))
def get_model(model_id: ModelPath, actor: ActorDep, service: ServiceDep) -> ModelPublic:
    """One template model of this installation."""
    return ModelPublic.model_validate(service.models.get_model(actor, model_id))


@router.post("/models/{model_id}/calibration", status_code=201, responses=error_responses(400, 404))
def calibrate_model(
    model_id: ModelPath, body: ModelCalibrationCreate, actor: ActorDep, service: ServiceDep
) -> ModelPublic:
    """Calibrate an operator's registered model on a data set held on the server (admins of
    the operator agency): the evaluation protocol runs to the end (minutes for thousands of
    photos), the evaluation is kept on record, and the threshold for ``target_fmr`` and the
    FMR table are stored with the model, so policy floors and estimates resolve through
    them. Recorded."""
    info = service.models.calibrate_dataset(actor, model_id, body.dataset, target_fmr=body.target_fmr,
                                            max_identities=body.max_identities,
                                            max_impostor_pairs=body.max_impostor_pairs, seed=body.seed)  # fmt: skip
    return ModelPublic.model_validate(info)
