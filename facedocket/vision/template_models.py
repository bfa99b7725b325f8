"""Template models as plug-ins: a model card plus one small interface.

A :class:`TemplateModel` has its ``card``, the ``aligner`` that cuts the chip the card
describes, and ``embed(chips)``: aligned chips in, one unit-length template per chip out
(test-time augmentation, flip and jitter, is the pipeline's business: see
:func:`facedocket.vision.templates.embed`). Two implementations serve every card:

* ``dlib-resnet``: dlib's ResNet (``dlib-resnet-v1``), in ONNX Runtime or dlib's own code;
* ``onnx``: any ONNX network whose card gives its preprocessing: the shipped SFace
  (``sface-2021dec``), or an operator's own model registered from a card file
  (:func:`facedocket.vision.models.load_card`).

Example::

    model = create_template_model("sface-2021dec")
    chip = model.aligner.align(image.pixels, face, "retinaface")
    vectors = model.embed(np.stack([chip]))     # (1, 128) float32, unit length
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from facedocket.errors import ConfigurationError, InvalidInput
from facedocket.vision import models
from facedocket.vision.align import Aligner, DlibChipAligner, SimilarityAligner
from facedocket.vision.models import ModelCard, Preprocessing
from facedocket.vision.templates import Descriptor, create_descriptor, normalise

FloatArray = npt.NDArray[np.float32]
ChipArray = npt.NDArray[np.uint8]
# Chips per ONNX Runtime call: on a CPU larger batches are no faster, and memory grows with them.
MAX_BATCH = 8


class TemplateModel(Protocol):
    """A template model: its card, its aligner, and chips -> templates."""

    card: ModelCard
    aligner: Aligner

    def embed(self, chips: ChipArray) -> FloatArray:
        """Unit-length templates ``(N, card.dimensions)`` for aligned uint8 RGB chips
        ``(N, height, width, 3)`` of the card's input size, one view each."""
        ...


def _check_chips(card: ModelCard, chips: ChipArray) -> None:
    assert card.preprocessing is not None
    width, height = card.preprocessing.input_size
    if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (height, width, 3):
        raise InvalidInput(
            f"{card.model_id} takes uint8 RGB chips (N, {height}, {width}, 3), got {chips.dtype} {chips.shape}"
        )


def create_aligner(card: ModelCard) -> Aligner:
    """The aligner a card's preprocessing asks for."""
    pre = card.preprocessing
    if pre is None:
        raise ConfigurationError(f"model card {card.model_id!r} has no preprocessing; it is not a template model")
    if pre.alignment == "dlib-chip":
        if pre.input_size != (150, 150):
            raise ConfigurationError(f"{card.model_id}: dlib-chip alignment cuts 150x150 chips only")
        return DlibChipAligner()
    return SimilarityAligner(pre.template, pre.input_size, pre.landmarks)


class DlibResnetModel:
    """dlib's ResNet (``dlib-resnet-v1``): runtime ``onnx`` (default) or ``dlib``."""

    def __init__(self, card: ModelCard, runtime: str = "onnx", threads: int = 1, cache_dir: str | None = None) -> None:
        self.card = card
        path = models.verify_weights(card)
        self.aligner: Aligner = create_aligner(card)
        self.descriptor: Descriptor = create_descriptor(runtime, threads=threads, cache_dir=cache_dir, path=str(path))

    def embed(self, chips: ChipArray) -> FloatArray:
        _check_chips(self.card, chips)
        if len(chips) == 0:
            return np.zeros((0, self.card.dimensions), dtype=np.float32)
        return normalise(self.descriptor.compute(chips))


def batchable_graph(data: bytes) -> bytes:
    """The ONNX model with its batch dimension left open and its weights taken out of the
    graph inputs (exporters that list weights as inputs keep ONNX Runtime from folding
    batch norms into convolutions). The weights themselves are unchanged."""
    import onnx

    model = onnx.load_from_string(data)
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) > 0:
            dims[0].dim_param = "batch"
    return bytes(model.SerializeToString())


class OnnxTemplateModel:
    """A template model run by ONNX Runtime, prepared as its card says.

    The network's first input takes the chips and its first output gives the templates.
    At load the batch dimension is opened (:func:`batchable_graph`) when a batch of two
    gives the same templates as two single runs; otherwise chips go one at a time.
    """

    def __init__(self, card: ModelCard, threads: int = 1) -> None:
        if card.preprocessing is None or card.dimensions < 1:
            raise ConfigurationError(f"model card {card.model_id!r} is not a template model card")
        self.card = card
        self.pre: Preprocessing = card.preprocessing
        self.aligner: Aligner = create_aligner(card)
        self._threads = threads
        original = models.read_weights(card)
        self.batched = True
        try:
            self._start(batchable_graph(original))
            self._check_batching()
        except Exception:  # an exotic graph: keep it as it is and run chips one by one
            self.batched = False
            self._start(original)
        probe = self._run(self._input(np.zeros((1, *self._chip_shape()), dtype=np.uint8)))
        if probe.shape != (1, card.dimensions):
            raise ConfigurationError(
                f"{card.model_id} gives templates of shape {probe.shape[1:]}, the card says {card.dimensions}"
            )

    def _chip_shape(self) -> tuple[int, int, int]:
        width, height = self.pre.input_size
        return height, width, 3

    def _start(self, graph: bytes) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = max(1, self._threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Spinning workers gain nothing here and halve the speed when another process holds a core.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        except Exception as e:  # ONNX Runtime raises its own exception types
            raise ConfigurationError(f"ONNX Runtime cannot load {self.card.model_id}: {e}") from None
        self._in = self._session.get_inputs()[0].name
        self._out = self._session.get_outputs()[0].name

    def _check_batching(self) -> None:
        rng = np.random.default_rng(0)
        chips = rng.integers(0, 256, size=(2, *self._chip_shape()), dtype=np.uint8)
        both = self._run(self._input(chips))
        one = np.concatenate([self._run(self._input(chips[i : i + 1])) for i in range(2)])
        if both.shape != one.shape or not np.allclose(both, one, rtol=1e-4, atol=1e-4):
            raise ValueError("batched and single runs differ")

    def _input(self, chips: ChipArray) -> npt.NDArray[np.generic]:
        x: npt.NDArray[np.generic] = chips[..., ::-1] if self.pre.colour == "BGR" else chips
        if self.pre.dtype == "float32":
            mean = np.asarray(self.pre.mean, dtype=np.float32)
            std = np.asarray(self.pre.std, dtype=np.float32)
            x = (x.astype(np.float32) - mean) / std
        if self.pre.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def _run(self, x: npt.NDArray[np.generic]) -> FloatArray:
        step = MAX_BATCH if self.batched else 1
        parts = [self._session.run([self._out], {self._in: x[i : i + step]})[0] for i in range(0, len(x), step)]
        out = np.concatenate(parts).reshape(len(x), -1)
        return out.astype(np.float32, copy=False)

    def embed(self, chips: ChipArray) -> FloatArray:
        _check_chips(self.card, chips)
        if len(chips) == 0:
            return np.zeros((0, self.card.dimensions), dtype=np.float32)
        return normalise(self._run(self._input(chips)))


def create_template_model(
    model_id: str = models.TEMPLATE_MODEL_ID, runtime: str = "onnx", threads: int = 1, cache_dir: str | None = None
) -> TemplateModel:
    """The template model of ``model_id``, its weights checked against its card.

    ``runtime`` (``onnx`` or ``dlib``) applies to ``dlib-resnet`` models only; ``cache_dir``
    keeps dlib's converted ONNX graph."""
    card = models.model_card(model_id)
    if card.kind != "template":
        raise ConfigurationError(
            f"{model_id} is a {card.kind} model, not a template model; choose one of: "
            f"{', '.join(models.template_model_ids())}"
        )
    if card.implementation == "dlib-resnet":
        return DlibResnetModel(card, runtime=runtime, threads=threads, cache_dir=cache_dir)
    if card.implementation == "onnx":
        return OnnxTemplateModel(card, threads=threads)
    raise ConfigurationError(f"{model_id}: no implementation {card.implementation!r}")
