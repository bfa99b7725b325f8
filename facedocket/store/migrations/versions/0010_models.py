"""template models per gallery: the operator's registered models (with their calibration),
re-embeddings of a gallery and their staged templates, and each search's models

Revision ID: 0010_models
Revises: 0009_watchlists
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_models"
down_revision = "0009_watchlists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registered_model",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.String(80), nullable=False, unique=True),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("registered_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("registered", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=True),
        sa.Column("calibrated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("calibrated_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=True),
        sa.Column("evaluation_run_id", sa.Integer(), sa.ForeignKey("evaluation_run.id"), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "reembedding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("gallery_id", sa.Integer(), sa.ForeignKey("gallery.id"), nullable=False, index=True),
        sa.Column("from_model", sa.String(80), nullable=False),
        sa.Column("model_id", sa.String(80), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("started_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
    )
    op.create_table(
        "staged_template",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "reembedding_id",
            sa.Integer(),
            sa.ForeignKey("reembedding.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "subject_id", sa.Integer(), sa.ForeignKey("subject.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("quality", sa.Float(), nullable=True),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("reembedding_id", "source_sha256"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("search") as batch_op:
        batch_op.add_column(sa.Column("models", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("search") as batch_op:
        batch_op.drop_column("models")
    op.drop_table("staged_template")
    op.drop_table("reembedding")
    op.drop_table("registered_model")
