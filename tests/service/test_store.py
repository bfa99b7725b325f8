"""The store: migrations build the schema the tables describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from facedocket.service import Service
from facedocket.store import db
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.tables import Agency, Base, Subject

from .conftest import ServiceFactory
from .support import World


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
    with service.ctx.write() as session:
        session.add(Agency(name="Kept", is_operator=True, created=datetime.now(UTC)))
    db.migrate(service.engine)
    db.migrate(service.engine)
    again = service_factory()  # open_service migrates once more
    assert db.current_revision(again.engine) == _head()
    with again.sessions() as session:
        assert session.scalars(sa.select(Agency.name)).all() == ["Kept"]
    assert set(Base.metadata.tables) <= set(sa.inspect(again.engine).get_table_names())


def test_upgrading_a_database_with_data_keeps_it(empty_database_url: str, home: Path) -> None:
    """A store made before the accountability migrations, with a search in it, upgrades:
    its request gets a case, foreign keys still hold, and the audit chain starts empty."""
    from alembic import command

    home.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(empty_database_url or db.sqlite_url(home / "old.db"))
    config = db._alembic_config(engine)
    command.upgrade(config, "0003")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    rows = [
        "INSERT INTO agency (id, name, is_operator, created) VALUES (1, 'State Police', true, :now)",
        "INSERT INTO user_account (id, agency_id, username, display_name, role, active, created) "
        "VALUES (1, 1, 'ex', '', 'examiner', true, :now)",
        "INSERT INTO gallery (id, agency_id, name, source, purpose, model_id, index_kind, generation, created) "
        "VALUES (1, 1, 'booking', 'booking photos', 'investigations', 'dlib-resnet-v1', 'auto', 1, :now)",
        "INSERT INTO subject (id, gallery_id, reference, attributes, created) VALUES (1, 1, 'A', '{}', :now)",
        "INSERT INTO template (id, gallery_id, subject_id, vector, model_id, quality, source_sha256, box, created) "
        "VALUES (1, 1, 1, :vec, 'dlib-resnet-v1', 0.9, 'ab', '[]', :now)",
        "INSERT INTO request (id, agency_id, requester_id, case_number, offence, legal_basis, justification, "
        "status, created) VALUES (1, 1, 1, '2025-1', 'armed robbery', 'warrant', 'cctv', 'searched', :now)",
        "INSERT INTO search (id, request_id, agency_id, user_id, kind, probe_sha256, probe_quality, galleries, "
        "model_id, threshold, k, duration_ms, gallery_size, created) "
        "VALUES (1, 1, 1, 1, 'search', 'cd', 0.9, '[1]', 'dlib-resnet-v1', 0.93, 10, 1.0, 1, :now)",
        "INSERT INTO candidate (id, search_id, rank, subject_id, template_id, gallery_id, score) "
        "VALUES (1, 1, 1, 1, 1, 1, 0.97)",
    ]
    with engine.begin() as conn:
        for statement in rows:
            conn.execute(sa.text(statement), {"now": now, "vec": b"\0" * 512})
    db.migrate(engine)
    assert db.current_revision(engine) == _head()
    with engine.connect() as conn:
        case = conn.execute(sa.text("SELECT number, offence_category, description FROM case_record")).one()
        assert tuple(case) == ("2025-1", "other", "armed robbery")
        request = conn.execute(sa.text("SELECT case_id, target_agency_id, galleries FROM request")).one()
        galleries = json.loads(request[2]) if isinstance(request[2], str) else request[2]
        assert request[0] == 1 and request[1] == 1 and galleries == [1]
        assert conn.execute(sa.text("SELECT count(*) FROM candidate")).scalar() == 1
        assert conn.execute(sa.text("SELECT seq, hash FROM audit_head")).one()[0] == 0
        if conn.dialect.name == "sqlite":
            assert conn.execute(sa.text("PRAGMA foreign_key_check")).all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_erasure_hashes_are_marked_by_kind_through_0011(empty_database_url: str, home: Path) -> None:
    """Migration 0011_hardening keeps old erasure rows' unsalted SHA-256, marked ``sha256:``
    (new rows hold ``hmac-sha256:``), and a downgrade gives the hex back."""
    from alembic import command

    home.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(empty_database_url or db.sqlite_url(home / "erasures.db"))
    config = db._alembic_config(engine)
    command.upgrade(config, "0007")
    digest = "ab" * 32
    with engine.begin() as conn:
        now = datetime(2026, 1, 5, tzinfo=UTC)
        conn.execute(sa.text("INSERT INTO agency (id, name, is_operator, created) VALUES (1, 'SP', true, :now)"),
                     {"now": now})  # fmt: skip
        conn.execute(
            sa.text("INSERT INTO erasure (id, agency_id, gallery_id, subject_id, reference_sha256, reason, counts, "
                    "created) VALUES (1, 1, 1, 1, :digest, 'asked', '{}', :now)"),
            {"digest": digest, "now": now},
        )  # fmt: skip
    command.upgrade(config, "0011_hardening")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT reference_hash FROM erasure")).scalar() == f"sha256:{digest}"
    command.downgrade(config, "0007")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT reference_sha256 FROM erasure")).scalar() == digest
    command.upgrade(config, "head")
    engine.dispose()


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_locking_a_gallery_does_not_wait_for_rows_that_reference_it(world: World) -> None:
    """A row that references the gallery, inserted by a transaction still open (a search's
    candidates, say), holds a KEY SHARE lock on the gallery row. Enrolment's lock must not
    wait for it: with FOR UPDATE it did, and under 30 searching clients those locks never
    all ended, so enrolment waited up to 88 s (issue 11's soak on PostgreSQL)."""
    service = world.service
    gallery_id = world.gallery.id
    with service.sessions() as holder, holder.begin():
        holder.add(Subject(gallery_id=gallery_id, reference="referencing", created=datetime.now(UTC),
                           last_interaction=datetime.now(UTC)))  # fmt: skip
        holder.flush()  # the insert's KEY SHARE lock on the gallery row stays until this block ends
        with service.sessions() as locker, locker.begin():
            locker.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            assert gallery_queries.lock_gallery(locker, gallery_id) is not None
        holder.rollback()
