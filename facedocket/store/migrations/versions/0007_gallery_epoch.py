"""gallery epoch: a random value drawn at every generation, so that a database restored from
a backup and moved on again never matches an index file of another state

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gallery") as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("gallery") as batch_op:
        batch_op.drop_column("epoch")
