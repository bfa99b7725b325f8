"""template and subject ids are never reused (SQLite AUTOINCREMENT)

Without AUTOINCREMENT, SQLite hands the highest deleted row id out again. An index
that still holds a deleted template under that id would then score a new person with
the deleted person's face. PostgreSQL sequences never reuse ids, so this changes
nothing there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in ("subject", "template"):
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
