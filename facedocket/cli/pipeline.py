"""Pipeline commands: detect, compare, embed, evaluate, models, settings."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from facedocket.cli import cli
from facedocket.cli.common import IMAGE_SUFFIXES, MODEL_HELP, _echo_json, _face_dict, _pipeline, _progress, echo
from facedocket.config import Settings
from facedocket.errors import InvalidInput


@cli.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--detector", type=click.Choice(["retinaface", "hog"]), help="Face detector to use.")
@click.option("--model", help=MODEL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def detect(ctx: click.Context, images: Sequence[Path], detector: str | None, model: str | None, as_json: bool) -> None:
    """Find faces in IMAGES: boxes, landmarks and quality.

    An image over FACEDOCKET_DECODE_MAX_SIDE px is scaled down while decoding; boxes are in
    the decoded image's pixels (width, height), and scale is decoded per original pixel.
    Quality includes the symmetry of the face's template, so it depends on --model.
    Exits non-zero if any image cannot be read.
    """
    pipeline = _pipeline(ctx, model, detector=detector)
    results = []
    for path in images:
        image = pipeline.load(path)
        faces = pipeline.detect(image)
        results.append(
            {
                "path": str(path),
                "sha256": image.sha256,
                "width": image.width,
                "height": image.height,
                "scale": image.scale,
                "faces": [_face_dict(f, i + 1) for i, f in enumerate(faces)],
            }
        )
    if as_json:
        _echo_json({"detector": pipeline.detector.name, "model": pipeline.model_id, "images": results})
        return
    for item in results:
        faces = item["faces"]
        assert isinstance(faces, list)
        echo(f"{item['path']}: {len(faces)} face(s)")
        for f in faces:
            q = f["quality"]["score"] if f["quality"] else 0
            echo(f"  face {f['face']}: box {f['box']} score {f['score']:.3f} quality {q:.2f}")


@cli.command()
@click.argument("image_a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("image_b", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--face", "face_both", type=int, help="Use face N (1-based) where an image has several.")
@click.option("--face-a", type=int, help="Face N of IMAGE_A (overrides --face).")
@click.option("--face-b", type=int, help="Face N of IMAGE_B (overrides --face).")
@click.option("--threshold", type=float, help="Similarity threshold (default: the model card's).")
@click.option("--model", help=MODEL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def compare(
    ctx: click.Context,
    image_a: Path,
    image_b: Path,
    face_both: int | None,
    face_a: int | None,
    face_b: int | None,
    threshold: float | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Compare the faces in IMAGE_A and IMAGE_B: cosine similarity and same/different.

    The result is a similarity score, not an identification: a score above the
    threshold means the two faces are alike enough to be worth a human's review.
    """
    from facedocket.vision.models import default_threshold
    from facedocket.vision.templates import similarity

    pipeline = _pipeline(ctx, model)
    ta = pipeline.template(pipeline.load(image_a), face_a if face_a is not None else face_both)
    tb = pipeline.template(pipeline.load(image_b), face_b if face_b is not None else face_both)
    score = similarity(ta, tb)
    limit = threshold if threshold is not None else default_threshold(pipeline.model_id, pipeline.options.flip)
    same = score >= limit
    if as_json:
        _echo_json(
            {
                "image_a": str(image_a),
                "image_b": str(image_b),
                "similarity": round(score, 6),
                "threshold": limit,
                "same": same,
                "model": pipeline.model_id,
            }
        )
    else:
        verdict = "same person (at this threshold)" if same else "different people (at this threshold)"
        echo(f"similarity {score:.4f}, threshold {limit:.4f} ({pipeline.model_id}): {verdict}")


def _expand_paths(paths: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for item in paths:
        if item == "-":
            out.extend(Path(line.strip()) for line in sys.stdin if line.strip())
            continue
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    if not out:
        raise InvalidInput("no images given; pass image files, folders, or - to read paths from standard input")
    return out


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the templates to FILE.npz.")
@click.option("--model", help=MODEL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image (with templates).")
@click.pass_context
def embed(ctx: click.Context, paths: Sequence[str], out: Path | None, model: str | None, as_json: bool) -> None:
    """Make a template from the best (largest) face of each image in PATHS.

    PATHS may be image files, folders (searched recursively) or - to read one path per
    line from standard input. An image with no face gets a row with the reason.
    The .npz file holds arrays paths, templates (N x the model's dimensions, float32,
    zeros where no face), found (bool), quality, boxes and model.
    """
    files = _expand_paths(paths)
    pipeline = _pipeline(ctx, model)
    rows = []
    with _progress(len(files), "templates") as advance:
        for result in pipeline.run_many(files, progress=advance):
            rows.append(_embed_row(result, pipeline.model_id))
    if out is not None:
        _write_npz(out, rows, pipeline.model_id, pipeline.model.card.dimensions)
    if as_json:
        _echo_json({"model": pipeline.model_id, "images": rows})
    else:
        found = sum(1 for r in rows if r["found"])
        for r in rows:
            echo(f"{r['path']}: " + ("template" if r["found"] else f"none ({r['reason']})"))
        echo(f"{found} of {len(rows)} images gave a template" + (f"; wrote {out}" if out else ""))


def _embed_row(result: Any, model_id: str) -> dict[str, object]:
    best = result.best
    return {
        "path": result.source,
        "sha256": result.sha256,
        "found": best is not None,
        "reason": "" if best is not None else result.error,
        "faces": len(result.faces),
        "box": best.face.box.as_list() if best else None,
        "quality": round(best.template.quality, 4) if best else None,
        "model": model_id,
        "template": best.template.vector if best else None,
    }


def _write_npz(out: Path, rows: list[dict[str, Any]], model_id: str, dimensions: int) -> None:
    templates = np.zeros((len(rows), dimensions), dtype=np.float32)
    for i, r in enumerate(rows):
        if r["found"]:
            templates[i] = r["template"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        np.savez(
            f,
            paths=np.array([r["path"] for r in rows]),
            templates=templates,
            found=np.array([r["found"] for r in rows], dtype=bool),
            quality=np.array([r["quality"] or 0.0 for r in rows], dtype=np.float32),
            boxes=np.array([r["box"] or [0, 0, 0, 0] for r in rows], dtype=np.float32),
            model=np.array(model_id),
        )


@cli.command()
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--detector", type=click.Choice(["retinaface", "hog"]), help="Face detector to use.")
@click.option("--model", help=MODEL_HELP)
@click.option("--runtime", type=click.Choice(["onnx", "dlib"]), help="Runtime for dlib's ResNet.")
@click.option("--flip/--no-flip", default=None, help="Average with the mirrored face's template.")
@click.option("--max-identities", type=int, help="Use only the first N identities (sorted).")
@click.option("--max-impostor-pairs", type=int, default=100_000, show_default=True, help="Impostor sample size.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the deterministic samples.")
@click.option(
    "--groups",
    "groups_csv",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV of group labels per identity (identity,sex,race,...): adds per-group figures.",
)
@click.option("--group-column", "group_columns", multiple=True, help="Use only this group column (repeatable).")
@click.option(
    "--target-fmr", type=float, default=0.001, show_default=True, help="Overall FMR the per-group threshold is set for."
)
@click.option("--bootstrap", type=int, default=1000, show_default=True, help="Bootstrap replicates for the CIs.")
@click.option(
    "--max-group-impostor-pairs",
    type=int,
    default=1_000_000,
    show_default=True,
    help="Same-group impostor pairs per group, sampled beyond this.",
)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="Write an HTML report.")
@click.option("--save", is_flag=True, help="Keep the result on record in the database (see `facedocket evaluation`).")
@click.option("--token", envvar="FACEDOCKET_TOKEN", help="With --save: API token to act as (default HOME/token).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
@click.pass_context
def evaluate(
    ctx: click.Context,
    data_dir: Path,
    detector: str | None,
    model: str | None,
    runtime: str | None,
    flip: bool | None,
    max_identities: int | None,
    max_impostor_pairs: int,
    seed: int,
    groups_csv: Path | None,
    group_columns: Sequence[str],
    target_fmr: float,
    bootstrap: int,
    max_group_impostor_pairs: int,
    report_path: Path | None,
    save: bool,
    token: str | None,
    as_json: bool,
) -> None:
    """Measure accuracy and speed on DATA_DIR, a folder with one sub-folder per identity.

    Reports FNMR at FMR 1e-2/1e-3/1e-4, EER, rank-1, FNIR at FPIR 1e-2, detection
    failures, images per second, and how quality relates to failed genuine comparisons.
    With --groups, also FNMR, FMR, FNIR and FPIR per demographic group at one threshold
    set for --target-fmr, with bootstrap 95 % intervals, ratios to the best group and
    findings in plain words. --report writes all of it, with DET curves, as one HTML file.
    The protocol is described in facedocket/oversight/evaluation.py and docs/evaluation.md.
    --save keeps the result on record in the database of --home (auditors, supervisors,
    admins), for `facedocket evaluation calibrate`. The same use case runs from Python
    (`service.evaluation.evaluate`) and the API (`POST /evaluations/run`).
    """
    from facedocket.service.evaluation import EvaluationSpec, run_evaluation

    spec = EvaluationSpec(
        data_dir, max_identities, max_impostor_pairs, seed, groups_csv, tuple(group_columns), target_fmr, bootstrap,
        max_group_impostor_pairs, report_path,
    )  # fmt: skip
    pipeline = _pipeline(ctx, model, detector=detector, runtime=runtime, flip=flip)
    total = sum(len(v) for v in _identities(data_dir, max_identities).values())
    if save:  # who saves is checked before the long run
        from facedocket.cli.service import _actor, _service

        service, saver = _service(ctx), _actor(ctx, token)
        with _progress(total, "evaluating") as advance:
            outcome = service.evaluation.evaluate(saver, spec, advance, save=True, pipeline=pipeline)
        echo(f"saved as evaluation run {outcome.run_id}", err=as_json)
    else:
        with _progress(total, "evaluating") as advance:
            outcome = run_evaluation(pipeline, spec, advance)
    if report_path is not None:
        echo(f"wrote {report_path}", err=True)
    if as_json:
        _echo_json(outcome.result)
        return
    _print_evaluation(outcome.result)


def _identities(data_dir: Path, max_identities: int | None) -> dict[str, list[Path]]:
    from facedocket.oversight.evaluation import list_identities

    return list_identities(data_dir, max_identities)


def _print_evaluation(result: dict[str, Any]) -> None:
    ver, ident = result["verification"], result["identification"]
    echo(
        f"images {result['images']}, identities {result['identities']}, "
        f"detection failures {result['detection_failures']}"
    )
    echo(f"model {result['model']}, detector {result['detector']}, flip {result['flip']}")
    echo(f"data set fingerprint {result['fingerprint']['sha256']}")
    echo(f"genuine pairs {ver['genuine_pairs']}, impostor pairs {ver['impostor_pairs']}")
    for fmr, fnmr in ver["fnmr_at_fmr"].items():
        echo(f"  FNMR at FMR {fmr}: {fnmr:.4f}")
    echo(f"  EER: {ver['eer']:.4f}")
    echo(f"rank-1 {ident['rank1']:.4f}, FNIR at FPIR 0.01: {ident['fnir_at_fpir']['0.01']:.4f}")
    echo(f"images per second: {result['images_per_second']}")
    if "groups" in result:
        _print_groups(result)


def _rate(value: float | None) -> str:
    return "   n/a" if value is None else f"{value:.4f}"


def _interval(ci: list[float | None] | None) -> str:
    if ci is None:
        return "n/a"
    return "[" + ", ".join("inf" if x is None else f"{x:.4f}" for x in ci) + "]"


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _print_groups(result: dict[str, Any]) -> None:
    protocol = result["group_protocol"]
    echo("")
    echo(f"per-group figures at threshold {protocol['threshold']} ({protocol['threshold_rule']})")
    for column, values in result["groups"].items():
        summary = result["group_summary"][column]
        echo(
            f"{column}: max/min FNMR ratio {_times(summary['max_min_fnmr_ratio'])} "
            f"(worst {summary['worst_fnmr_group']}), max/min FMR ratio {_times(summary['max_min_fmr_ratio'])} "
            f"(worst {summary['worst_fmr_group']})"
        )
        for value, g in values.items():
            flags = "" if g["reliable"]["fnmr"] and g["reliable"]["fmr"] else "  (not reliable: see notes)"
            echo(
                f"  {column}={value}: {g['identities']} ids, FNMR {_rate(g['fnmr'])} {_interval(g['fnmr_ci'])} "
                f"{_times(g['fnmr_ratio'])} on {g['pairs']['genuine']} pairs; FMR {_rate(g['fmr'])} "
                f"{_interval(g['fmr_ci'])} {_times(g['fmr_ratio'])} on {g['pairs']['impostor']} pairs; "
                f"FNIR {_rate(g['fnir'])}, FPIR {_rate(g['fpir'])}{flags}"
            )
    echo("findings:")
    for finding in result["findings"]:
        echo(f"  - {finding}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models(as_json: bool) -> None:
    """Show the shipped model cards: id, source, licence, checksum, preprocessing, calibrated
    thresholds, known per-group differentials.

    New galleries use the card marked "default for new galleries", the one the
    measurements in docs/models.md favour; galleries made before galleries chose their
    model, and watchlists, use dlib-resnet-v1. `facedocket model list` shows the models of
    an installation, with the operator's own.
    """
    from facedocket.vision.models import model_cards, model_roles

    cards: dict[str, dict[str, Any]] = {k: v.as_dict() for k, v in model_cards().items()}
    for model_id, card in cards.items():
        card["roles"] = model_roles(model_id)
    if as_json:
        _echo_json(cards)
        return
    for card in cards.values():
        marks = "".join(", " + role for role in card["roles"])
        echo(f"{card['model_id']} ({card['kind']}{marks}): {card['description']}")
        echo(f"  package {card['package']}, file {card['file']}, licence {card['licence']}")
        echo(f"  sha256 {card['sha256']}")
        pre = card["preprocessing"]
        if pre:
            echo(
                f"  template {card['dimensions']}-d from a {pre['input_size'][0]}x{pre['input_size'][1]} "
                f"{pre['colour']} chip, alignment {pre['alignment']} ({pre['landmarks']} landmarks)"
            )
        for cal in [card["calibration"], *card["other_calibrations"]]:
            if cal:
                flip = "on" if cal["flip"] else "off"
                echo(f"  threshold {cal['threshold']} at FMR {cal['target_fmr']} (flip {flip}) on {cal['data']}")
        if card["extra"].get("differentials"):
            echo(f"  per group: {card['extra']['differentials']}")


@cli.command()
def settings() -> None:
    """List every setting, its environment variable, current value and meaning."""
    current = Settings()
    for name, info in Settings.model_fields.items():
        echo(f"FACEDOCKET_{name.upper()}={getattr(current, name)}")
        echo(f"    {info.description}")
