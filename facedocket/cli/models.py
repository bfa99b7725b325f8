"""Template model commands: the installation's models, registering an operator's own ONNX
model, calibrating it on the operator's data, and re-embedding a gallery with another model.
Each calls one service method::

    facedocket model list
    facedocket model add agency-arcface.toml                      # operator agency's admins
    facedocket calibrate agency-arcface-r50 /data/agency-faces    # operator agency's admins
    facedocket gallery reembed booking --model sface-2021dec      # admins, supervisors
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from facedocket.cli import cli
from facedocket.cli.common import _progress
from facedocket.cli.service import _actor, _service, _show, gallery, json_option, token_option
from facedocket.service import ModelInfo


@cli.group("model")
def model_group() -> None:
    """Template models of this installation: the shipped ones and the operator's own.

    `facedocket models` prints the shipped model cards without a database.
    """


def _calibration_text(calibration: dict[str, Any] | None) -> str:
    if not calibration:
        return "not calibrated: run `facedocket calibrate MODEL DATA_DIR` before searching its galleries"
    return (
        f"threshold {calibration['threshold']} at FMR {calibration['target_fmr']:g} "
        f"(FNMR {calibration['fnmr_at_threshold']:.2%}) on {calibration['data']}, {calibration['date']}"
    )


def _model_text(info: ModelInfo) -> str:
    kind = "shipped" if info.shipped else "registered by the operator"
    roles = "".join(f", {role}" for role in info.roles)
    lines = [
        f"{info.model_id} ({kind}{roles}): {info.description}",
        f"  {info.dimensions}-d templates; licence {info.licence}; {info.galleries} gallery(ies) use it",
        f"  sha256 {info.sha256}",
        f"  {_calibration_text(info.calibration)}",
    ]
    if info.problem:
        lines.append(f"  cannot be used now: {info.problem}")
    return "\n".join(lines)


@model_group.command("list")
@token_option
@json_option
@click.pass_context
def model_list(ctx: click.Context, token: str | None, as_json: bool) -> None:
    """List the template models galleries can use here, with their calibration."""
    found = _service(ctx).models.list_models(_actor(ctx, token))
    _show(found, as_json, "\n".join(_model_text(m) for m in found))


@model_group.command("add")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@token_option
@json_option
@click.pass_context
def model_add(ctx: click.Context, card: Path, token: str | None, as_json: bool) -> None:
    """Register the operator's own ONNX template model described by CARD (a .toml or .json
    model card beside, or naming, its .onnx file; see docs/models.md) (admins of the
    operator agency).

    The card and its weights are copied into HOME/models/, the copy's SHA-256 is checked
    against the card's, the network is run once to check its template size, and the
    registration is recorded. It is loaded at every service start. Calibrate it with
    `facedocket calibrate` before searching its galleries under a policy floor.
    """
    info = _service(ctx).models.add_model(_actor(ctx, token), card)
    _show(info, as_json, f"registered {info.model_id}\n{_model_text(info)}")


@cli.command()
@click.argument("model_id")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--target-fmr", type=float, default=0.001, show_default=True,
              help="The false-match rate whose threshold is stored (besides the FMR table).")  # fmt: skip
@click.option("--max-identities", type=int, help="Use only the first N identities (sorted).")
@click.option("--max-impostor-pairs", type=int, default=100_000, show_default=True, help="Impostor sample size.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the deterministic samples.")
@token_option
@json_option
@click.pass_context
def calibrate(
    ctx: click.Context, model_id: str, data_dir: Path, target_fmr: float, max_identities: int | None,
    max_impostor_pairs: int, seed: int, token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Calibrate the operator's registered model MODEL_ID on DATA_DIR, a folder with one
    sub-folder per identity of the operator's own photos (admins of the operator agency).

    Runs the evaluation protocol (docs/evaluation.md) with the model, keeps the evaluation
    on record, and stores the threshold for --target-fmr and the FMR table with the model:
    policy floors (false-match rates) and the expected-false-candidate estimates then
    resolve through them. A rate needs at least 1/rate impostor pairs. Recorded.
    """
    from facedocket.oversight.evaluation import list_identities

    service, actor = _service(ctx), _actor(ctx, token)
    total = sum(len(photos) for photos in list_identities(data_dir, max_identities).values())
    with _progress(total, f"calibrating {model_id}") as advance:
        info = service.models.calibrate(actor, model_id, data_dir, advance, target_fmr, max_identities,
                                        max_impostor_pairs, seed)  # fmt: skip
    _show(info, as_json, f"calibrated {info.model_id}: {_calibration_text(info.calibration)}")


@gallery.command("reembed")
@click.argument("gallery_ref")
@click.option("--model", "model_id", help="The template model to re-embed with (see `facedocket model list`).")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Photos per transaction.")
@click.option("--drop-unkept", is_flag=True,
              help="Delete the templates whose photo is not kept when swapping, instead of stopping.")  # fmt: skip
@click.option("--abandon", is_flag=True, help="Abandon the gallery's unfinished re-embedding instead.")
@token_option
@json_option
@click.pass_context
def gallery_reembed(
    ctx: click.Context, gallery_ref: str, model_id: str | None, batch_size: int, drop_unkept: bool, abandon: bool,
    token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Re-enrol a gallery with another template model from its kept photos (admins,
    supervisors).

    Every template is made again with --model from the photo it came from; the new
    templates are kept aside until all are made, then swapped in with the gallery's model
    in one transaction, and the index is rebuilt. Searches use the old templates until then;
    enrolment into the gallery waits. Resumable: run it again after an interruption and it
    goes on where it stopped. Photos in which the new model finds no usable face lose their
    template (counted). A gallery that keeps no photos says so.
    """
    service, actor = _service(ctx), _actor(ctx, token)
    target = service.galleries.gallery_by_name(actor, gallery_ref)
    if abandon:
        staged = service.reembedding.abandon(actor, target.id)
        _show({"abandoned": True, "staged_deleted": staged}, as_json,
              f"gallery {target.id}: re-embedding abandoned, {staged} staged template(s) deleted")  # fmt: skip
        return
    if not model_id:
        raise click.UsageError("give --model ID (or --abandon)")
    with _progress(target.templates, f"re-embedding {target.name} with {model_id}") as advance:
        report = service.reembedding.reembed(actor, target.id, model_id, advance, batch_size, drop_unkept)
    lost = ", ".join(f"{reason} {n}" for reason, n in sorted(report.failed.items())) or "none"
    _show(report.as_dict(), as_json,
          f"gallery {target.id} now uses {report.model_id} (was {report.from_model}): {report.templates} templates; "
          f"{report.embedded} photos embedded now, {report.already_staged} before; lost (no usable face) {lost}; "
          f"dropped without a kept photo {report.dropped_without_photo}")  # fmt: skip
