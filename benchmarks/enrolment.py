"""Enrolment throughput through the service against the raw pipeline, same photos, same run.

The raw pipeline decodes, detects, aligns and makes templates; the service does that and
also hashes, checks for already-enrolled photos, writes subjects and templates in one
transaction per batch, updates the index and writes the outcome file. Target: the
service keeps at least 90 % of the raw pipeline's images per second.

    python benchmarks/enrolment.py --data ../shared/faces/dev --images 600 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

from facedocket.config import Settings
from facedocket.service import open_service, read_source
from facedocket.vision.pipeline import FacePipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder-per-identity photos")
    parser.add_argument("--images", type=int, default=600, help="how many photos to enrol")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results folder")
    args = parser.parse_args()
    items = read_source(args.data)[: args.images]
    settings = Settings()
    pipeline = FacePipeline.from_settings(settings)
    list(pipeline.run_many([i.source for i in items[:32]]))  # warm up
    runs: dict[str, list[float]] = {"raw": [], "service": []}
    for _round in range(2):
        start = time.perf_counter()
        found = sum(1 for r in pipeline.run_many([i.source for i in items], batch_size=32) if r.faces)
        runs["raw"].append(len(items) / (time.perf_counter() - start))
        with tempfile.TemporaryDirectory() as home:
            service = open_service(Settings(home=Path(home)), pipeline=pipeline)
            admin = service.accounts.authenticate(service.accounts.bootstrap("Bench", "admin").secret)
            gallery = service.galleries.create_gallery(admin, "bench", "benchmark photos", "benchmark")
            start = time.perf_counter()
            report = service.enrolment.enroll(admin, gallery.id, items, Path(home) / "outcomes.csv")
            runs["service"].append(len(items) / (time.perf_counter() - start))
            service.engine.dispose()
        print(f"round {_round + 1}: raw {runs['raw'][-1]:.2f} img/s, service {runs['service'][-1]:.2f} img/s",
              file=sys.stderr)  # fmt: skip
    raw, svc = max(runs["raw"]), max(runs["service"])
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": describe(),
        "images": len(items),
        "faces_found": found,
        "enrolled": report.counts.get("enrolled", 0),
        "raw_pipeline_images_per_second": round(raw, 3),
        "service_images_per_second": round(svc, 3),
        "service_vs_raw": round(svc / raw, 3),
        "runs": {k: [round(v, 3) for v in vals] for k, vals in runs.items()},
        "target": "service_vs_raw >= 0.9",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "enrolment.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
