"""Fixtures of the service tests: one face pipeline and one PostgreSQL server per session;
every ``service`` test runs twice, on a fresh SQLite file and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_testserver import PostgresServer

from facedocket.config import Settings
from facedocket.service import Service, open_service
from facedocket.store import db
from facedocket.vision.pipeline import FacePipeline

from .support import World, make_world

DATABASES = ["sqlite", "postgresql"]
TEMPLATE_DATABASE = "facedocket_migrated"

ServiceFactory = Callable[..., Service]


def _open(settings: Settings, pipeline: FacePipeline, **kwargs: Any) -> Service:
    """``open_service`` with the shared pipeline."""
    return open_service(settings, pipeline=pipeline, **kwargs)


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[str, str]:
    """Databases migrated to head once per session, which each test's database is copied from
    (running every migration for every test was most of a service test's set-up): a SQLite
    file, and a PostgreSQL template database made when a PostgreSQL test first needs it."""
    path = tmp_path_factory.mktemp("template") / "facedocket.db"
    engine = db.make_engine(db.sqlite_url(path))
    db.migrate(engine)
    engine.dispose()
    return {"sqlite": str(path)}


def _pg_template(request: pytest.FixtureRequest, server: PostgresServer, templates: dict[str, str]) -> str:
    if "postgresql" not in templates:
        url = server.create_database(TEMPLATE_DATABASE)
        engine = db.make_engine(url)
        db.migrate(engine)
        engine.dispose()
        templates["postgresql"] = TEMPLATE_DATABASE
    return templates["postgresql"]


def _database_url(kind: str, request: pytest.FixtureRequest, home: Path, migrated: bool) -> str:
    """A fresh database (migrated to head, or empty); a PostgreSQL one is dropped when the
    test ends, so that the cluster stays small (deleting hundreds of databases' files at the
    end cost a minute and a half)."""
    templates: dict[str, str] = request.getfixturevalue("migrated_templates")
    if kind == "sqlite":
        if migrated:
            home.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(templates["sqlite"], home / "facedocket.db")
        return ""  # the SQLite file facedocket.db in the home folder
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = _pg_template(request, server, templates) if migrated else None
    url = server.create_database(template=template)
    request.addfinalizer(lambda: server.drop_database(url.rsplit("/", 1)[1]))
    return url


@pytest.fixture(params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(db_kind: str, request: pytest.FixtureRequest, home: Path) -> str:
    """A fresh database already migrated to head ("" = SQLite in the home folder)."""
    return _database_url(db_kind, request, home, migrated=True)


@pytest.fixture
def empty_database_url(db_kind: str, request: pytest.FixtureRequest, home: Path) -> str:
    """A fresh, empty database, for the tests of migrations themselves."""
    return _database_url(db_kind, request, home, migrated=False)


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
