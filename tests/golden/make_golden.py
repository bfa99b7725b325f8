"""Regenerate tests/golden/pipeline.json (boxes, landmarks, templates of three dev photos).

Run only when a change to the pipeline is meant to change its output, and say so in the
commit: `python tests/golden/make_golden.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from facedocket.vision.pipeline import FacePipeline

HERE = Path(__file__).resolve().parent
FACES = HERE.parents[2] / "shared" / "faces"
PHOTOS = ["dev/Yao_Ming/1.jpg", "dev/Sheryl_Crow/2.jpg", "multi/face_recognition__examples_two_people.jpg"]


def main() -> None:
    pipeline = FacePipeline()
    golden = {}
    for photo in PHOTOS:
        found = pipeline.analyse(pipeline.load(FACES / photo))
        golden[photo] = [
            {
                "box": f.face.box.as_list(),
                "landmarks": [[round(x, 1), round(y, 1)] for x, y in f.face.landmarks],
                "template": [round(float(v), 6) for v in f.template.vector],
            }
            for f in found
        ]
    (HERE / "pipeline.json").write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
