"""Regenerate tests/golden/pipeline.json (boxes, landmarks, dlib-resnet-v1 templates of three
photos) and tests/golden/sface.json (sface-2021dec templates of the same faces).

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


def golden(pipeline: FacePipeline) -> dict[str, list[dict[str, list[float] | list[list[float]]]]]:
    out = {}
    for photo in PHOTOS:
        found = pipeline.analyse(pipeline.load(FACES / photo))
        out[photo] = [
            {
                "box": f.face.box.as_list(),
                "landmarks": [[round(x, 1), round(y, 1)] for x, y in f.face.landmarks],
                "template": [round(float(v), 6) for v in f.template.vector],
            }
            for f in found
        ]
    return out


def main() -> None:
    pipeline = FacePipeline()
    (HERE / "pipeline.json").write_text(json.dumps(golden(pipeline), indent=1) + "\n")
    (HERE / "sface.json").write_text(json.dumps(golden(pipeline.for_model("sface-2021dec")), indent=1) + "\n")


if __name__ == "__main__":
    main()
