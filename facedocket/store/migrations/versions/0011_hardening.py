"""erasure: the subject's reference kept as a keyed hash (HMAC-SHA256 under a key derived from
the server secret) instead of an unsalted SHA-256, which a list of names could confirm.
Existing rows keep the SHA-256 they hold, marked ``sha256:``; new rows are ``hmac-sha256:``.

Revision ID: 0011_hardening
Revises: 0010_models
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_hardening"
down_revision = "0010_models"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("erasure") as batch_op:
        batch_op.alter_column("reference_sha256", new_column_name="reference_hash", type_=sa.String(80))
    op.execute("UPDATE erasure SET reference_hash = 'sha256:' || reference_hash")


def downgrade() -> None:
    # the hex digest stays (an HMAC then sits in a column named for SHA-256: no erasure record is lost)
    for prefix in ("hmac-sha256:", "sha256:"):
        op.execute(
            f"UPDATE erasure SET reference_hash = substr(reference_hash, {len(prefix) + 1}) "
            f"WHERE reference_hash LIKE '{prefix}%'"
        )
    with op.batch_alter_table("erasure") as batch_op:
        batch_op.alter_column("reference_hash", new_column_name="reference_sha256", type_=sa.String(64))
