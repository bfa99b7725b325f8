"""Accuracy evaluations: running one (the same use case for Python, the CLI and the API),
keeping it on record, and storing the threshold it recommends.

:func:`run_evaluation` measures a folder-per-identity data set with a pipeline (protocol in
:mod:`facedocket.oversight.evaluation`; per-group figures in
:mod:`facedocket.oversight.demographics`) and needs no database. :meth:`Evaluations.evaluate`
runs it for an actor and keeps the result on record; over the API, the data set is a folder
under the ``evaluation_data_dir`` setting, named by the caller (no other path is reachable).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from facedocket.errors import InvalidInput, NotFound
from facedocket.governance.permissions import Actor, require
from facedocket.oversight import demographics, evaluation
from facedocket.service.context import Area
from facedocket.service.galleries import owned_gallery
from facedocket.service.inputs import json_problem, text
from facedocket.store.queries import evaluations as queries
from facedocket.store.tables import Calibration, EvaluationRun
from facedocket.types import json_default
from facedocket.vision.pipeline import FacePipeline


@dataclass(frozen=True)
class EvaluationSpec:
    """What to evaluate and how (see `facedocket evaluate --help` for each option)."""

    data_dir: Path
    max_identities: int | None = None
    max_impostor_pairs: int = 100_000
    seed: int = 0
    groups_csv: Path | None = None
    group_columns: tuple[str, ...] = ()
    target_fmr: float = 0.001
    bootstrap: int = 1000
    max_group_impostor_pairs: int = 1_000_000
    report_path: Path | None = None


@dataclass(frozen=True)
class EvaluationResult:
    """An evaluation's result (every figure, as ``facedocket evaluate --json`` prints it),
    the run id when kept on record, and the report written, if any."""

    result: dict[str, Any]
    run_id: int | None = None
    report_path: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.result)


@dataclass(frozen=True)
class EvaluationRecord:
    """An evaluation kept on record."""

    id: int
    created: datetime
    fingerprint: str
    model: str
    detector: str
    results: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created.isoformat(), "fingerprint": self.fingerprint,
                "model": self.model, "detector": self.detector}  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return dict(self.results) | {"id": self.id, "created": self.created.isoformat()}


def _check(spec: EvaluationSpec) -> None:
    if not 0 < spec.target_fmr < 1:
        raise InvalidInput(f"target FMR {spec.target_fmr} must be between 0 and 1, e.g. 0.001")
    for name in ("max_impostor_pairs", "bootstrap", "max_group_impostor_pairs"):
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 10_000_000:
            raise InvalidInput(f"{name} must be a whole number from 1 to 10000000")


def run_evaluation(pipeline: FacePipeline, spec: EvaluationSpec,
                   progress: Callable[[int], None] | None = None) -> EvaluationResult:  # fmt: skip
    """Measure accuracy and speed on ``spec.data_dir`` (no database; see the module docstring)."""
    _check(spec)
    labels = demographics.read_groups(spec.groups_csv, spec.group_columns or None) if spec.groups_csv else None
    identities = evaluation.list_identities(spec.data_dir, spec.max_identities)
    extracted = evaluation.extract(pipeline, identities, progress)
    result = evaluation.evaluate(extracted, max_impostor_pairs=spec.max_impostor_pairs, seed=spec.seed)
    result["data_dir"] = str(spec.data_dir)
    result["fingerprint"] = evaluation.fingerprint(spec.data_dir, extracted.paths)
    result["settings"] = {
        "model": pipeline.model_id, "detector": pipeline.options.detector, "runtime": pipeline.options.runtime,
        "flip": pipeline.options.flip, "jitter": pipeline.jitter, "detection": asdict(pipeline.options.detection),
        "max_identities": spec.max_identities, "max_impostor_pairs": spec.max_impostor_pairs, "seed": spec.seed,
        "max_rank": 50, "groups": str(spec.groups_csv) if spec.groups_csv is not None else None,
        "group_columns": list(labels.columns) if labels is not None else [], "target_fmr": spec.target_fmr,
        "bootstrap": spec.bootstrap, "max_group_impostor_pairs": spec.max_group_impostor_pairs,
    }  # fmt: skip
    diff = None
    if labels is not None:
        diff = demographics.analyse(extracted, labels, target_fmr=spec.target_fmr,
                                    max_impostor_pairs=spec.max_impostor_pairs,
                                    max_group_impostor_pairs=spec.max_group_impostor_pairs, seed=spec.seed,
                                    bootstrap=spec.bootstrap)  # fmt: skip
        result |= diff.result
    if spec.report_path is not None:
        from facedocket.oversight import report

        overall = diff.overall if diff is not None else demographics.overall_scores(
            extracted, spec.max_impostor_pairs, spec.seed)  # fmt: skip
        report.write_report(spec.report_path, result, overall, diff)
    plain = json.loads(json.dumps(result, default=json_default))
    return EvaluationResult(plain, None, spec.report_path)


def recommended_threshold(results: dict[str, Any], target_fmr: float) -> float:
    """The run's threshold for ``target_fmr`` from its ``fmr_table`` (or ``thresholds``)."""
    verification = results.get("verification") or {}
    table = verification.get("fmr_table")
    for row in table or []:
        if abs(float(row["fmr"]) - target_fmr) <= target_fmr * 1e-9:
            return float(row["threshold"])
    # threshold_at_fmr holds every target even where too few impostor pairs measure it (the
    # table leaves those out), so it is only the fallback for a result without a table
    thresholds = (verification.get("threshold_at_fmr") or {}) if table is None else {}
    for key, value in thresholds.items():
        if abs(float(key) - target_fmr) <= target_fmr * 1e-9:
            return float(value)
    raise InvalidInput(f"the evaluation run has no threshold for FMR {target_fmr:g}; pick one it measured")


def _record(run: EvaluationRun, with_results: bool = True) -> EvaluationRecord:
    return EvaluationRecord(run.id, run.created, run.fingerprint, run.model_id, run.detector,
                            dict(run.results) if with_results else {})  # fmt: skip


class Evaluations(Area):
    """Running evaluations and keeping them on record (see the module docstring)."""

    def evaluate(self, actor: Actor, spec: EvaluationSpec, progress: Callable[[int], None] | None = None,
                 save: bool = True, pipeline: FacePipeline | None = None,
                 model_id: str | None = None) -> EvaluationResult:  # fmt: skip
        """Run an evaluation (with ``pipeline``, default the service's with template model
        ``model_id``, default its own; the role is checked before the long run) and, with
        ``save``, keep it on record."""
        require(actor, "evaluation.run")
        if save:
            require(actor, "evaluation.record")
        if pipeline is None:
            pipeline = self.ctx.pipeline
            if model_id is not None:
                self.ctx.models.choose(model_id)
                pipeline = pipeline.for_model(model_id)
        outcome = run_evaluation(pipeline, spec, progress)
        if not save:
            return outcome
        return EvaluationResult(outcome.result, self.save_evaluation(actor, outcome.result), outcome.report_path)

    def dataset(self, name: str) -> Path:
        """A data set folder under the ``evaluation_data_dir`` setting, by name (API callers
        reach nothing else)."""
        root = self.ctx.settings.resolved_evaluation_dir().resolve()
        name = text(name, "data set")  # refuses NUL and other characters no folder name holds
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise InvalidInput("a data set is named by one folder name under the evaluation data directory")
        path = (root / name).resolve()
        if path.parent != root or not path.is_dir():
            raise NotFound(f"no data set {name!r} under the evaluation data directory {root}")
        return path

    def dataset_file(self, folder: Path, name: str) -> Path:
        """A file directly inside a data set folder, by name (a group labels CSV)."""
        name = text(name, "data set")
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise InvalidInput("a data set file is named by its file name only")
        path = folder / name
        if not path.is_file():
            raise NotFound(f"no file {name!r} in the data set")
        return path

    def save_evaluation(self, actor: Actor, result: dict[str, Any]) -> int:
        """Keep an evaluation result (``facedocket evaluate --json``) on record."""
        require(actor, "evaluation.record")
        with self.ctx.write() as session:
            return self.record(session, actor, result)

    def record(self, session: Session, actor: Actor, result: dict[str, Any]) -> int:
        """Keep an evaluation result on record inside the caller's write transaction (with its
        audit event); returns the run id. The caller has checked ``evaluation.record``."""
        for key in ("model", "detector", "verification"):
            if key not in result:
                raise InvalidInput(f"an evaluation result needs {key!r}; give the JSON of `facedocket evaluate`")
        if problem := json_problem(result):
            raise InvalidInput(f"the evaluation result cannot be kept: {problem}")
        groups = result.get("groups") or {}
        if not isinstance(groups, dict):
            raise InvalidInput("groups must be an object: group column -> its figures")
        fingerprint = result.get("fingerprint") or ""
        if isinstance(fingerprint, dict):  # `facedocket evaluate` gives {"sha256": ..., "files": ..., "method": ...}
            fingerprint = fingerprint.get("sha256", "")
        run = EvaluationRun(agency_id=actor.agency_id, user_id=actor.user_id, fingerprint=str(fingerprint)[:64],
                            model_id=str(result["model"])[:80], detector=str(result["detector"])[:40],
                            settings=dict(result.get("settings") or {}), results=result,
                            created=self.clock())  # fmt: skip
        session.add(run)
        session.flush()
        self.ctx.audit(session, actor, "evaluation.recorded", "evaluation_run", run.id,
                       {"fingerprint": run.fingerprint, "model": run.model_id,
                        "groups": sorted(str(g) for g in groups)})  # fmt: skip
        return run.id

    def list_evaluations(self, actor: Actor) -> list[EvaluationRecord]:
        require(actor, "evaluation.record")
        with self.ctx.read() as session:
            return [_record(r, with_results=False) for r in queries.runs(session, actor.agency_id)]

    def get_evaluation(self, actor: Actor, run_id: int) -> EvaluationRecord:
        require(actor, "evaluation.record")
        with self.ctx.write() as session:
            run = queries.run(session, run_id)
            if run is None or run.agency_id != actor.agency_id:
                raise NotFound(f"no evaluation run {run_id} in your agency")
            self.ctx.audit(session, actor, "evaluation.viewed", "evaluation_run", run.id, {})
            return _record(run)

    def calibrate(self, actor: Actor, run_id: int, target_fmr: float, gallery_id: int | None = None) -> float:
        """Store the threshold the run recommends for ``target_fmr`` (for the model, or one
        gallery); searches then default to it. Returns the threshold."""
        require(actor, "calibration.set")
        with self.ctx.write() as session:
            run = queries.run(session, run_id)
            if run is None or run.agency_id != actor.agency_id:
                raise NotFound(f"no evaluation run {run_id} in your agency")
            if gallery_id is not None:
                owned_gallery(session, actor, gallery_id)
            threshold = recommended_threshold(run.results, target_fmr)
            session.add(Calibration(agency_id=actor.agency_id, model_id=run.model_id, gallery_id=gallery_id,
                                    target_fmr=target_fmr, threshold=threshold, evaluation_run_id=run.id,
                                    created_by=actor.user_id, created=self.clock()))  # fmt: skip
            self.ctx.audit(session, actor, "calibration.set", "evaluation_run", run.id,
                           {"target_fmr": target_fmr, "threshold": threshold, "gallery_id": gallery_id})  # fmt: skip
            return threshold
