"""The API over a real service on a temporary SQLite home, with the real photos.

Each test module builds one app (module-scoped fixtures) and enrols only a handful of photos.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import Api


@pytest.fixture(scope="module")
def make_api(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Api]:
    """Build an :class:`Api` on a fresh temporary home; keyword arguments are settings."""

    def make(**settings: Any) -> Api:
        return Api(tmp_path_factory.mktemp("home"), **settings)

    return make


@pytest.fixture(scope="session")
def photo(dev_dir: Path) -> Callable[[str, int], Path]:
    """``photo("Aaron_Peirsol", 1)``: a photo of the dev set."""

    def path(name: str, number: int) -> Path:
        return dev_dir / name / f"{number}.jpg"

    return path
