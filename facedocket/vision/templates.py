"""Templates: aligned 150x150 chips -> L2-normalised 128-d vectors from dlib's ResNet.

Two runtimes compute the same model (``dlib-resnet-v1``):

* ``onnx`` (default): dlib's weights, read from the shipped ``.dat`` file and run in ONNX
  Runtime (see :mod:`facedocket.vision.dlib_onnx`); several times faster than dlib's own
  CPU code and tested to agree with it (cosine >= 0.999).
* ``dlib``: dlib's own ``face_recognition_model_v1``.

With ``flip`` the template is the normalised mean of the chip's descriptor and its mirror
image's, which is more robust to pose and lighting asymmetry.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from facedocket.errors import ConfigurationError, ModelMismatch
from facedocket.types import RGBArray, Template, Vector
from facedocket.vision import models

RUNTIMES = ("onnx", "dlib")
TEMPLATE_DIM = 128


class Descriptor(Protocol):
    """Computes raw descriptors for a batch of chips (N, 150, 150, 3) uint8."""

    def compute(self, chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]: ...


class DlibDescriptor:
    """dlib's own ResNet implementation."""

    def __init__(self) -> None:
        import dlib

        path = models.dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")
        self._model = dlib.face_recognition_model_v1(str(path))

    def compute(self, chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        if len(chips) == 0:
            return np.zeros((0, TEMPLATE_DIM), dtype=np.float32)
        batch = [np.ascontiguousarray(c) for c in chips]
        return np.asarray(self._model.compute_face_descriptor(batch), dtype=np.float32)


def create_descriptor(runtime: str = "onnx", threads: int = 1, cache_dir: str | None = None) -> Descriptor:
    """Build the descriptor runtime by name."""
    if runtime == "dlib":
        return DlibDescriptor()
    if runtime == "onnx":
        from facedocket.vision.dlib_onnx import OnnxDlibDescriptor

        return OnnxDlibDescriptor(threads=threads, cache_dir=cache_dir)
    raise ConfigurationError(f"unknown runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")


def normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def embed(descriptor: Descriptor, chips: npt.NDArray[np.uint8], flip: bool = True) -> npt.NDArray[np.float32]:
    """Unit-length templates (N, 128) for aligned chips (N, 150, 150, 3)."""
    if len(chips) == 0:
        return np.zeros((0, TEMPLATE_DIM), dtype=np.float32)
    if not flip:
        return normalise(descriptor.compute(chips))
    both = descriptor.compute(np.concatenate([chips, chips[:, :, ::-1, :]]))
    n = len(chips)
    return normalise(normalise(both[:n]) + normalise(both[n:]))


def similarity(a: Template, b: Template) -> float:
    """Cosine similarity of two templates (higher = more alike), refusing mixed models."""
    if a.model_id != b.model_id:
        raise ModelMismatch(
            f"cannot compare a {a.model_id} template with a {b.model_id} template; "
            "re-enrol with one model"
        )
    return cosine(a.vector, b.vector)


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two vectors."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def chip_stack(chips: list[RGBArray]) -> npt.NDArray[np.uint8]:
    """List of chips -> one (N, 150, 150, 3) array."""
    if not chips:
        return np.zeros((0, 150, 150, 3), dtype=np.uint8)
    return np.stack(chips).astype(np.uint8)
