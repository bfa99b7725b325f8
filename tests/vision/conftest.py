"""The pipeline's own tests run a plain pipeline (the rest of the suite shares one that
remembers what it made of each photo: tests/remembering.py)."""

from __future__ import annotations

import pytest

from facedocket.vision.pipeline import FacePipeline, PipelineOptions


@pytest.fixture(scope="session")
def pipeline() -> FacePipeline:
    return FacePipeline(PipelineOptions())
