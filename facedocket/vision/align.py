"""Alignment: a detected face -> the aligned chip a template model expects.

Two kinds of alignment, one per kind of model card (``alignment`` in its preprocessing):

* ``dlib-chip``: dlib's 5-point landmarks -> the 150x150 chip dlib's ResNet expects, cut
  by ``dlib.get_face_chip`` (:class:`DlibChipAligner`);
* ``similarity-5``: five landmarks (eye centres, nose tip, mouth corners) mapped onto the
  card's five template points by the least-squares similarity transform (rotation, one
  scale, translation; no reflection), and the chip sampled bilinearly with NumPy
  (:class:`SimilarityAligner`). ArcFace-style models such as SFace use the 112x112
  template :data:`ARCFACE_112`.

Where the five landmarks of ``similarity-5`` come from is the card's ``landmarks``:
``detector`` (the detector's own five points), ``dlib-68`` (dlib's 68-point model inside
the detected box, reduced to eye centres, nose tip and mouth corners) or ``dlib-5``
(dlib's 5-point model: eye centres from the eye corners, and the base of the nose
standing in for the tip).

dlib's shape predictors were trained on boxes from dlib's own detectors, which are square
and sit lower and tighter than RetinaFace's. A RetinaFace box is therefore mapped to a
dlib-style box first: square, side ``0.958 * sqrt(w * h)``, centre moved down by
``0.046 * h``. Those two constants are the medians of the ratio between dlib HOG boxes
and RetinaFace boxes over the faces both detectors found in a sample of the development
photos (global constants, no per-photo tuning).

Landmarks are in pixel-index coordinates (the centre of pixel (i, j) is (i, j)), in the
order of :class:`~facedocket.types.Face`: eye on the image's left, eye on the image's
right, nose, mouth corner on the left, mouth corner on the right.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from facedocket.errors import ConfigurationError
from facedocket.types import Box, Face, RGBArray
from facedocket.vision import models

CHIP_SIZE = 150
CHIP_PADDING = 0.25
_RETINA_TO_DLIB_SIDE = 0.958
_RETINA_TO_DLIB_DY = 0.046

Points = npt.NDArray[np.float64]

ARCFACE_112: tuple[tuple[float, float], ...] = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)
"""The five-point template of ArcFace-style 112x112 models (insightface's ``arcface_dst``)."""

LANDMARK_SOURCES = ("detector", "dlib-68", "dlib-5")


class Aligner(Protocol):
    """Cuts the aligned chip of a detected face."""

    def align(self, pixels: RGBArray, face: Face, detector: str) -> RGBArray:
        """The chip for ``face``, found by the detector named ``detector``, in ``pixels``."""
        ...


def dlib_box(face: Face, detector: str) -> Box:
    """The box to give dlib's shape predictor for a face found by ``detector``."""
    if detector == "hog":
        return face.box
    box = face.box
    side = _RETINA_TO_DLIB_SIDE * float(np.sqrt(max(box.width, 1.0) * max(box.height, 1.0)))
    cx = (box.left + box.right) / 2
    cy = (box.top + box.bottom) / 2 + _RETINA_TO_DLIB_DY * box.height
    return Box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


class _Predictor:
    """One dlib shape predictor per thread (dlib objects keep scratch state)."""

    def __init__(self, file: str) -> None:
        import dlib

        self._dlib = dlib
        self._path = str(models.dlib_model_path(file))
        self._local = threading.local()
        self._model()  # load once up front, so a missing model fails here

    def _model(self) -> Any:
        if not hasattr(self._local, "predictor"):
            self._local.predictor = self._dlib.shape_predictor(self._path)
        return self._local.predictor

    def shape(self, pixels: RGBArray, box: Box) -> Any:
        """dlib's ``full_object_detection`` inside ``box``."""
        rect = self._dlib.rectangle(round(box.left), round(box.top), round(box.right) - 1, round(box.bottom) - 1)
        return self._model()(pixels, rect)


def shape_points(shape: Any) -> Points:
    """The points of a dlib ``full_object_detection`` as an (n, 2) array."""
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)], dtype=np.float64)


def five_from_68(pts: Points) -> Points:
    """Eye centres (means of the six points of each eye), nose tip (30), mouth corners (48, 54)."""
    return np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], pts[48], pts[54]])


def five_from_dlib5(pts: Points) -> Points:
    """dlib's 5-point model gives two corners per eye and the base of the nose: eye centres
    are the corners' midpoints, the nose base stands in for the tip, and the mouth corners
    are unknown (``nan``: left out of the fit)."""
    eyes = sorted([pts[0:2].mean(0), pts[2:4].mean(0)], key=lambda p: float(p[0]))
    missing = np.full(2, np.nan)
    return np.stack([eyes[0], eyes[1], pts[4], missing, missing])


class DlibChipAligner:
    """dlib's 5-point shape predictor and ``get_face_chip``: the 150x150 chip of dlib's ResNet."""

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self._predictor = _Predictor("shape_predictor_5_face_landmarks.dat")

    def shape(self, pixels: RGBArray, box: Box) -> Any:
        """dlib's ``full_object_detection`` (5 points) inside ``box``."""
        return self._predictor.shape(pixels, box)

    def chip(self, pixels: RGBArray, shape: Any) -> RGBArray:
        """The aligned 150x150 RGB chip, as dlib's ``compute_face_descriptor`` cuts it."""
        chip = self._dlib.get_face_chip(pixels, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def align(self, pixels: RGBArray, face: Face, detector: str) -> RGBArray:
        """Chip for ``face`` found by ``detector`` in ``pixels``."""
        return self.chip(pixels, self.shape(pixels, dlib_box(face, detector)))


class FivePoints:
    """The five landmarks of a face from one source (see :data:`LANDMARK_SOURCES`)."""

    def __init__(self, source: str) -> None:
        if source not in LANDMARK_SOURCES:
            raise ConfigurationError(
                f"unknown landmark source {source!r}; choose one of: {', '.join(LANDMARK_SOURCES)}"
            )
        self.source = source
        self._predictor: _Predictor | None = None
        if source == "dlib-68":
            self._predictor = _Predictor("shape_predictor_68_face_landmarks.dat")
        elif source == "dlib-5":
            self._predictor = _Predictor("shape_predictor_5_face_landmarks.dat")

    def points(self, pixels: RGBArray, face: Face, detector: str) -> Points:
        """(5, 2) landmarks; a row of ``nan`` is a point this source does not give."""
        if self._predictor is None or (self.source == "dlib-68" and detector == "hog"):
            # the hog detector's five points already come from the 68-point model (detect.py)
            return np.asarray(face.landmarks, dtype=np.float64)
        pts = shape_points(self._predictor.shape(pixels, dlib_box(face, detector)))
        return five_from_68(pts) if self.source == "dlib-68" else five_from_dlib5(pts)


def similarity_transform(src: Sequence[Sequence[float]] | Points, dst: Sequence[Sequence[float]] | Points) -> Points:
    """The 2x3 matrix ``M`` of the similarity (rotation, one scale, translation) that maps
    ``src`` points closest to ``dst`` in least squares: ``dst ~ M @ [x, y, 1]``.

    Rows with a ``nan`` in ``src`` are left out; at least two points must remain.
    In complex numbers the fit is ``dst = a * src + b`` with
    ``a = sum((d - mean d) * conj(s - mean s)) / sum(|s - mean s|^2)``, ``b = mean d - a * mean s``.

    Example::

        >>> m = similarity_transform([(0, 0), (2, 0)], [(1, 1), (1, 3)])  # rotate 90 deg, then shift
        >>> np.round(m, 6).tolist()
        [[0.0, -1.0, 1.0], [1.0, 0.0, 1.0]]
    """
    s_all, d_all = np.asarray(src, dtype=np.float64), np.asarray(dst, dtype=np.float64)
    if s_all.shape != d_all.shape or s_all.ndim != 2 or s_all.shape[1] != 2:
        raise ValueError(f"need two (n, 2) point arrays of one shape, got {s_all.shape} and {d_all.shape}")
    keep = np.isfinite(s_all).all(axis=1)
    s = s_all[keep, 0] + 1j * s_all[keep, 1]
    d = d_all[keep, 0] + 1j * d_all[keep, 1]
    if s.size < 2:
        raise ValueError("a similarity transform needs at least two points")
    sc, dc = s - s.mean(), d - d.mean()
    spread = float(np.sum(np.abs(sc) ** 2))
    if spread < 1e-12:
        raise ValueError("the source points coincide")
    a = complex(np.sum(dc * np.conj(sc)) / spread)
    b = complex(d.mean() - a * s.mean())
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def warp_affine(pixels: RGBArray, matrix: Points, size: tuple[int, int]) -> RGBArray:
    """``pixels`` warped by the 2x3 forward ``matrix`` into a ``size`` = (width, height) image,
    sampled bilinearly; what falls outside the image is black (as OpenCV's ``warpAffine``
    with a constant border)."""
    width, height = size
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    x = inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2]
    y = inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2]
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    rows, cols = pixels.shape[:2]
    out = np.zeros((height, width, pixels.shape[2]), dtype=np.float64)
    for dy, dx, weight in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < cols) & (yi >= 0) & (yi < rows)
        sample = pixels[np.clip(yi, 0, rows - 1), np.clip(xi, 0, cols - 1)].astype(np.float64)
        out += np.where(inside[..., None], sample * weight, 0.0)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class SimilarityAligner:
    """Five landmarks from ``source`` -> least-squares similarity onto ``template`` -> chip.

    Example::

        aligner = SimilarityAligner(ARCFACE_112, (112, 112), "dlib-68")
        chip = aligner.align(image.pixels, face, "retinaface")  # uint8 (112, 112, 3) RGB
    """

    def __init__(self, template: Sequence[Sequence[float]], size: tuple[int, int], source: str) -> None:
        self.template = np.asarray(template, dtype=np.float64)
        if self.template.shape != (5, 2):
            raise ConfigurationError(f"an alignment template needs five (x, y) points, got {self.template.shape}")
        self.size = size
        self.landmarks = FivePoints(source)

    def matrix(self, points: Points) -> Points:
        """The similarity that maps ``points`` onto the template."""
        return similarity_transform(points, self.template)

    def align(self, pixels: RGBArray, face: Face, detector: str) -> RGBArray:
        points = self.landmarks.points(pixels, face, detector)
        return warp_affine(pixels, self.matrix(points), self.size)
