"""Similarity alignment: the least-squares fit, the NumPy warp, and five points onto the template."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from facedocket.errors import ConfigurationError
from facedocket.types import Box, Face
from facedocket.vision.align import (
    ARCFACE_112,
    FivePoints,
    SimilarityAligner,
    five_from_68,
    similarity_transform,
    warp_affine,
)
from facedocket.vision.images import load_image

TEMPLATE = np.array(ARCFACE_112)


def _similarity(scale: float, degrees: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = scale * math.cos(math.radians(degrees)), scale * math.sin(math.radians(degrees))
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_similarity_transform_recovers_a_known_similarity() -> None:
    truth = _similarity(2.7, -23.0, (140.0, 65.5))
    src = _apply(np.linalg.inv(np.vstack([truth, [0, 0, 1]]))[:2], TEMPLATE)  # template seen in a photo
    assert np.allclose(similarity_transform(src, TEMPLATE), truth, atol=1e-9)
    assert np.allclose(_apply(similarity_transform(src, TEMPLATE), src), TEMPLATE, atol=1e-9)


def test_similarity_transform_is_the_least_squares_fit() -> None:
    rng = np.random.default_rng(3)
    src = TEMPLATE * 1.8 + 20 + rng.normal(0, 1.5, size=TEMPLATE.shape)
    best = similarity_transform(src, TEMPLATE)
    error = np.sum((_apply(best, src) - TEMPLATE) ** 2)
    for _ in range(200):  # no nearby similarity fits better
        a, b, c, d = best[0, 0], best[1, 0], best[0, 2], best[1, 2]
        da, db, dc, dd = rng.normal(0, [1e-3, 1e-3, 0.05, 0.05])
        other = np.array([[a + da, -(b + db), c + dc], [b + db, a + da, d + dd]])
        assert np.sum((_apply(other, src) - TEMPLATE) ** 2) >= error


def test_similarity_transform_never_reflects() -> None:
    mirrored = TEMPLATE * np.array([-1.0, 1.0])
    m = similarity_transform(mirrored, TEMPLATE)
    assert np.linalg.det(m[:, :2]) > 0


def test_similarity_transform_skips_missing_points_and_refuses_too_few() -> None:
    src = TEMPLATE.copy()
    src[3:] = np.nan
    assert np.allclose(similarity_transform(src, TEMPLATE), _similarity(1, 0, (0, 0)), atol=1e-9)
    src[1:] = np.nan
    with pytest.raises(ValueError, match="at least two"):
        similarity_transform(src, TEMPLATE)


def test_warp_affine_moves_pixels_and_blacks_out_the_outside() -> None:
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[10, 20] = (255, 128, 7)
    out = warp_affine(image, _similarity(1, 0, (5, -3)), (60, 40))
    assert tuple(out[7, 25]) == (255, 128, 7) and out.sum() == 255 + 128 + 7
    flat = np.full((10, 10, 3), 200, dtype=np.uint8)
    shifted = warp_affine(flat, _similarity(1, 0, (4.0, 0.0)), (10, 10))
    assert (shifted[:, :4] == 0).all() and (shifted[:, 4:] == 200).all()


def test_warp_affine_interpolates_bilinearly() -> None:
    ramp = np.tile(np.arange(0, 200, 10, dtype=np.uint8)[None, :, None], (5, 1, 3))
    out = warp_affine(ramp, _similarity(1, 0, (-0.5, 0)), (19, 5))  # half a pixel to the left
    assert np.array_equal(out[2, :18, 0], np.arange(5, 185, 10))


def test_aligner_puts_five_dots_on_the_template() -> None:
    """Five bright dots drawn where a rotated, scaled face would have its landmarks come out
    of the aligner on the template's points."""
    photo_from_chip = _similarity(2.4, 17.0, (80.0, 30.0))
    dots = _apply(photo_from_chip, TEMPLATE)
    image = np.zeros((400, 400, 3), dtype=np.uint8)
    for x, y in dots:
        image[round(y) - 2 : round(y) + 3, round(x) - 2 : round(x) + 3] = 255
    face = Face(Box(0, 0, 400, 400), 1.0, tuple((float(x), float(y)) for x, y in np.rint(dots)))
    chip = SimilarityAligner(ARCFACE_112, (112, 112), "detector").align(image, face, "retinaface")
    assert chip.shape == (112, 112, 3) and chip.dtype == np.uint8
    grey = chip[..., 0].astype(float)
    for x, y in TEMPLATE:
        r, c = round(y), round(x)
        window = grey[r - 3 : r + 4, c - 3 : c + 4]
        peak = np.unravel_index(np.argmax(window), window.shape)
        assert window.max() > 200 and abs(peak[0] - 3) <= 1 and abs(peak[1] - 3) <= 1, (x, y)


def test_real_landmarks_land_near_the_template(dev_dir: Path) -> None:
    """Each source's five points on a frontal dev photo, mapped by the fitted similarity,
    lie within a few chip pixels of the template (mouth corners and nose are not fitted
    exactly: faces are not all shaped like the template)."""
    from facedocket.vision.detect import create_detector

    pixels = load_image(dev_dir / "Aaron_Peirsol" / "1.jpg").pixels
    face = create_detector("retinaface").detect(pixels)[0]
    for source, limit in (("detector", 6.0), ("dlib-68", 6.0), ("dlib-5", 6.0)):
        aligner = SimilarityAligner(ARCFACE_112, (112, 112), source)
        points = aligner.landmarks.points(pixels, face, "retinaface")
        mapped = _apply(aligner.matrix(points), points)
        used = np.isfinite(points).all(axis=1)
        residual = np.linalg.norm(mapped[used] - TEMPLATE[used], axis=1)
        assert residual.max() < limit, (source, residual)
        assert np.linalg.norm(mapped[:2] - TEMPLATE[:2], axis=1).max() < 4, (source, mapped)


def test_five_from_68_picks_eye_centres_nose_tip_and_mouth_corners() -> None:
    pts = np.zeros((68, 2))
    pts[36:42] = (10, 20)
    pts[42:48] = (30, 20)
    pts[30], pts[48], pts[54] = (20, 30), (12, 40), (28, 40)
    assert five_from_68(pts).tolist() == [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]]


def test_unknown_landmark_source_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="landmark source"):
        FivePoints("yunet")
