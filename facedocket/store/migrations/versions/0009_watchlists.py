"""watchlists on video: watchlist entries, deployments and their runs, faces counted per
hour, alerts and incident records

Revision ID: 0009_watchlists
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_watchlists"
down_revision = "0007"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), sa.ForeignKey("user_account.id"), nullable=nullable)


def _agency() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agency.id"), nullable=False, index=True)


def upgrade() -> None:
    op.create_table(
        "watchlist_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        _agency(),
        sa.Column("gallery_id", sa.Integer(), sa.ForeignKey("gallery.id"), nullable=False),
        sa.Column("subject_id", sa.Integer(), sa.ForeignKey("subject.id", ondelete="SET NULL"), nullable=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("incident_reference", sa.String(200), nullable=False),
        sa.Column("evidence_notes", sa.Text(), nullable=False),
        sa.Column("authorised_by", sa.String(200), nullable=False),
        _when("authorised_at"),
        _user("added_by"),
        _when("added"),
        _when("expires"),
        sa.Column("status", sa.String(20), nullable=False),
        _user("approved_by", nullable=True),
        _when("approved", nullable=True),
        _when("ended", nullable=True),
        _user("ended_by", nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=False),
        sa.Column("policy_name", sa.String(80), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_watchlist_entry_gallery_status", "watchlist_entry", ["gallery_id", "status"])
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), primary_key=True),
        _agency(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_kind", sa.String(20), nullable=False),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(60), nullable=False),
        sa.Column("watchlists", sa.JSON(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("dpia_reference", sa.String(200), nullable=False),
        sa.Column("signage", sa.Boolean(), nullable=False),
        _user("authorised_by", nullable=True),
        _when("authorised", nullable=True),
        sa.Column("authorisation_reference", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _user("created_by"),
        _when("created"),
        sa.UniqueConstraint("agency_id", "name"),
    )
    op.create_table(
        "deployment_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployment.id"), nullable=False, index=True),
        _agency(),
        sa.Column("source_kind", sa.String(20), nullable=False),
        _user("started_by", nullable=True),
        _when("started"),
        _when("ended", nullable=True),
        sa.Column("end_reason", sa.String(200), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
    )
    op.create_table(
        "face_count",
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployment.id"), primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        _agency(),
        sa.Column("faces", sa.Integer(), nullable=False),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), primary_key=True),
        _agency(),
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployment.id"), nullable=False, index=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("deployment_run.id"), nullable=False),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("watchlist_entry.id"), nullable=False, index=True),
        sa.Column("gallery_id", sa.Integer(), sa.ForeignKey("gallery.id"), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("model_id", sa.String(80), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("false_alert_probability", sa.Float(), nullable=True),
        sa.Column("faces_per_hour", sa.Float(), nullable=False),
        sa.Column("expected_false_alerts_per_hour", sa.Float(), nullable=True),
        sa.Column("matches", sa.JSON(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("video_time", sa.Float(), nullable=False),
        sa.Column("frame_time", sa.Float(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("image_id", sa.Integer(), sa.ForeignKey("stored_image.id", ondelete="SET NULL"), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        _when("last_seen"),
        _when("created"),
        _user("decided_by", nullable=True),
        _when("decided", nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_index("ix_alert_agency_status", "alert", ["agency_id", "status"])
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), primary_key=True),
        _agency(),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alert.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("deployment_id", sa.Integer(), sa.ForeignKey("deployment.id"), nullable=False),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("watchlist_entry.id"), nullable=False),
        _user("confirmed_by"),
        sa.Column("reason", sa.Text(), nullable=False),
        _when("created"),
    )


def downgrade() -> None:
    op.drop_table("incident")
    op.drop_index("ix_alert_agency_status", table_name="alert")
    op.drop_table("alert")
    op.drop_table("face_count")
    op.drop_table("deployment_run")
    op.drop_table("deployment")
    op.drop_index("ix_watchlist_entry_gallery_status", table_name="watchlist_entry")
    op.drop_table("watchlist_entry")
