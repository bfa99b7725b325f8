"""sign-in for people: password hashes (argon2id), temporary first passwords, failed sign-in
back-off per username (known or not), and web sessions

Revision ID: 0008b_sessions
Revises: 0008_photos
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008b_sessions"
down_revision = "0008_photos"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("password_temporary", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("password_expires", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("password_changed", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sign_in_attempts",
        sa.Column("name_sha256", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name_sha256"),
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_why", sa.String(length=40), nullable=False),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("web_session") as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("web_session")
    op.drop_table("sign_in_attempts")
    with op.batch_alter_table("user_account") as batch_op:
        for column in ("password_changed", "password_expires", "password_temporary", "password_hash"):
            batch_op.drop_column(column)
