"""The API over a real service on a temporary SQLite home, with the real photos.

Each test module builds one app (module-scoped fixtures) and enrols only a handful of photos;
every app shares the session's one face pipeline, so the models load once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from facedocket.vision.pipeline import FacePipeline

from .helpers import Api


@pytest.fixture(scope="module")
def make_api(tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline) -> Callable[..., Api]:
    """Build an :class:`Api` on a fresh temporary home; keyword arguments are settings (and
    ``policy``, the operator agency's profile text or None)."""

    def make(**settings: Any) -> Api:
        return Api(tmp_path_factory.mktemp("home"), pipeline=pipeline, **settings)

    return make


@pytest.fixture(scope="session")
def photo(dev_dir: Path) -> Callable[[str, int], Path]:
    """``photo("Aaron_Peirsol", 1)``: a photo of the dev set."""

    def path(name: str, number: int) -> Path:
        return dev_dir / name / f"{number}.jpg"

    return path
