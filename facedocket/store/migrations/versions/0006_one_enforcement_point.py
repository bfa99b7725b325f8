"""one enforcement point: the SHA-256 of the active policy's text on agencies, requests and
searches; threshold floors as false-match rates; token expiry and activation tokens

Stored profiles that set ``search.threshold_floor`` (a dlib score) get
``search.threshold_floor_fmr = 0.001`` instead: every shipped floor was the model card's
threshold at FMR 1e-3. Tokens issued before this migration expire 90 days after it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LEGACY_TOKEN_DAYS = 90


def upgrade() -> None:
    with op.batch_alter_table("agency") as batch_op:
        batch_op.add_column(sa.Column("policy_sha256", sa.String(64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("policy_text", sa.Text(), nullable=True))
    for table in ("request", "search"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("policy_sha256", sa.String(64), nullable=False, server_default=""))
    with op.batch_alter_table("search") as batch_op:
        batch_op.add_column(sa.Column("policy_name", sa.String(80), nullable=False, server_default=""))
    with op.batch_alter_table("api_token") as batch_op:
        batch_op.add_column(sa.Column("expires", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="personal"))
    bind = op.get_bind()
    expires = datetime.now(UTC) + timedelta(days=LEGACY_TOKEN_DAYS)
    bind.execute(sa.text("UPDATE api_token SET expires = :e WHERE expires IS NULL"), {"e": expires})
    _migrate_profiles(bind)


def _migrate_profiles(bind: Any) -> None:
    agency = sa.table("agency", sa.column("id", sa.Integer), sa.column("policy", sa.JSON),
                      sa.column("policy_sha256", sa.String))  # fmt: skip
    rows = bind.execute(sa.select(agency.c.id, agency.c.policy).where(agency.c.policy.is_not(None))).all()
    for agency_id, stored in rows:
        policy = dict(stored)
        search = dict(policy.get("search") or {})
        if "threshold_floor" in search:
            search.pop("threshold_floor")
            search["threshold_floor_fmr"] = 0.001
            policy["search"] = search
        text = json.dumps(policy, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        bind.execute(agency.update().where(agency.c.id == agency_id).values(policy=policy, policy_sha256=digest))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as batch_op:
        batch_op.drop_column("kind")
        batch_op.drop_column("expires")
    with op.batch_alter_table("search") as batch_op:
        batch_op.drop_column("policy_name")
    for table in ("search", "request"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("policy_sha256")
    with op.batch_alter_table("agency") as batch_op:
        batch_op.drop_column("policy_text")
        batch_op.drop_column("policy_sha256")
