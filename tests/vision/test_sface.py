"""SFace in the pipeline, on real photos; dlib's templates unchanged by the model plug-ins."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from facedocket.errors import ModelMismatch
from facedocket.types import Template
from facedocket.vision.models import default_threshold
from facedocket.vision.pipeline import FacePipeline, PipelineOptions
from facedocket.vision.templates import similarity

SFACE = "sface-2021dec"
PEOPLE = ["Yao_Ming", "Venus_Williams", "Wen_Jiabao", "Sheryl_Crow", "Roger_Federer", "Tim_Henman"]
GOLDEN_DIR = Path(__file__).parents[1] / "golden"


@pytest.fixture(scope="module")
def sface(pipeline: FacePipeline) -> FacePipeline:
    return pipeline.for_model(SFACE)


def _best(pipeline: FacePipeline, path: Path) -> Template:
    return max(pipeline.analyse(pipeline.load(path)), key=lambda f: f.face.box.area).template


@pytest.fixture(scope="module")
def templates(sface: FacePipeline, dev_dir: Path) -> dict[str, Template]:
    return {f"{p}/{n}": _best(sface, dev_dir / p / f"{n}.jpg") for p in PEOPLE for n in (1, 2)}


def test_same_person_pairs_score_above_different_person_pairs(templates: dict[str, Template]) -> None:
    threshold = default_threshold(SFACE, flip=True)
    genuine = [similarity(templates[f"{p}/1"], templates[f"{p}/2"]) for p in PEOPLE]
    impostor = [
        similarity(templates[a], templates[b])
        for a, b in itertools.combinations(templates, 2)
        if a.split("/")[0] != b.split("/")[0]
    ]
    assert min(genuine) >= threshold > max(impostor), (min(genuine), threshold, max(impostor))
    assert all(t.model_id == SFACE and t.vector.shape == (128,) for t in templates.values())


@pytest.mark.parametrize("name", ["pipeline", "sface"])
def test_golden_templates(request: pytest.FixtureRequest, faces_dir: Path, name: str) -> None:
    """dlib's templates are the ones made before models became plug-ins (to the sixth
    decimal); SFace's match the stored ones (cosine, allowing for other CPUs' arithmetic)."""
    pipeline: FacePipeline = request.getfixturevalue(name)
    golden = json.loads((GOLDEN_DIR / f"{name}.json").read_text())
    for photo, expected in golden.items():
        found = pipeline.analyse(pipeline.load(faces_dir / photo))
        assert len(found) == len(expected)
        for f, e in zip(found, expected, strict=True):
            vector = np.array(e["template"], dtype=np.float32)
            if name == "pipeline":
                assert np.abs(f.template.vector - vector).max() <= 1.01e-6, photo
            else:
                assert float(np.dot(f.template.vector, vector)) >= 0.999, photo


def test_for_model_shares_the_detector_and_keeps_models_apart(
    pipeline: FacePipeline, sface: FacePipeline, dev_photo: Path
) -> None:
    assert sface.detector is pipeline.detector and pipeline.for_model(SFACE) is sface
    assert pipeline.for_model(pipeline.model_id) is pipeline and sface.for_model(pipeline.model_id) is not sface
    assert sface.options.model == SFACE and pipeline.options.model == "dlib-resnet-v1"
    assert not sface.jitter and pipeline.jitter
    a, b = _best(pipeline, dev_photo), _best(sface, dev_photo)
    with pytest.raises(ModelMismatch):
        similarity(a, b)


def test_sface_quality_uses_its_own_symmetry_scale(sface: FacePipeline, dev_photo: Path) -> None:
    quality = sface.detect(sface.load(dev_photo))[0].quality
    assert quality is not None and 0.9 < quality.symmetry < 1 and quality.score > 0.3


def test_sface_without_flip_is_one_view(dev_photo: Path) -> None:
    plain = FacePipeline(PipelineOptions(model=SFACE, flip=False))
    found = plain.analyse(plain.load(dev_photo))[0]
    assert found.face.quality is not None and found.face.quality.symmetry == 1.0
    chip = plain.aligner.align(plain.load(dev_photo).pixels, found.face, "retinaface")
    assert np.allclose(plain.model.embed(chip[None])[0], found.template.vector, atol=1e-6)
