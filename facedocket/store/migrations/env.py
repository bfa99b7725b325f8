"""Alembic environment: runs migrations on the engine FaceDocket passes in.

On SQLite, batch migrations copy a table, drop the old one and rename the copy; with
foreign keys enforced, dropping a table that other rows point at fails. So foreign keys are
switched off for the migration (a pragma that only works outside a transaction) and the
whole database is checked with ``PRAGMA foreign_key_check`` before it commits.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from facedocket.store.tables import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=sqlite)
            context.run_migrations()
            if sqlite:
                broken = connection.execute(text("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
