"""Which five landmarks, which colour order: SFace's alignment chosen by measurement.

Every photo of the data set is detected once (RetinaFace, the largest face, as the
evaluation protocol does); its five points are then taken from each landmark source
(``detector``: RetinaFace's own; ``dlib-68``: dlib's 68-point model in the detected box;
``dlib-5``: dlib's 5-point model, nose base for the tip, no mouth corners), mapped onto
the ArcFace 112x112 template, and SFace makes templates from the chip fed in RGB and in
BGR order, with and without flip. The protocol of facedocket/oversight/evaluation.py
scores each combination. Results: ``<out>/landmarks.json`` and ``<out>/landmarks.md``.

    python benchmarks/landmarks.py --data ../shared/faces/dev --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from facedocket.oversight import evaluation
from facedocket.types import Face
from facedocket.vision import models
from facedocket.vision.align import LANDMARK_SOURCES, SimilarityAligner
from facedocket.vision.detect import DetectorOptions, create_detector
from facedocket.vision.images import load_image
from facedocket.vision.template_models import OnnxTemplateModel
from facedocket.vision.templates import normalise

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe

MODEL = "sface-2021dec"


def _chips(paths: list[Path], threads: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(photos, sources, 112, 112, 3) chips and the found mask, one detection per photo."""
    card = models.model_card(MODEL)
    assert card.preprocessing is not None
    detector = create_detector("retinaface", DetectorOptions(threads=1))
    aligners = [SimilarityAligner(card.preprocessing.template, (112, 112), s) for s in LANDMARK_SOURCES]

    def one(path: Path) -> np.ndarray | None:
        pixels = load_image(path).pixels
        faces = detector.detect(pixels)
        if not faces:
            return None
        face: Face = max(faces, key=lambda f: f.box.area)
        return np.stack([a.align(pixels, face, detector.name) for a in aligners])

    chips = np.zeros((len(paths), len(LANDMARK_SOURCES), 112, 112, 3), dtype=np.uint8)
    found = np.zeros(len(paths), dtype=bool)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for i, got in enumerate(pool.map(one, paths)):
            if got is not None:
                chips[i], found[i] = got, True
            if (i + 1) % 250 == 0:
                print(f"  aligned {i + 1}/{len(paths)}", file=sys.stderr, flush=True)
    return chips, found, time.perf_counter() - start


def _templates(model: OnnxTemplateModel, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(no flip, flip) templates of every chip."""
    plain, mirrored = [], []
    for start in range(0, len(chips), 64):
        part = chips[start : start + 64]
        plain.append(model.embed(part))
        mirrored.append(model.embed(np.ascontiguousarray(part[:, :, ::-1, :])))
    a, b = np.concatenate(plain), np.concatenate(mirrored)
    return a, normalise(a + b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder-per-identity photos")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results folder")
    parser.add_argument("--threads", type=int, default=2, help="threads for detection and the network")
    parser.add_argument("--cache", type=Path, help="keep the aligned chips in this .npy file (reruns skip alignment)")
    args = parser.parse_args()
    identities = evaluation.list_identities(args.data)
    paths = [p for photos in identities.values() for p in photos]
    labels = [name for name, photos in identities.items() for _ in photos]
    if args.cache and args.cache.is_file():
        saved = np.load(args.cache)
        chips, found, align_s = saved["chips"], saved["found"], float(saved["seconds"])
    else:
        chips, found, align_s = _chips(paths, args.threads)
        if args.cache:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(args.cache, chips=chips, found=found, seconds=align_s)
    card = models.model_card(MODEL)
    assert card.preprocessing is not None
    rows = []
    for colour in ("RGB", "BGR"):
        model = OnnxTemplateModel(replace(card, preprocessing=replace(card.preprocessing, colour=colour)), args.threads)
        for k, source in enumerate(LANDMARK_SOURCES):
            print(f"  {source} {colour}", file=sys.stderr, flush=True)
            for flip, templates in zip((False, True), _templates(model, chips[:, k]), strict=True):
                ex = evaluation.Extracted(paths, labels, templates, found, np.ones(len(paths)), 0.0)
                result = evaluation.evaluate(ex)
                ver, ident = result["verification"], result["identification"]
                assert isinstance(ver, dict) and isinstance(ident, dict)
                rows.append(
                    {
                        "landmarks": source,
                        "colour": colour,
                        "flip": flip,
                        "fnmr_at_fmr": ver["fnmr_at_fmr"],
                        "eer": ver["eer"],
                        "rank1": ident["rank1"],
                        "fnir_at_fpir_0.01": ident["fnir_at_fpir"]["0.01"],
                        "detection_failures": result["detection_failures"],
                    }
                )
    write(rows, args, describe(), len(paths), len(identities), align_s)


def write(
    rows: list[dict[str, object]], args: argparse.Namespace, host: dict[str, object], n: int, ids: int, align_s: float
) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {
        "date": stamp,
        "data": str(args.data),
        "model": MODEL,
        "machine": host,
        "photos": n,
        "identities": ids,
        "detector": "retinaface",
        "results": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "landmarks.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "# SFace alignment: landmark source and colour order",
        "",
        f"Run {stamp} on {host['cpu']}, {host['cores']} cores, load average {host['load_average']}. "
        f"Data: `{args.data}` ({n} photos, {ids} identities), RetinaFace boxes (largest face), "
        "ArcFace 112x112 template, least-squares similarity. Protocol: facedocket/oversight/evaluation.py.",
        "",
        "| landmarks | colour | flip | FNMR@FMR1e-2 | FNMR@FMR1e-3 | FNMR@FMR1e-4 | EER | rank-1 | FNIR@FPIR1e-2 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f = r["fnmr_at_fmr"]
        assert isinstance(f, dict)
        lines.append(
            f"| {r['landmarks']} | {r['colour']} | {'yes' if r['flip'] else 'no'} | {f['0.01']:.4f} | "
            f"{f['0.001']:.4f} | {f['0.0001']:.4f} | {r['eer']:.4f} | {r['rank1']:.4f} | {r['fnir_at_fpir_0.01']:.4f} |"
        )
    lines += ["", "Detection failures (same for every row): " + str(rows[0]["detection_failures"]), ""]
    (args.out / "landmarks.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
