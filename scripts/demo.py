"""`make demo`: detection and comparison on sample photos (see scripts/samples.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console
from rich.table import Table
from samples import sample_root

from facedocket.config import Settings
from facedocket.oversight.evaluation import list_identities
from facedocket.vision.models import default_threshold
from facedocket.vision.pipeline import FacePipeline
from facedocket.vision.templates import similarity


def main() -> None:
    console = Console()
    root, origin = sample_root()
    console.print(f"[bold]FaceDocket demo[/bold] on {origin}")
    identities = list_identities(root)
    people = [name for name, photos in identities.items() if len(photos) >= 2][:3]
    others = [name for name in identities if name not in people][:2]
    pipeline = FacePipeline(Settings().pipeline_options())
    threshold = default_threshold(pipeline.model_id)

    detections = Table(title="Faces found")
    for column in ("photo", "faces", "box", "detection score", "quality"):
        detections.add_column(column)
    templates = {}
    for name in people + others:
        for path in identities[name][:2]:
            found = pipeline.analyse(pipeline.load(path))
            best = max(found, key=lambda f: f.face.box.area) if found else None
            label = f"{name}/{path.name}"
            if best is None:
                detections.add_row(label, "0", "-", "-", "-")
                continue
            templates[label] = best.template
            q = best.face.quality.score if best.face.quality else 0.0
            detections.add_row(
                label, str(len(found)), str(best.face.box.as_list()), f"{best.face.score:.3f}", f"{q:.2f}"
            )
    console.print(detections)

    comparisons = Table(title=f"Comparisons (cosine similarity; threshold {threshold:.3f} for FMR 1e-3)")
    for column in ("photo A", "photo B", "similarity", "verdict"):
        comparisons.add_column(column)
    labels = list(templates)
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            score = similarity(templates[a], templates[b])
            verdict = "same person" if score >= threshold else "different"
            comparisons.add_row(a, b, f"{score:.3f}", verdict)
    console.print(comparisons)


if __name__ == "__main__":
    main()
