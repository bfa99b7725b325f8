"""Template models side by side: dlib, SFace, SFace with flip, and a dlib+SFace score
fusion, with the face_recognition library as the anchor, on the same photos in one run.

Each configuration runs in its own process (its images/second and peak RSS are its own)
over the folder-per-identity data set, end to end (decode, detect, align, templates):

* ``anchor``: face_recognition 1.3.0 (HOG, 68-point landmarks, dlib's ResNet, one view);
* ``dlib``: FaceDocket's defaults with ``dlib-resnet-v1`` (RetinaFace, flip and jitter);
* ``sface`` / ``sface-flip``: ``sface-2021dec`` without / with flip;
* ``fusion``: one detection, both models (dlib with flip and jitter, SFace with flip); the
  score is the sum of the two cosines, each divided by the standard deviation of its
  impostor scores (z-score fusion; the two scales are measured on a seeded sample of
  impostor pairs of the same data, seed 1, a different sample from the evaluation's).

The protocol of facedocket/oversight/evaluation.py scores each (FNMR at FMR 1e-2/1e-3/
1e-4, EER, rank-1, FNIR at FPIR 1 %, detection failures), and
facedocket/oversight/demographics.py gives per-group figures at one threshold (FMR 1e-3)
for every column of ``--groups``. Results: ``<out>/models.json`` and ``<out>/models.md``.

    python benchmarks/models.py --data ../shared/faces/dev \\
        --groups ../shared/faces/labels/identity_labels.csv --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from facedocket.oversight import demographics, evaluation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe
from pipeline import anchor_extract

SFACE = "sface-2021dec"
DLIB = "dlib-resnet-v1"
CONFIGS = {
    "anchor": "face_recognition 1.3.0: HOG (upsample 1), 68-point landmarks, dlib ResNet, one view",
    "dlib": "dlib-resnet-v1: RetinaFace, dlib 5-point chip, flip and jitter (10 views)",
    "sface": "sface-2021dec: RetinaFace, card's landmarks onto the ArcFace template, one view",
    "sface-flip": "sface-2021dec with flip (2 views)",
    "fusion": "dlib (flip, jitter) + sface-2021dec (flip) from one detection; z-score sum of the two cosines",
}
GROUP_COLUMNS = ("sex", "race")


def _options(model: str, flip: bool) -> Any:
    from facedocket.config import Settings

    return replace(Settings(flip=flip).pipeline_options(), model=model)


def _fusion_extract(identities: dict[str, list[Path]]) -> tuple[evaluation.Extracted, evaluation.Extracted]:
    """dlib and SFace templates of every photo from one detection each, timed together."""
    from facedocket.vision.pipeline import FacePipeline
    from facedocket.vision.templates import chip_stack, embed

    base = FacePipeline(_options(DLIB, True))
    other = base.for_model(SFACE)
    paths = [p for photos in identities.values() for p in photos]
    labels = [name for name, photos in identities.items() for _ in photos]
    found = np.zeros(len(paths), dtype=bool)
    out = {m: np.zeros((len(paths), 128), dtype=np.float32) for m in (DLIB, SFACE)}

    def prepare(path: Path) -> tuple[Any, Any] | None:
        pixels = base.load(path).pixels
        faces = base.detector.detect(pixels)
        if not faces:
            return None
        face = max(faces, key=lambda f: f.box.area)
        return base.aligner.align(pixels, face, base.detector.name), other.aligner.align(pixels, face, "retinaface")

    def flush(batch: list[tuple[int, Any, Any]]) -> None:
        if not batch:
            return
        rows = [i for i, _, _ in batch]
        for k, pipe in ((1, base), (2, other)):
            chips = chip_stack([item[k] for item in batch], pipe.model.card.preprocessing.input_size)
            out[pipe.model_id][rows] = embed(pipe.model, chips, pipe.options.flip, pipe.options.jitter)[0]

    start = time.perf_counter()
    batch: list[tuple[int, Any, Any]] = []
    with ThreadPoolExecutor(max_workers=base.options.threads) as pool:
        for i, item in enumerate(pool.map(prepare, paths)):
            if item is not None:
                found[i] = True
                batch.append((i, *item))
            if len(batch) >= 16:
                flush(batch)
                batch = []
        flush(batch)
    seconds = time.perf_counter() - start
    quality = np.ones(len(paths))
    return tuple(  # type: ignore[return-value]
        evaluation.Extracted(paths, labels, out[m], found, quality, seconds, {"model": m}) for m in (DLIB, SFACE)
    )


def fuse(a: evaluation.Extracted, b: evaluation.Extracted, seed: int = 1) -> evaluation.Extracted:
    """One template per photo whose dot products are ``s_a / sd_a + s_b / sd_b``: the two
    unit templates scaled by ``1 / sqrt(sd)``, side by side (sd: impostor score standard
    deviation on a seeded sample of 100,000 impostor pairs)."""
    ia, ib = evaluation.impostor_pairs(a.labels, 100_000, seed)
    ok = a.found[ia] & a.found[ib]
    parts = []
    for ex in (a, b):
        scores = np.einsum("ij,ij->i", ex.templates[ia[ok]], ex.templates[ib[ok]])
        parts.append(ex.templates / np.sqrt(float(np.std(scores))))
    fused = np.hstack(parts).astype(np.float32)
    return replace(a, templates=fused, extra={"model": f"{DLIB}+{SFACE}"})


def _extract(config: str, identities: dict[str, list[Path]]) -> evaluation.Extracted:
    from facedocket.vision.pipeline import FacePipeline

    if config == "anchor":
        return anchor_extract(identities)
    if config == "fusion":
        return fuse(*_fusion_extract(identities))
    model, flip = {"dlib": (DLIB, True), "sface": (SFACE, False), "sface-flip": (SFACE, True)}[config]
    return evaluation.extract(FacePipeline(_options(model, flip)), identities)


def _groups(ex: evaluation.Extracted, groups: Path) -> dict[str, object]:
    labels = demographics.read_groups(groups, [c for c in GROUP_COLUMNS])
    diff = demographics.analyse(ex, labels)
    result = diff.result
    keep = ("identities", "pairs", "fnmr", "fnmr_ci", "fmr", "fmr_ci", "fnir", "fpir", "reliable")
    groups_out = {
        column: {value: {k: g[k] for k in keep} for value, g in values.items()}  # type: ignore[union-attr]
        for column, values in result["groups"].items()  # type: ignore[union-attr]
    }
    return {"summary": result["group_summary"], "groups": groups_out, "threshold": diff.threshold}


def run_child(config: str, data: Path, groups: Path | None) -> dict[str, object]:
    identities = evaluation.list_identities(data)
    load_before = os.getloadavg()
    extracted = _extract(config, identities)
    load_after = os.getloadavg()
    result = evaluation.evaluate(extracted)
    result.pop("failed_images", None)
    result.pop("quality", None)
    result["verification"].pop("fmr_table", None)  # type: ignore[union-attr]
    if groups is not None:
        result["per_group"] = _groups(extracted, groups)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["load_average"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in load_after]}
    result["config"] = config
    result["description"] = CONFIGS[config]
    return result


def _vs_anchor(results: list[dict[str, Any]]) -> dict[str, dict[str, object]]:
    anchor = next(r for r in results if r["config"] == "anchor")
    a_fnmr = anchor["verification"]["fnmr_at_fmr"]["0.001"]
    out: dict[str, dict[str, object]] = {}
    for r in results:
        if r is anchor:
            continue
        fnmr_ratio = r["verification"]["fnmr_at_fmr"]["0.001"] / a_fnmr if a_fnmr else None
        speed = r["images_per_second"] / anchor["images_per_second"]
        out[r["config"]] = {
            "fnmr_at_fmr_0.001_ratio": round(fnmr_ratio, 3) if fnmr_ratio is not None else None,
            "speed_ratio": round(speed, 3),
            "detection_failures_vs_anchor": r["detection_failures"] - anchor["detection_failures"],
            "targets": {
                "fnmr_at_most_half_the_anchors": fnmr_ratio is not None and fnmr_ratio <= 0.5,
                "detection_failures_at_most_the_anchors": r["detection_failures"] <= anchor["detection_failures"],
                "speed_at_least_3x_the_anchors": speed >= 3.0,
            },
        }
    return out


def _row(r: dict[str, Any], ratio: dict[str, object] | None) -> str:
    ver, ident, fnmr = r["verification"], r["identification"], r["verification"]["fnmr_at_fmr"]
    x = "" if ratio is None else _times(ratio["fnmr_at_fmr_0.001_ratio"])
    s = "" if ratio is None else _times(ratio["speed_ratio"])
    return (
        f"| {r['config']} | {r['detection_failures']} | {fnmr['0.01']:.4f} | {fnmr['0.001']:.4f} | {x} | "
        f"{fnmr['0.0001']:.4f} | {ver['eer']:.4f} | {ident['rank1']:.4f} | {ident['fnir_at_fpir']['0.01']:.4f} | "
        f"{r['images_per_second']:.2f} | {s} | {r['peak_rss_mb']} | {r['load_average']['after'][0]} |"
    )


def _times(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.2f}x"  # type: ignore[arg-type]


def _rate(value: object) -> str:
    return "n/a" if value is None else f"{100 * float(value):.2f} %"  # type: ignore[arg-type]


def _group_lines(results: list[dict[str, Any]]) -> list[str]:
    with_groups = [r for r in results if "per_group" in r]
    if not with_groups:
        return []
    lines = [
        "Per group, at each configuration's own threshold for an overall FMR of 1e-3 "
        "(facedocket/oversight/demographics.py; a group's FMR counts same-group impostor pairs; "
        "`*` = not reliable by the rule of 30, see docs/evaluation.md):",
        "",
    ]
    for column in GROUP_COLUMNS:
        values = sorted({v for r in with_groups for v in r["per_group"]["groups"].get(column, {})})
        if not values:
            continue
        shown = [v for v in values if any(r["per_group"]["groups"][column][v]["identities"] >= 10 for r in with_groups)]
        hidden = [v for v in values if v not in shown]
        note = f"Groups of {column} with fewer than 10 identities (in the JSON, not shown): {', '.join(hidden)}."
        if not shown:
            lines += [note, ""]
            continue
        head = " | ".join(f"FNMR {v} | FMR {v}" for v in shown)
        lines += [f"| config ({column}) | {head} | max/min FNMR | max/min FMR |", "|---" * (2 * len(shown) + 3) + "|"]
        for r in with_groups:
            groups, summary = r["per_group"]["groups"][column], r["per_group"]["summary"][column]
            cells = []
            for v in shown:
                g = groups[v]
                cells.append(_rate(g["fnmr"]) + ("" if g["reliable"]["fnmr"] else "*"))
                cells.append(_rate(g["fmr"]) + ("" if g["reliable"]["fmr"] else "*"))
            ratio = [summary.get(f"max_min_{k}_ratio") for k in ("fnmr", "fmr")]
            worst = [summary.get(f"worst_{k}_group") for k in ("fnmr", "fmr")]
            tail = [f"{x:.2f} ({w})" if x is not None else "n/a" for x, w in zip(ratio, worst, strict=True)]
            lines.append(f"| {r['config']} | " + " | ".join(cells) + f" | {tail[0]} | {tail[1]} |")
        lines += ["", note, ""] if hidden else [""]
    return lines


def write_report(results: list[dict[str, Any]], host: dict[str, object], out: Path, data: Path) -> None:
    ratios = _vs_anchor(results)
    anchor = next(r for r in results if r["config"] == "anchor")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {"date": stamp, "data": str(data), "machine": host, "results": results, "vs_anchor": ratios}
    out.mkdir(parents=True, exist_ok=True)
    (out / "models.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "# Template models side by side",
        "",
        f"Run {stamp} on {host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB, Python {host['python']}; "
        f"load average at the end {host['load_average']} (a shared machine: compare speeds as ratios to the anchor, "
        f"which ran in the same run). Data: `{data}` ({anchor['images']} photos, {anchor['identities']} identities). "
        "Protocol: facedocket/oversight/evaluation.py; benchmark: benchmarks/models.py.",
        "",
        "| config | detection failures | FNMR@FMR1e-2 | FNMR@FMR1e-3 | x anchor | FNMR@FMR1e-4 | EER | rank-1 "
        "| FNIR@FPIR1e-2 | images/s | x anchor | peak RSS MB | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[_row(r, ratios.get(r["config"])) for r in results],
        "",
        "Targets (issue 13): FNMR at FMR 1e-3 at most 0.5x the anchor's; detection failures no more than the "
        "anchor's; images/second at least 3x the anchor's.",
        "",
    ]
    for name, v in ratios.items():
        met = [k.replace("_", " ") for k, ok in v["targets"].items() if ok]  # type: ignore[union-attr]
        missed = [k.replace("_", " ") for k, ok in v["targets"].items() if not ok]  # type: ignore[union-attr]
        lines.append(f"- {name}: met: {', '.join(met) or 'none'}; missed: {', '.join(missed) or 'none'}.")
    lines += ["", *_group_lines(results), *[f"- `{r['config']}`: {r['description']}" for r in results], ""]
    (out / "models.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder-per-identity photos")
    parser.add_argument("--groups", type=Path, help="CSV of group labels per identity (identity,sex,race,...)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results folder")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.data, args.groups)))
        return
    results = []
    for config in args.configs.split(","):
        print(f"models benchmark: {config} ...", file=sys.stderr, flush=True)
        command = [sys.executable, __file__, "--data", str(args.data), "--child", config]
        if args.groups is not None:
            command += ["--groups", str(args.groups)]
        proc = subprocess.run(command, check=True, capture_output=True, text=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        fnmr = result["verification"]["fnmr_at_fmr"]["0.001"]
        print(f"  {result['images_per_second']} images/s, FNMR@FMR1e-3 {fnmr}", file=sys.stderr, flush=True)
        results.append(result)
    write_report(results, describe(), args.out, args.data)
    print((args.out / "models.md").read_text())


if __name__ == "__main__":
    main()
