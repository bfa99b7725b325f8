"""Fixtures of the service tests: one face pipeline and one PostgreSQL server per session;
every ``service`` test runs twice, on a fresh SQLite file and on a fresh PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_testserver import PostgresServer

from facedocket.config import Settings
from facedocket.service import Service, open_service
from facedocket.vision.pipeline import FacePipeline

from .support import World, make_world

DATABASES = ["sqlite", "postgresql"]

ServiceFactory = Callable[..., Service]


@pytest.fixture(scope="session")
def fast_pipeline(tmp_path_factory: pytest.TempPathFactory) -> FacePipeline:
    """The one pipeline of the session (no jitter: fast, and every test uses the same)."""
    home = tmp_path_factory.mktemp("pipeline")
    return FacePipeline.from_settings(Settings(home=home, jitter=False))


def _open(settings: Settings, pipeline: FacePipeline, **kwargs: Any) -> Service:
    """``open_service`` with the shared pipeline."""
    return open_service(settings, pipeline=pipeline, **kwargs)


def _database_url(kind: str, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return ""  # the SQLite file facedocket.db in the home folder
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture(params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(db_kind: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database ("" = SQLite in the home folder)."""
    return _database_url(db_kind, request)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def service_factory(database_url: str, home: Path, fast_pipeline: FacePipeline) -> Iterator[ServiceFactory]:
    """Opens services on this test's database and home; ``**overrides`` go to Settings.
    Each call is a new service (a new process, as far as the database and index files go)."""
    opened: list[Service] = []

    def make(clock: Any = None, **overrides: Any) -> Service:
        values: dict[str, Any] = {"home": home, "database_url": database_url, "jitter": False}
        values.update(overrides)
        service = _open(Settings(**values), fast_pipeline, **({"clock": clock} if clock else {}))
        opened.append(service)
        return service

    yield make
    for service in opened:
        service.engine.dispose()


@pytest.fixture
def service(service_factory: ServiceFactory) -> Service:
    return service_factory()


@pytest.fixture
def world(service: Service) -> World:
    """An operator agency with one user per role and an empty gallery."""
    return make_world(service)
