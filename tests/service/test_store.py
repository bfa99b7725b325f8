"""The store: migrations build the schema the tables describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from facedocket.service import Service
from facedocket.store import db
from facedocket.store.tables import Agency, Base

from .conftest import ServiceFactory


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_create_every_table_at_head(service: Service) -> None:
    tables = set(sa.inspect(service.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert tables - set(Base.metadata.tables) == {"alembic_version"}
    assert db.current_revision(service.engine) == _head()


def test_migrated_schema_matches_the_table_definitions(service: Service) -> None:
    """What autogenerate would write next is nothing: migrations and tables.py agree."""
    with service.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrated_columns_match_the_table_definitions(service: Service) -> None:
    inspector = sa.inspect(service.engine)
    for name, table in Base.metadata.tables.items():
        columns = {c["name"]: c for c in inspector.get_columns(name)}
        assert set(columns) == {c.name for c in table.columns}, name
        for column in table.columns:
            assert columns[column.name]["nullable"] == column.nullable, f"{name}.{column.name}"


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_sqlite_uses_wal_and_foreign_keys(service: Service) -> None:
    assert service.engine.dialect.name == "sqlite"
    with service.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrating_twice_is_harmless(service: Service, service_factory: ServiceFactory) -> None:
    with service.transaction() as session:
        session.add(Agency(name="Kept", is_operator=True, created=datetime.now(UTC)))
    db.migrate(service.engine)
    db.migrate(service.engine)
    again = service_factory()  # open_service migrates once more
    assert db.current_revision(again.engine) == _head()
    with again.sessions() as session:
        assert session.scalars(sa.select(Agency.name)).all() == ["Kept"]
    assert set(Base.metadata.tables) <= set(sa.inspect(again.engine).get_table_names())
