"""Plain value types that flow through the pipeline: image -> faces -> templates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

RGBArray = npt.NDArray[np.uint8]
Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Image:
    """A decoded image: 8-bit RGB pixels (H, W, 3), upright, plus the SHA-256 of the
    original bytes and the format they were in. ``scale`` is decoded pixels per original
    pixel: 1.0, or less for an image scaled down while decoding (see vision/images.py);
    face boxes and landmarks are in the decoded pixels' coordinates."""

    pixels: RGBArray
    sha256: str
    format: str
    source: str = ""
    scale: float = 1.0

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixel coordinates (left, top, right, bottom)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    def as_list(self) -> list[float]:
        return [round(self.left, 1), round(self.top, 1), round(self.right, 1), round(self.bottom, 1)]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes given as (left, top, right, bottom); 0 when
    either is not four numbers or they do not overlap."""
    if len(a) != 4 or len(b) != 4:
        return 0.0
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Quality:
    """Per-face quality measures; ``score`` in [0, 1] sums them up (see vision/quality.py)."""

    inter_eye_px: float
    sharpness: float
    brightness: float
    contrast: float
    yaw: float
    roll: float
    detection_score: float
    symmetry: float
    score: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Face:
    """One detected face: box, detection score and five landmarks
    (right eye, left eye, nose, right mouth corner, left mouth corner, as seen in the image:
    'right eye' is the subject's right eye, on the image's left)."""

    box: Box
    score: float
    landmarks: tuple[tuple[float, float], ...]
    quality: Quality | None = None


@dataclass(frozen=True)
class Template:
    """A face template: an L2-normalised float32 vector and the id of the model that made it."""

    vector: Vector
    model_id: str
    quality: float = 0.0
    source_sha256: str = ""
    face: Face | None = field(default=None, compare=False)


def json_default(value: object) -> object:
    """``json.dumps(..., default=json_default)``: NumPy arrays as lists (6 decimals), NumPy
    scalars as numbers, paths as text."""
    if isinstance(value, np.ndarray):
        return [round(float(x), 6) for x in value.ravel()]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")
