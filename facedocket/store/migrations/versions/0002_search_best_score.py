"""search.best_score: the best score of a verification, kept even below the threshold

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("search") as batch_op:
        batch_op.add_column(sa.Column("best_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("search") as batch_op:
        batch_op.drop_column("best_score")
