"""A model card for the tests of an operator's own model: no such model ships, so the tests
register SFace's own weights file under a second card with another model id."""

from __future__ import annotations

from pathlib import Path

from facedocket.vision import models
from facedocket.vision.models import DEFAULT_MODEL_ID

MODEL = "agency-sface-copy"


def write_card(folder: Path, model_id: str = MODEL, sha256: str | None = None) -> Path:
    """A card for SFace's shipped weights file under another model id, as an operator
    would write one for a network of their own (no calibration)."""
    shipped = models.model_card(DEFAULT_MODEL_ID)
    pre = shipped.preprocessing
    assert pre is not None
    weights = models.weights_path(shipped)
    template = ", ".join(f"[{x}, {y}]" for x, y in pre.template)
    text = f"""
model_id = "{model_id}"
kind = "template"
implementation = "onnx"
description = "SFace under a second card: stands in for an operator's own network in the tests"
file = "{weights}"
sha256 = "{sha256 or shipped.sha256}"
licence = "Apache-2.0"
source = "the shipped sface-2021dec file"
input = "112x112 RGB, ArcFace 5-point alignment"
dimensions = 128

[preprocessing]
alignment = "similarity-5"
input_size = [112, 112]
template = [{template}]
landmarks = "detector"
colour = "RGB"
symmetry_ramp = [0.93, 0.98]
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model_id}.toml"
    path.write_text(text)
    return path
