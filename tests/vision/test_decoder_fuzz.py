"""The decoder under fuzzing: a seeded sample of 500 hostile images made from real photos
(see image_corpus.py) each ends in a clean refusal (InvalidImage) or in 8-bit RGB that the
face pipeline analyses, never in another exception, and never grows memory by 800 MB.
``make fuzz`` runs 10,000 or more of them (benchmarks/fuzz_decoder.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from image_corpus import Case, hostile_images, seed_photos
from peak_memory import peak, reset_peak

from facedocket.errors import InvalidImage
from facedocket.vision.images import DEFAULT_LIMITS, decode
from facedocket.vision.pipeline import FacePipeline, PipelineOptions

FACES = Path(os.environ.get("FACEDOCKET_FACES", Path(__file__).resolve().parents[3] / "shared" / "faces"))
PHOTOS = seed_photos(FACES)


@pytest.fixture(scope="module")
def quick_pipeline() -> FacePipeline:
    return FacePipeline(PipelineOptions(flip=False, jitter=False, threads=1))


def test_the_corpus_starts_from_real_photos() -> None:
    folders = {p.parent.name if p.parent.parent.name != "dev" else "dev" for p in PHOTOS}
    assert folders == {"dev", "multi", "noface"}, folders


@settings(
    max_examples=500,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(case=hostile_images(PHOTOS, large_weight=0))
def test_hostile_images_are_refused_cleanly_or_analysed(quick_pipeline: FacePipeline, case: Case) -> None:
    base = reset_peak()
    try:
        image = decode(case.data, DEFAULT_LIMITS, "fuzz case")
    except InvalidImage as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz case")
        return
    finally:
        assert peak() - base < 800 * 10**6
    assert image.pixels.dtype == np.uint8 and image.pixels.ndim == 3 and image.pixels.shape[2] == 3
    assert 1 <= max(image.pixels.shape[:2]) <= DEFAULT_LIMITS.max_decoded_side
    found = quick_pipeline.analyse(image)
    assert all(f.template.vector.shape == (128,) for f in found)
    assert peak() - base < 800 * 10**6
