"""Alignment: a detected face -> dlib's 5-point landmarks -> the 150x150 chip dlib's
ResNet expects.

dlib's 5-point shape predictor was trained on boxes from dlib's own detectors, which are
square and sit lower and tighter than RetinaFace's. A RetinaFace box is therefore mapped to
a dlib-style box first: square, side ``0.958 * sqrt(w * h)``, centre moved down by
``0.046 * h``. Those two constants are the medians of the ratio between dlib HOG boxes
and RetinaFace boxes over the faces both detectors found in a sample of the development
photos (global constants, no per-photo tuning).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from facedocket.types import Box, Face, RGBArray
from facedocket.vision import models

CHIP_SIZE = 150
CHIP_PADDING = 0.25
_RETINA_TO_DLIB_SIDE = 0.958
_RETINA_TO_DLIB_DY = 0.046


def dlib_box(face: Face, detector: str) -> Box:
    """The box to give dlib's shape predictor for a face found by ``detector``."""
    if detector == "hog":
        return face.box
    box = face.box
    side = _RETINA_TO_DLIB_SIDE * float(np.sqrt(max(box.width, 1.0) * max(box.height, 1.0)))
    cx = (box.left + box.right) / 2
    cy = (box.top + box.bottom) / 2 + _RETINA_TO_DLIB_DY * box.height
    return Box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


class Aligner:
    """Runs dlib's 5-point shape predictor and cuts the aligned chip."""

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        path = models.dlib_model_path("shape_predictor_5_face_landmarks.dat")
        self._predictor = dlib.shape_predictor(str(path))

    def shape(self, pixels: RGBArray, box: Box) -> Any:
        """dlib's ``full_object_detection`` (5 points) inside ``box``."""
        rect = self._dlib.rectangle(round(box.left), round(box.top), round(box.right) - 1, round(box.bottom) - 1)
        return self._predictor(pixels, rect)

    def chip(self, pixels: RGBArray, shape: Any) -> RGBArray:
        """The aligned 150x150 RGB chip, as dlib's ``compute_face_descriptor`` cuts it."""
        chip = self._dlib.get_face_chip(pixels, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        return np.ascontiguousarray(chip, dtype=np.uint8)

    def align(self, pixels: RGBArray, face: Face, detector: str) -> RGBArray:
        """Chip for ``face`` found by ``detector`` in ``pixels``."""
        return self.chip(pixels, self.shape(pixels, dlib_box(face, detector)))
