"""Evaluations kept on record, and the search threshold calibrated from one.

Each calls one service method; the roles are the service's::

    facedocket evaluate photos/ --json > run.json && facedocket evaluation save run.json
    facedocket evaluation show 1                                           # auditors, supervisors, admins
    facedocket evaluation calibrate 1 --target-fmr 0.001                   # admins
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from facedocket.cli import cli
from facedocket.cli.common import _echo_json, echo
from facedocket.cli.service import _actor, _plain, _service, _show, _table, json_option, token_option


@cli.group("evaluation")
def evaluation_group() -> None:
    """Evaluations kept on record, and the search threshold calibrated from one.

    Make a result with `facedocket evaluate DATA_DIR --json` (or store it directly with
    `facedocket evaluate --save`).
    """


def _read_result(path: Path) -> dict[str, Any]:
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        message = f"{path} is not JSON ({exc}); give the output of `facedocket evaluate --json`"
        raise click.ClickException(message) from None
    if not isinstance(result, dict):
        raise click.ClickException(f"{path} holds no JSON object; give the output of `facedocket evaluate --json`")
    return result


@evaluation_group.command("save")
@click.argument("result_file", metavar="RESULT.json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@token_option
@json_option
@click.pass_context
def evaluation_save(ctx: click.Context, result_file: Path, token: str | None, as_json: bool) -> None:
    """Keep an evaluation result (the JSON of `facedocket evaluate --json`) on record
    (auditors, supervisors, admins). Prints the run's id; the saving is recorded."""
    run_id = _service(ctx).evaluation.save_evaluation(_actor(ctx, token), _read_result(result_file))
    _show({"id": run_id}, as_json, f"evaluation run {run_id} saved")


@evaluation_group.command("list")
@token_option
@json_option
@click.pass_context
def evaluation_list(ctx: click.Context, token: str | None, as_json: bool) -> None:
    """List your agency's evaluation runs (auditors, supervisors, admins)."""
    runs = [r.summary() for r in _service(ctx).evaluation.list_evaluations(_actor(ctx, token))]
    rows = [[str(r["id"]), str(r["created"])[:16], r["model"], r["detector"], r["fingerprint"] or "-"] for r in runs]
    lines = _table(["run", "created", "model", "detector", "data set fingerprint"], rows)
    _show(runs, as_json, "\n".join(lines) if runs else "no evaluation runs")


def _figure(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else str(value)


def _evaluation_text(run: dict[str, Any]) -> str:
    ver = run.get("verification") or {}
    fingerprint = run.get("fingerprint")
    if isinstance(fingerprint, dict):
        fingerprint = fingerprint.get("sha256")
    lines = [
        f"evaluation run {run['id']} of {run['created']}",
        f"  model {run.get('model')}, detector {run.get('detector')}",
        f"  data set {run.get('data_dir', '-')}, fingerprint {fingerprint or '-'}",
    ]
    if "images" in run:
        lines.append(
            f"  images {run['images']}, identities {run.get('identities', '-')}, "
            f"detection failures {run.get('detection_failures', '-')}"
        )
    if ver:
        lines.append(
            f"  genuine pairs {ver.get('genuine_pairs', '-')}, impostor pairs {ver.get('impostor_pairs', '-')}"
        )
        for fmr, fnmr in (ver.get("fnmr_at_fmr") or {}).items():
            threshold = (ver.get("threshold_at_fmr") or {}).get(fmr)
            lines.append(f"  FNMR at FMR {fmr}: {_figure(fnmr)} (threshold {_figure(threshold)})")
        if "eer" in ver:
            lines.append(f"  EER: {_figure(ver['eer'])}")
    ident = run.get("identification") or {}
    if "rank1" in ident:
        lines.append(f"  rank-1 {_figure(ident['rank1'])}")
    table = ver.get("fmr_table") or []
    if table:
        lines.append("  thresholds it measured (for `facedocket evaluation calibrate --target-fmr`):")
        rows = [[f"{row['fmr']:g}", _figure(row["threshold"]), _figure(row.get("fnmr", "-"))] for row in table]
        lines += [f"    {line}" for line in _table(["FMR", "threshold", "FNMR"], rows)]
    if "groups" in run:
        lines.append(f"  per-group figures for: {', '.join(sorted(run['groups']))} (see --json)")
    return "\n".join(lines)


@evaluation_group.command("show")
@click.argument("run_id", type=int)
@token_option
@json_option
@click.pass_context
def evaluation_show(ctx: click.Context, run_id: int, token: str | None, as_json: bool) -> None:
    """Show evaluation run RUN_ID (auditors, supervisors, admins); --json gives the whole
    result as saved."""
    run = _service(ctx).evaluation.get_evaluation(_actor(ctx, token), run_id).as_dict()
    if as_json:
        _echo_json(_plain(run))
        return
    echo(_evaluation_text(run))


@evaluation_group.command("calibrate")
@click.argument("run_id", type=int)
@click.option("--target-fmr", type=float, required=True, help="The false match rate to hold, e.g. 0.001.")
@click.option("--gallery", "gallery_ref", help="Only for this gallery (name or id); default every gallery.")
@token_option
@json_option
@click.pass_context
def evaluation_calibrate(
    ctx: click.Context, run_id: int, target_fmr: float, gallery_ref: str | None, token: str | None, as_json: bool
) -> None:
    """Store the threshold evaluation run RUN_ID measured for --target-fmr (admins): searches
    of the run's model (in one gallery, with --gallery) then default to it.

    The FMR must be one the run measured (see `facedocket evaluation show`). The policy's
    threshold floor still applies. The calibration is recorded.
    """
    service, actor = _service(ctx), _actor(ctx, token)
    gallery_id = service.galleries.gallery_by_name(actor, gallery_ref).id if gallery_ref else None
    threshold = service.evaluation.calibrate(actor, run_id, target_fmr, gallery_id)
    scope = f"gallery {gallery_id}" if gallery_id is not None else "every gallery of the run's model"
    data = {"evaluation_run_id": run_id, "target_fmr": target_fmr, "gallery_id": gallery_id, "threshold": threshold}
    text = f"threshold {threshold:.4f} for FMR {target_fmr:g} set for {scope} from evaluation run {run_id}"
    _show(data, as_json, text + "; searches now default to it")
