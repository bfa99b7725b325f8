"""Templates: aligned chips -> L2-normalised vectors, with test-time augmentation.

Which network makes the vectors is a template model (vision/template_models.py). For
dlib's ResNet (``dlib-resnet-v1``, 150x150 chips, 128-d) two runtimes compute the same
model:

* ``onnx`` (default): dlib's weights, read from the shipped ``.dat`` file and run in ONNX
  Runtime (see :mod:`facedocket.vision.dlib_onnx`); several times faster than dlib's own
  CPU code and tested to agree with it (cosine >= 0.999).
* ``dlib``: dlib's own ``face_recognition_model_v1``.

Test-time augmentation makes templates steadier. With ``flip`` the template is the
normalised mean over the chip and its mirror image; with ``jitter`` as well over four
fixed small similarity transforms of the chip (rotated by +/-4 degrees, scaled by
+/-5 %), each with its mirror: ten views. For dlib's ResNet on the development set, FNMR
at FMR 1e-3 is 6.6 % with one view, 5.5 % with flip and 5.0 % with flip and jitter
(docs/evaluation.md); a card says whether its model uses jitter (``preprocessing.jitter``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

from facedocket.errors import ConfigurationError, ModelMismatch
from facedocket.types import RGBArray, Template, Vector
from facedocket.vision import models

if TYPE_CHECKING:
    from facedocket.vision.template_models import TemplateModel

RUNTIMES = ("onnx", "dlib")
TEMPLATE_DIM = 128


class Descriptor(Protocol):
    """Computes raw descriptors for a batch of chips (N, 150, 150, 3) uint8."""

    def compute(self, chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]: ...


class DlibDescriptor:
    """dlib's own ResNet implementation."""

    def __init__(self, path: str | None = None) -> None:
        import dlib

        path = path or str(models.dlib_model_path("dlib_face_recognition_resnet_model_v1.dat"))
        self._model = dlib.face_recognition_model_v1(path)

    def compute(self, chips: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        if len(chips) == 0:
            return np.zeros((0, TEMPLATE_DIM), dtype=np.float32)
        batch = [np.ascontiguousarray(c) for c in chips]
        return np.asarray(self._model.compute_face_descriptor(batch), dtype=np.float32)


def create_descriptor(
    runtime: str = "onnx", threads: int = 1, cache_dir: str | None = None, path: str | None = None
) -> Descriptor:
    """Build dlib's ResNet in the runtime named (``path``: the ``.dat`` file, default the shipped one)."""
    if runtime == "dlib":
        return DlibDescriptor(path)
    if runtime == "onnx":
        from facedocket.vision.dlib_onnx import OnnxDlibDescriptor

        return OnnxDlibDescriptor(dat_path=path, threads=threads, cache_dir=cache_dir)
    raise ConfigurationError(f"unknown runtime {runtime!r}; choose one of: {', '.join(RUNTIMES)}")


def normalise(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


JITTERS = ((4.0, 1.0), (-4.0, 1.0), (0.0, 1.05), (0.0, 0.95))


def warp(chip: RGBArray, angle: float, scale: float) -> RGBArray:
    """``chip`` rotated by ``angle`` degrees (anticlockwise) and scaled by ``scale`` about
    its centre; uncovered corners are black, as in dlib's own jitter."""
    size = chip.shape[1], chip.shape[0]
    cx, cy = (size[0] - 1) / 2, (size[1] - 1) / 2
    theta = np.deg2rad(angle)
    cos, sin = np.cos(theta) / scale, np.sin(theta) / scale
    # output (x, y) samples input (a x + b y + c, d x + e y + f): the inverse transform.
    data = (cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy)
    image = PILImage.fromarray(chip).transform(size, PILImage.Transform.AFFINE, data, PILImage.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def _views(chips: npt.NDArray[np.uint8], jitter: bool) -> list[npt.NDArray[np.uint8]]:
    views = [chips]
    if jitter:
        views += [np.stack([warp(c, angle, scale) for c in chips]) for angle, scale in JITTERS]
    return views


def embed(
    model: TemplateModel, chips: npt.NDArray[np.uint8], flip: bool = True, jitter: bool = True
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Unit-length templates (N, D) of ``model`` for its aligned chips (N, H, W, 3), and
    each chip's symmetry: the cosine between the templates of the chip and its mirror
    image (1.0 without ``flip``, where the mirror is not computed). ``jitter`` needs
    ``flip`` and is used only where the model's card allows it."""
    n, dim = len(chips), model.card.dimensions
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32), np.zeros(0, dtype=np.float32)
    if not flip:
        return model.embed(chips), np.ones(n, dtype=np.float32)
    pre = model.card.preprocessing
    views = _views(chips, jitter and pre is not None and pre.jitter)
    batch = np.concatenate([x for view in views for x in (view, view[:, :, ::-1, :])])
    templates = model.embed(batch).reshape(len(views) * 2, n, dim)
    symmetry = np.einsum("ij,ij->i", templates[0], templates[1]).astype(np.float32)
    return normalise(templates.sum(axis=0)), symmetry


def similarity(a: Template, b: Template) -> float:
    """Cosine similarity of two templates (higher = more alike), refusing mixed models."""
    if a.model_id != b.model_id:
        raise ModelMismatch(
            f"cannot compare a {a.model_id} template with a {b.model_id} template; re-enrol with one model"
        )
    return cosine(a.vector, b.vector)


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two vectors."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def chip_stack(chips: list[RGBArray], size: tuple[int, int] = (150, 150)) -> npt.NDArray[np.uint8]:
    """List of chips -> one (N, height, width, 3) array; ``size`` = (width, height) when empty."""
    if not chips:
        return np.zeros((0, size[1], size[0], 3), dtype=np.uint8)
    return np.stack(chips).astype(np.uint8)
