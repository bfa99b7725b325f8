"""Pipeline benchmark: FaceDocket against the face_recognition library, same protocol,
same photos, same run.

Each configuration runs in its own process (so its peak RSS is its own) over the
folder-per-identity data set, and the protocol of facedocket/oversight/evaluation.py
scores it. Results go to ``<out>/pipeline.json`` and ``<out>/pipeline.md`` with the
machine described.

    python benchmarks/pipeline.py --data ../shared/faces/dev --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from facedocket.oversight import evaluation

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe

CONFIGS = {
    "anchor": "face_recognition 1.3.0: HOG detector (upsample 1), model='small', num_jitters=1, cosine",
    "facedocket": "FaceDocket default: RetinaFace, dlib 5-point alignment, ResNet in ONNX Runtime, flip",
    "facedocket-hog": "FaceDocket with the hog detector (parity with the anchor's detector), flip",
}


def anchor_extract(identities: dict[str, list[Path]]) -> evaluation.Extracted:
    import face_recognition

    paths = [p for photos in identities.values() for p in photos]
    labels = [name for name, photos in identities.items() for _ in photos]
    templates = np.zeros((len(paths), 128), dtype=np.float32)
    found = np.zeros(len(paths), dtype=bool)
    start = time.perf_counter()
    for i, path in enumerate(paths):
        image = face_recognition.load_image_file(str(path))
        boxes = face_recognition.face_locations(image, number_of_times_to_upsample=1, model="hog")
        if not boxes:
            continue
        largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
        encoding = face_recognition.face_encodings(image, [largest], num_jitters=1, model="small")[0]
        templates[i] = encoding / np.linalg.norm(encoding)
        found[i] = True
    seconds = time.perf_counter() - start
    extra = {
        "model": "dlib-resnet-v1 (face_recognition)",
        "detector": "hog",
        "runtime": "dlib",
        "flip": False,
    }
    return evaluation.Extracted(paths, labels, templates, found, np.ones(len(paths)), seconds, extra)


def _facedocket_extract(identities: dict[str, list[Path]], detector: str) -> evaluation.Extracted:
    from facedocket.config import Settings
    from facedocket.vision.pipeline import FacePipeline

    settings = Settings(detector=detector)
    return evaluation.extract(FacePipeline.from_settings(settings), identities)


def run_child(config: str, data: Path) -> dict[str, object]:
    identities = evaluation.list_identities(data)
    if config == "anchor":
        extracted = anchor_extract(identities)
    else:
        extracted = _facedocket_extract(identities, "hog" if config == "facedocket-hog" else "retinaface")
    result = evaluation.evaluate(extracted)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["config"] = config
    result["description"] = CONFIGS[config]
    return result


def _row(r: dict[str, object]) -> str:
    ver = r["verification"]
    ident = r["identification"]
    assert isinstance(ver, dict) and isinstance(ident, dict)
    fnmr = ver["fnmr_at_fmr"]
    return (
        f"| {r['config']} | {r['detection_failures']} | {fnmr['0.01']:.4f} | {fnmr['0.001']:.4f} | "
        f"{fnmr['0.0001']:.4f} | {ver['eer']:.4f} | {ident['rank1']:.4f} | "
        f"{ident['fnir_at_fpir']['0.01']:.4f} | {r['images_per_second']:.2f} | {r['peak_rss_mb']} |"
    )


def write_report(results: list[dict[str, object]], host: dict[str, object], out: Path, data: Path) -> None:
    anchor = next(r for r in results if r["config"] == "anchor")
    ratios = {}
    for r in results:
        if r["config"] == "anchor":
            continue
        a_f = anchor["verification"]["fnmr_at_fmr"]["0.001"]  # type: ignore[index]
        r_f = r["verification"]["fnmr_at_fmr"]["0.001"]  # type: ignore[index]
        ratios[str(r["config"])] = {
            "speed_vs_anchor": round(float(r["images_per_second"]) / float(anchor["images_per_second"]), 3),  # type: ignore[arg-type]
            "fnmr_at_fmr_0.001_relative_change": round((r_f - a_f) / a_f, 4) if a_f else None,
        }
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {"date": stamp, "data": str(data), "machine": host, "results": results, "vs_anchor": ratios}
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "# Pipeline benchmark",
        "",
        f"Run {stamp} on {host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB, "
        f"Python {host['python']}. Data: `{data}` ({anchor['images']} photos, "
        f"{anchor['identities']} identities). Protocol: facedocket/oversight/evaluation.py.",
        "",
        "| config | detection failures | FNMR@FMR1e-2 | FNMR@FMR1e-3 | FNMR@FMR1e-4 | EER | rank-1 "
        "| FNIR@FPIR1e-2 | images/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *[_row(r) for r in results],
        "",
        "Against the anchor (same run):",
        "",
        *[
            f"- {name}: {v['speed_vs_anchor']}x the anchor's images/s; FNMR at FMR 1e-3 "
            f"{v['fnmr_at_fmr_0.001_relative_change']:+.1%} relative"
            for name, v in ratios.items()
        ],
        "",
        *[f"- `{r['config']}`: {r['description']}" for r in results],
        "",
    ]
    (out / "pipeline.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder-per-identity photos")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results folder")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated configurations")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.data)))
        return
    results = []
    for config in args.configs.split(","):
        print(f"benchmark: {config} ...", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--data", str(args.data), "--child", config],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"  {result['images_per_second']} images/s, FNMR@FMR1e-3 {result['verification']['fnmr_at_fmr']['0.001']}",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    write_report(results, describe(), args.out, args.data)
    print((args.out / "pipeline.md").read_text())


if __name__ == "__main__":
    main()
