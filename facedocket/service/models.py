"""Template models: the shipped cards, and an operator's own ONNX models registered with a
card (``facedocket model add CARD.toml``) and calibrated on the operator's data
(``facedocket calibrate MODEL DATA_DIR``).

Registering copies the card and its weights into the data directory
(``HOME/models/<model id>/``), checks the copy's SHA-256 against the card, checks that the
network gives templates of the card's size, and records the model in the database (one
table per installation, ``registered_model``), with the audit event, in one transaction.
Every service start loads the registered models again (see
:mod:`facedocket.service.model_registry`), so their galleries keep working after a restart.

Calibrating runs the evaluation protocol (:func:`facedocket.service.evaluation.run_evaluation`)
with the model on a folder-per-identity data set of the operator's, keeps the evaluation on
record, and stores the calibration it gives (the threshold for the target false-match rate
and the FMR table, with the data and date: :func:`facedocket.oversight.evaluation.calibration_of`)
with the registered model. The model's card then carries it, so policy floors
(``search.threshold_floor_fmr``) and the expected-false-candidate estimates resolve through
it as through a shipped card's. Shipped models keep their cards' calibrations; an agency's own
threshold for any model is ``facedocket evaluation calibrate``.

Example::

    info = service.models.add_model(admin, Path("agency-arcface.toml"))
    info = service.models.calibrate(admin, info.model_id, Path("/data/agency-faces"))
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from facedocket.errors import Conflict, InvalidInput, NotFound
from facedocket.governance.permissions import OTHER, Actor, require
from facedocket.oversight import evaluation
from facedocket.oversight.evaluation import calibration_of
from facedocket.service.context import Area, Context
from facedocket.service.evaluation import Evaluations, EvaluationSpec, run_evaluation
from facedocket.service.model_registry import CARD_FILE
from facedocket.store.queries import models as queries
from facedocket.store.tables import RegisteredModel
from facedocket.vision import models
from facedocket.vision.models import ModelCard

MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")
"""A registered model's id: it names its folder under HOME/models."""


@dataclass(frozen=True)
class ModelInfo:
    """A template model as this installation knows it."""

    model_id: str
    description: str
    licence: str
    source: str
    sha256: str
    dimensions: int
    shipped: bool
    roles: tuple[str, ...]
    galleries: int
    """Galleries of this installation (every agency) that use it."""
    calibration: dict[str, Any] | None
    """The card's calibration: threshold, target_fmr, fnmr_at_threshold, data, date, flip, fmr_table."""
    registered: datetime | None = None
    problem: str = ""
    """Why a registered model cannot be used now (its files failed their check), else empty."""


def _info(card: ModelCard, shipped: bool, galleries: int, row: RegisteredModel | None = None,
          problem: str = "") -> ModelInfo:  # fmt: skip
    calibration = asdict(card.calibration) if card.calibration is not None else None
    return ModelInfo(card.model_id, card.description, card.licence, card.source, card.sha256, card.dimensions,
                     shipped, tuple(models.model_roles(card.model_id)), galleries, calibration,
                     row.registered if row is not None else None, problem)  # fmt: skip


class Models(Area):
    """Template models: list, register, calibrate (see the module docstring)."""

    def __init__(self, ctx: Context, evaluations: Evaluations) -> None:
        super().__init__(ctx)
        self.evaluations = evaluations

    def list_models(self, actor: Actor) -> list[ModelInfo]:
        """Every template model of this installation (shipped and registered), with the
        galleries that use it and its calibration."""
        require(actor, "model.read")
        with self.ctx.read() as session:
            used = queries.galleries_per_model(session)
            out = []
            for model_id in models.shipped_model_ids():
                card = models.model_card(model_id)
                if card.kind == "template":
                    out.append(_info(card, True, used.get(model_id, 0)))
            for row in queries.registered(session):
                out.append(self._registered_info(session, row, used.get(row.model_id, 0)))
            return out

    def get_model(self, actor: Actor, model_id: str) -> ModelInfo:
        """One template model of this installation."""
        for info in self.list_models(actor):
            if info.model_id == model_id:
                return info
        raise NotFound(f"no template model {model_id!r} here; `facedocket models` lists them")

    def _registered_info(self, session: Session, row: RegisteredModel, galleries: int) -> ModelInfo:
        try:
            card = self.ctx.models.card(row.model_id, session)
            return _info(card, False, galleries, row)
        except Exception as e:  # a damaged model is listed with its problem, not hidden
            card = models.card_from_dict({**row.card, "calibration": row.calibration})
            return _info(card, False, galleries, row, str(e))

    # --- registering ----------------------------------------------------------------------

    def add_model(self, actor: Actor, card_path: Path) -> ModelInfo:
        """Register the operator's ONNX template model described by ``card_path`` (TOML or
        JSON; see docs/models.md): its files are copied into the data directory and checked,
        and the model is recorded (admins of the operator agency)."""
        require(actor, "model.register", OTHER)
        card = models.load_card(card_path, register=False)  # the card and its file's SHA-256
        self._check_new(card)
        with self.ctx.read() as session:
            if queries.model(session, card.model_id) is not None:
                raise Conflict(f"model {card.model_id!r} is registered already; give a new card another model_id")
        self.ctx.models.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{card.model_id}.", dir=self.ctx.models.folder))
        try:
            copied = self._copy(card, staging)
            final = self.ctx.models.folder / card.model_id
            with self.ctx.write() as session:
                if queries.model(session, card.model_id) is not None:
                    raise Conflict(f"model {card.model_id!r} is registered already")
                row = RegisteredModel(model_id=card.model_id, card=_card_record(copied), sha256=copied.sha256,
                                      registered_by=actor.user_id, registered=self.clock(), revision=0)  # fmt: skip
                session.add(row)
                session.flush()
                self.ctx.audit(session, actor, "model.registered", "model", card.model_id,
                               {"sha256": card.sha256, "licence": card.licence, "source": card.source,
                                "dimensions": card.dimensions})  # fmt: skip
                if final.exists():  # left by a registration that failed after copying
                    shutil.rmtree(final)
                staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.get_model(actor, card.model_id)

    def _check_new(self, card: ModelCard) -> None:
        if card.model_id in models.shipped_model_ids():
            raise Conflict(f"{card.model_id!r} is a shipped model; give the card another model_id")
        if not MODEL_ID.fullmatch(card.model_id):
            raise InvalidInput(
                f"model id {card.model_id!r} must be 1 to 80 lowercase letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if card.kind != "template" or card.implementation != "onnx":
            raise InvalidInput("only template models run by ONNX Runtime can be registered (kind = \"template\", "
                               "implementation = \"onnx\")")  # fmt: skip
        if card.calibration is not None or card.other_calibrations:
            raise InvalidInput(
                "a registered model's card carries no calibration: run `facedocket calibrate MODEL DATA_DIR` "
                "on your data once it is registered"
            )

    def _copy(self, card: ModelCard, folder: Path) -> ModelCard:
        """Copy the weights and write ``card.json`` into ``folder``; returns the copy's card,
        loaded back (its SHA-256 checked) and its network run once."""
        source = models.weights_path(card)
        target = folder / source.name
        shutil.copyfile(source, target)
        record = _card_record(replace(card, file=target.name))
        (folder / CARD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        copied = models.load_card(folder / CARD_FILE, register=False)
        from facedocket.vision.template_models import OnnxTemplateModel

        OnnxTemplateModel(copied)  # the network loads and gives templates of the card's size
        return copied

    # --- calibrating ----------------------------------------------------------------------

    def calibrate_dataset(self, actor: Actor, model_id: str, dataset: str, **options: Any) -> ModelInfo:
        """:meth:`calibrate` on a data set named by one folder name under the
        ``evaluation_data_dir`` setting (what the API reaches; the permission is checked
        before the name is looked up)."""
        require(actor, "model.register", OTHER)
        return self.calibrate(actor, model_id, self.evaluations.dataset(dataset), **options)

    def calibrate(self, actor: Actor, model_id: str, data_dir: Path, progress: Callable[[int], None] | None = None,
                  target_fmr: float = 0.001, max_identities: int | None = None, max_impostor_pairs: int = 100_000,
                  seed: int = 0) -> ModelInfo:  # fmt: skip
        """Calibrate a registered model on ``data_dir`` (a folder with one sub-folder per
        identity): the evaluation is kept on record and its calibration stored with the
        model, in one transaction (admins of the operator agency)."""
        require(actor, "model.register", OTHER)
        require(actor, "evaluation.record")
        if model_id in models.shipped_model_ids():
            raise InvalidInput(
                f"{model_id} is a shipped model: its card's calibration comes with FaceDocket; an agency's own "
                "threshold for it is `facedocket evaluation calibrate`"
            )
        self.ctx.models.card(model_id)
        identities = evaluation.list_identities(data_dir, max_identities)
        evaluation.check_measurable(target_fmr, evaluation.impostor_pair_count(identities, max_impostor_pairs))
        spec = EvaluationSpec(data_dir, max_identities, max_impostor_pairs, seed, target_fmr=target_fmr, bootstrap=1)
        result = run_evaluation(self.ctx.pipeline.for_model(model_id), spec, progress).result
        fingerprint = str((result.get("fingerprint") or {}).get("sha256", ""))
        calibration = calibration_of(result, f"{data_dir.name} (fingerprint {fingerprint[:16]})", target_fmr,
                                     self.clock().strftime("%Y-%m-%d"))  # fmt: skip
        with self.ctx.write() as session:
            row = queries.model(session, model_id, lock=True)
            if row is None:
                raise NotFound(f"model {model_id!r} is not registered")
            run_id = self.evaluations.record(session, actor, result)
            row.calibration = json.loads(json.dumps(asdict(calibration)))
            row.calibrated, row.calibrated_by, row.evaluation_run_id = self.clock(), actor.user_id, run_id
            row.revision += 1
            self.ctx.audit(session, actor, "model.calibrated", "model", model_id,
                           {"threshold": calibration.threshold, "target_fmr": target_fmr,
                            "fnmr_at_threshold": calibration.fnmr_at_threshold,
                            "genuine_pairs": calibration.genuine_pairs, "impostor_pairs": calibration.impostor_pairs,
                            "fingerprint": fingerprint, "evaluation_run_id": run_id})  # fmt: skip
        self.ctx.models.card(model_id)
        return self.get_model(actor, model_id)


def _card_record(card: ModelCard) -> dict[str, Any]:
    """The card as stored: JSON-ready, without the machine's path to the weights."""
    record = json.loads(json.dumps(card.as_dict()))
    record.pop("path", None)
    return dict(record)
