"""photos for review: enrolment photos and crops, probe crops and request documents in the
encrypted file store; a gallery's keep-photos setting; the probe face chosen at filing

Rows of ``stored_image`` written before this migration (probe photos) stay plain
(``encrypted`` false) and stay readable; everything written after is AES-256-GCM. Galleries
keep photos from now on (``keep_photos`` true); subjects enrolled before have none.

Revision ID: 0008_photos
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_photos"
down_revision = "0007"
branch_labels = None
depends_on = None

_LINKS = ("request_id", "gallery_id", "subject_id", "template_id")


def upgrade() -> None:
    with op.batch_alter_table("gallery") as batch_op:
        batch_op.add_column(sa.Column("keep_photos", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("stored_image") as batch_op:
        batch_op.add_column(sa.Column("encrypted", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("media_type", sa.String(100), nullable=False, server_default="image/jpeg"))
        for column in _LINKS:
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_stored_image_{column}"), [column], unique=False)
        batch_op.add_column(sa.Column("meta", sa.JSON(), nullable=True))
    with op.batch_alter_table("request") as batch_op:
        batch_op.add_column(sa.Column("probe_face", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("probe_box", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("probe_crop_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("document_file_id", sa.Integer(), nullable=True))
    # the probes filed so far belong to their requests
    op.execute(
        "UPDATE stored_image SET request_id = (SELECT request.id FROM request "
        "WHERE request.probe_image_id = stored_image.id) WHERE kind = 'probe'"
    )


def downgrade() -> None:
    with op.batch_alter_table("request") as batch_op:
        for column in ("document_file_id", "probe_crop_id", "probe_box", "probe_face"):
            batch_op.drop_column(column)
    with op.batch_alter_table("stored_image") as batch_op:
        batch_op.drop_column("meta")
        for column in reversed(_LINKS):
            batch_op.drop_index(batch_op.f(f"ix_stored_image_{column}"))
            batch_op.drop_column(column)
        batch_op.drop_column("media_type")
        batch_op.drop_column("encrypted")
    with op.batch_alter_table("gallery") as batch_op:
        batch_op.drop_column("keep_photos")
