"""Shared fixtures: the real photos in ../shared/faces and one pipeline per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_testserver import INSTALL_HINT, PostgresServer, find_bin_dir

REPO = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("FACEDOCKET_FACES", REPO.parent / "shared" / "faces"))


def pytest_configure(config: pytest.Config) -> None:
    if not (FACES / "dev").is_dir():
        raise pytest.UsageError(
            f"test photos not found at {FACES}; put the shared data beside the repo or set FACEDOCKET_FACES"
        )


KEPT_VARIABLES = {"FACEDOCKET_FACES", "FACEDOCKET_PG_BINDIR"}
"""The test suite's own settings: where the photos and the PostgreSQL binaries are."""


@pytest.fixture(scope="session")
def _workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cwd")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, _workdir: Path) -> None:
    """Every test runs in an empty folder with none of the developer's ``FACEDOCKET_*``
    variables: nothing reads a ``.env`` there or writes ``./facedocket-data`` into the checkout."""
    for name in list(os.environ):
        if name.startswith("FACEDOCKET_") and name not in KEPT_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.chdir(_workdir)


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return FACES


@pytest.fixture(scope="session")
def dev_dir() -> Path:
    return FACES / "dev"


@pytest.fixture(scope="session")
def dev_photo() -> Path:
    return FACES / "dev" / "Aaron_Peirsol" / "1.jpg"


@pytest.fixture(scope="session")
def pipeline():  # type: ignore[no-untyped-def]
    """The default pipeline, remembering what it made of each photo (tests/remembering.py);
    tests/vision has a plain one of the same name."""
    from remembering import RememberingPipeline

    from facedocket.vision.pipeline import PipelineOptions

    return RememberingPipeline(PipelineOptions())


@pytest.fixture(scope="session")
def fast_pipeline(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The pipeline of the service tests: no jitter (fast), remembering what it made of each
    photo (tests/remembering.py)."""
    from remembering import RememberingPipeline

    from facedocket.config import Settings

    return RememberingPipeline.from_settings(Settings(home=tmp_path_factory.mktemp("pipeline"), jitter=False))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole test session; fails (never skips) without binaries."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/initdb, "
            f"$FACEDOCKET_PG_BINDIR and initdb on PATH); {INSTALL_HINT}",
            pytrace=False,
        )
    server = PostgresServer(bin_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
