"""Per-face quality: is this face usable for recognition?

Measures (all on the face as found, or on its aligned 150x150 chip):

* ``inter_eye_px`` — distance between the eye centres in the original image, in pixels.
  ISO/IEC 19794-5 asks for 60+ px for a token image; recognition degrades well below 30.
* ``sharpness`` — variance of a 3x3 Laplacian over the chip's grey levels.
* ``brightness`` — mean grey level of the chip's central region (0..255).
* ``contrast`` — standard deviation of those grey levels.
* ``yaw`` — estimated head turn in degrees from how far the nose tip sits from the
  midpoint of the eyes, relative to the eye distance (0 = frontal; sign = direction).
* ``roll`` — in-plane tilt of the eye line in degrees.
* ``detection_score`` — the detector's confidence.
* ``symmetry`` — cosine similarity between the template of the chip and the template of
  its mirror image (only when templates are made with ``flip``, else 1). A clean, well
  aligned, unoccluded face looks like itself mirrored to the model; occlusion, bad
  alignment, strong one-sided light and non-faces do not. On the development set it is the
  measure that best predicts failed genuine comparisons.

``score`` in [0, 1] is the product of one factor per measure, each a linear ramp from
0 (unusable) to 1 (no penalty)::

    size      ramp(inter_eye_px, 10, 40)
    sharpness ramp(sharpness, 2, 10)        # only severe blur
    exposure  ramp(brightness, 30, 90) * ramp(255 - brightness, 30, 90)
    contrast  ramp(contrast, 5, 20)
    pose      ramp(60 - |yaw|, 0, 40)       # full marks up to 20 degrees, 0 at 60
    detection ramp(detection_score, 0.8, 0.99)
    symmetry  ramp(symmetry, *card.preprocessing.symmetry_ramp)   # dlib-resnet-v1: 0.97, 0.995

Symmetry is a cosine between two of the template model's own templates, so its scale is
the model's: each template model's card carries its ramp. dlib-resnet-v1's (0.97, 0.995)
was set as the other ramps were; sface-2021dec's (0.93, 0.98) puts its ends at the same
quantiles of the symmetry distribution, matched over the same 400 development photos
(dlib's 0.97 and 0.995 fall at SFace's 0.93-0.94 and 0.98).

Roll is reported but not penalised: alignment removes it. The ramps are round numbers
chosen once from published guidance and the spread of each measure over a whole data
set, not fitted to any photo; how well the score predicts failed genuine comparisons is
measured by ``facedocket evaluate`` (``quality`` in its output) and recorded in
docs/quality.md.
"""

from __future__ import annotations

import math

import numpy as np

from facedocket.types import Face, Quality, RGBArray

SYMMETRY_RAMP = (0.97, 0.995)
"""dlib-resnet-v1's; other template models carry theirs on their card."""
_LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)


def ramp(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear between."""
    if high <= low:
        return 1.0 if value >= high else 0.0
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def pose(face: Face) -> tuple[float, float, float]:
    """(inter-eye distance px, yaw degrees, roll degrees) from the five landmarks."""
    marks = np.asarray(face.landmarks, dtype=np.float64)
    left_eye, right_eye, nose = marks[0], marks[1], marks[2]
    eye_vec = right_eye - left_eye
    distance = float(np.linalg.norm(eye_vec))
    roll = math.degrees(math.atan2(eye_vec[1], eye_vec[0]))
    if distance < 1e-6:
        return 0.0, 90.0, roll
    unit = eye_vec / distance
    offset = float(np.dot(nose - (left_eye + right_eye) / 2, unit)) / (distance / 2)
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, offset))))
    return distance, yaw, roll


def _grey(chip: RGBArray) -> np.ndarray:
    return chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian of a grey image."""
    g = grey
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def assess(
    face: Face, chip: RGBArray, symmetry: float = 1.0, symmetry_ramp: tuple[float, float] = SYMMETRY_RAMP
) -> Quality:
    """Quality of ``face`` given its aligned ``chip`` and its template's ``symmetry``
    (``symmetry_ramp``: the model card's, since symmetry is on the model's scale)."""
    grey = _grey(chip)
    h, w = grey.shape
    centre = grey[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    brightness, contrast = float(centre.mean()), float(centre.std())
    eye_px, yaw, roll = pose(face)
    sharp = sharpness(grey)
    score = (
        ramp(eye_px, 10, 40)
        * ramp(sharp, 2, 10)
        * ramp(brightness, 30, 90)
        * ramp(255 - brightness, 30, 90)
        * ramp(contrast, 5, 20)
        * ramp(60 - abs(yaw), 0, 40)
        * ramp(face.score, 0.8, 0.99)
        * ramp(symmetry, *symmetry_ramp)
    )
    return Quality(
        inter_eye_px=eye_px,
        sharpness=sharp,
        brightness=brightness,
        contrast=contrast,
        yaw=yaw,
        roll=roll,
        detection_score=face.score,
        symmetry=symmetry,
        score=score,
    )
