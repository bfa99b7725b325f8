"""Model cards as plug-ins: the shipped cards, SFace's weights, checksums, operator cards."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from facedocket.errors import ConfigurationError, InvalidInput
from facedocket.vision import models
from facedocket.vision.align import ARCFACE_112, DlibChipAligner, SimilarityAligner
from facedocket.vision.template_models import OnnxTemplateModel, batchable_graph, create_template_model

SFACE = "sface-2021dec"
SFACE_SHA256 = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
WEIGHTS_DIR = Path(models.__file__).with_name("weights")


@pytest.fixture(scope="module")
def sface() -> OnnxTemplateModel:
    model = create_template_model(SFACE)
    assert isinstance(model, OnnxTemplateModel)
    return model


@pytest.fixture
def operator_id() -> Iterator[str]:
    yield "agency-test-model"
    models.unregister_card("agency-test-model")


def _chips(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 112, 112, 3), dtype=np.uint8)


def test_shipped_template_cards_say_what_a_model_needs() -> None:
    assert models.template_model_ids() == ["dlib-resnet-v1", SFACE]
    assert models.TEMPLATE_MODEL_ID == "dlib-resnet-v1"
    assert models.DEFAULT_MODEL_ID in models.template_model_ids()
    for model_id in models.template_model_ids():
        card = models.model_card(model_id)
        pre = card.preprocessing
        assert pre is not None and card.dimensions == 128 and len(card.sha256) == 64
        assert card.licence and card.source and card.calibration is not None
        assert card.calibration.fmr_table and card.calibration.date and card.calibration.data
    sface = models.model_card(SFACE)
    assert sface.sha256 == SFACE_SHA256 and "Apache-2.0" in sface.licence and "opencv_zoo" in sface.source
    assert sface.preprocessing is not None and sface.preprocessing.template == ARCFACE_112
    assert sface.preprocessing.input_size == (112, 112) and sface.preprocessing.colour in ("RGB", "BGR")
    licence = (WEIGHTS_DIR.parent.parent / sface.licence_file.removeprefix("facedocket/")).read_text()
    assert "Apache License" in licence and "Version 2.0" in licence


def test_sface_weights_are_the_zoo_file_and_load(sface: OnnxTemplateModel) -> None:
    path = models.weights_path(sface.card)
    assert path.stat().st_size == 38_696_353 and models.file_sha256(path) == SFACE_SHA256
    assert sface.batched
    assert isinstance(sface.aligner, SimilarityAligner)
    vectors = sface.embed(_chips(3))
    assert vectors.shape == (3, 128) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batched_graph_gives_the_original_graphs_templates(sface: OnnxTemplateModel) -> None:
    import onnxruntime as ort

    original = ort.InferenceSession(models.read_weights(sface.card), providers=["CPUExecutionProvider"])
    chips = _chips(3, seed=1)
    single = np.concatenate([original.run(None, {"data": sface._input(chips[i : i + 1])})[0] for i in range(3)])
    assert np.allclose(sface._run(sface._input(chips)), single, rtol=1e-4, atol=1e-4)


def test_chips_of_the_wrong_size_are_refused(sface: OnnxTemplateModel) -> None:
    with pytest.raises(InvalidInput, match=r"\(N, 112, 112, 3\)"):
        sface.embed(np.zeros((1, 150, 150, 3), dtype=np.uint8))


def test_dlib_card_keeps_dlibs_chip_and_checks_its_file() -> None:
    model = create_template_model("dlib-resnet-v1")
    assert isinstance(model.aligner, DlibChipAligner)
    assert models.file_sha256(models.weights_path(model.card)) == model.card.sha256


def _card(tmp_path: Path, model_id: str, file: Path, sha256: str, **changes: object) -> Path:
    shipped = models.model_card(SFACE)
    assert shipped.preprocessing is not None
    pre = shipped.preprocessing
    lines = [
        f'model_id = "{model_id}"',
        'kind = "template"',
        'implementation = "onnx"',
        'description = "SFace under a second card, as an operator would register a model"',
        f"file = {json.dumps(str(file))}",
        f'sha256 = "{sha256}"',
        'licence = "Apache-2.0"',
        'source = "opencv_zoo"',
        'input = "112x112"',
        f"dimensions = {changes.pop('dimensions', 128)}",
        "[preprocessing]",
        'alignment = "similarity-5"',
        "input_size = [112, 112]",
        f"template = {json.dumps([list(p) for p in pre.template])}",
        f'landmarks = "{pre.landmarks}"',
        f'colour = "{changes.pop("colour", pre.colour)}"',
    ]
    path = tmp_path / f"{model_id}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_operator_card_registers_a_model_without_code(
    tmp_path: Path, sface: OnnxTemplateModel, operator_id: str
) -> None:
    path = _card(tmp_path, operator_id, models.weights_path(sface.card), SFACE_SHA256)
    card = models.load_card(path)
    assert models.model_card(operator_id) == card and operator_id in models.template_model_ids()
    assert card.calibration is None
    with pytest.raises(ConfigurationError, match="no calibrated threshold"):
        models.default_threshold(operator_id)
    theirs = create_template_model(operator_id)
    chips = _chips(2, seed=5)
    assert np.allclose(theirs.embed(chips), sface.embed(chips), atol=1e-6)


def test_an_operator_card_file_relative_to_the_card(tmp_path: Path, sface: OnnxTemplateModel, operator_id: str) -> None:
    (tmp_path / "net.onnx").symlink_to(models.weights_path(sface.card))
    card = models.load_card(_card(tmp_path, operator_id, Path("net.onnx"), SFACE_SHA256), register=False)
    assert card.path == str(tmp_path / "net.onnx")


def test_a_checksum_mismatch_is_refused_at_load(tmp_path: Path, sface: OnnxTemplateModel, operator_id: str) -> None:
    wrong = hashlib.sha256(b"not these weights").hexdigest()
    with pytest.raises(ConfigurationError, match=r"SHA-256 .* but the card says"):
        models.load_card(_card(tmp_path, operator_id, models.weights_path(sface.card), wrong))
    assert operator_id not in models.model_cards()


def test_weights_changed_after_registration_are_refused(tmp_path: Path, operator_id: str) -> None:
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"first")
    models.load_card(_card(tmp_path, operator_id, weights, hashlib.sha256(b"first").hexdigest()))
    weights.write_bytes(b"tampered")
    with pytest.raises(ConfigurationError, match="damaged or not the one the card describes"):
        create_template_model(operator_id)


def test_a_damaged_shipped_file_is_refused(tmp_path: Path) -> None:
    damaged = tmp_path / "face_recognition_sface_2021dec.onnx"
    damaged.write_bytes(b"\0" * 1000)
    card = replace(models.model_card(SFACE), path=str(damaged))
    with pytest.raises(ConfigurationError, match=r"make weights"):
        OnnxTemplateModel(card)
    missing = replace(card, path=str(tmp_path / "absent.onnx"))
    with pytest.raises(ConfigurationError, match=r"missing .* run `make weights`"):
        OnnxTemplateModel(missing)


def test_a_card_whose_template_size_is_wrong_is_refused(
    tmp_path: Path, sface: OnnxTemplateModel, operator_id: str
) -> None:
    models.load_card(_card(tmp_path, operator_id, models.weights_path(sface.card), SFACE_SHA256, dimensions=512))
    with pytest.raises(ConfigurationError, match="the card says 512"):
        create_template_model(operator_id)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('model_id = "x"\nkind = "template"', "lacks description"),
        ("kind = 'template'", "needs a model_id"),
        ('model_id = "x"\nkind = "frobnicator"', "kind must be one of"),
        ('model_id = "x"\ncolour = "RGB"', "unknown field"),
        ("model_id = [", "not valid TOML"),
    ],
)
def test_malformed_cards_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "card.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigurationError, match=message):
        models.load_card(path)


def test_bad_preprocessing_is_refused(tmp_path: Path, sface: OnnxTemplateModel, operator_id: str) -> None:
    path = _card(tmp_path, operator_id, models.weights_path(sface.card), SFACE_SHA256, colour="CMYK")
    with pytest.raises(ConfigurationError, match="colour must be one of RGB, BGR"):
        models.load_card(path)


def test_shipped_ids_cannot_be_taken_over(tmp_path: Path, sface: OnnxTemplateModel) -> None:
    with pytest.raises(ConfigurationError, match="shipped model"):
        models.load_card(_card(tmp_path, SFACE, models.weights_path(sface.card), SFACE_SHA256))


def test_non_template_models_are_not_template_models() -> None:
    with pytest.raises(ConfigurationError, match="not a template model"):
        create_template_model("retinaface-mnet025")
    with pytest.raises(ConfigurationError, match="unknown model"):
        create_template_model("no-such-model")


def test_batchable_graph_opens_the_batch_dimension_only(sface: OnnxTemplateModel) -> None:
    import onnx

    data = models.read_weights(sface.card)
    before, after = onnx.load_from_string(data), onnx.load_from_string(batchable_graph(data))
    assert [i.name for i in after.graph.input] == ["data"]
    assert after.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [d.dim_value for d in after.graph.input[0].type.tensor_type.shape.dim[1:]] == [3, 112, 112]
    weights = {i.name: i.raw_data for i in before.graph.initializer}
    assert {i.name: i.raw_data for i in after.graph.initializer} == weights
    assert len(before.graph.node) == len(after.graph.node)


def test_calibration_for_a_setting() -> None:
    card = models.model_card(SFACE)
    assert card.calibration is not None
    for flip in (True, False):
        cal = card.calibration_for(flip)
        assert cal is not None and cal.flip == flip
        assert models.default_threshold(SFACE, flip) == cal.threshold
    dlib = models.model_card("dlib-resnet-v1")
    assert dlib.calibration_for(False) is dlib.calibration  # only the default setting was calibrated
