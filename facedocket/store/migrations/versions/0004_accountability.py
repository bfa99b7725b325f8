"""accountability: policy per agency, cases, written requests with approval states, stored
probe images, reviews, and the hash-chained audit log

Requests made before this migration (the minimal form) each get a case of their agency
(offence category ``other``, the old offence text as its description).

The audit log refuses UPDATE and DELETE with triggers on both databases (on PostgreSQL
also TRUNCATE); verification (``facedocket audit verify``) detects what gets past them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

PG_TRIGGER = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
"""

SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: DELETE refused'); END""",
)


def upgrade() -> None:
    with op.batch_alter_table("agency") as batch_op:
        batch_op.add_column(sa.Column("policy_name", sa.String(80), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("policy", sa.JSON(), nullable=True))

    op.create_table(
        "case_record",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agency.id"), nullable=False, index=True),
        sa.Column("number", sa.String(120), nullable=False),
        sa.Column("offence_category", sa.String(60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("agency_id", "number"),
    )
    op.create_table(
        "stored_image",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agency_id", sa.Integer(), sa.ForeignKey("agency.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )

    with op.batch_alter_table("request") as batch_op:
        batch_op.add_column(sa.Column("target_agency_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        for name, length in (
            ("document_type", 120),
            ("document_reference", 200),
            ("document_issuer", 200),
            ("document_date", 10),
            ("document_sha256", 64),
            ("probe_sha256", 64),
        ):
            batch_op.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("galleries", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("probe_source", sa.String(20), nullable=False, server_default="still-image"))
        batch_op.add_column(sa.Column("probe_image_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approval", sa.String(20), nullable=False, server_default="pending"))
        batch_op.add_column(sa.Column("emergency", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("decided", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decision_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("outcome", sa.String(20), nullable=True))
        batch_op.add_column(sa.Column("policy_name", sa.String(80), nullable=False, server_default=""))
        for name in ("submitted", "searched", "closed", "purged"):
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))

    _cases_for_old_requests()
    op.execute("UPDATE request SET galleries = '[]' WHERE galleries IS NULL")

    with op.batch_alter_table("request") as batch_op:
        batch_op.alter_column("galleries", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("target_agency_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("case_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("case_number")
        batch_op.drop_column("offence")
        batch_op.create_foreign_key("fk_request_target_agency", "agency", ["target_agency_id"], ["id"])
        batch_op.create_foreign_key("fk_request_case", "case_record", ["case_id"], ["id"])
        batch_op.create_foreign_key(
            "fk_request_probe_image", "stored_image", ["probe_image_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key("fk_request_decided_by", "user_account", ["decided_by"], ["id"])
        batch_op.create_index("ix_request_target_agency_id", ["target_agency_id"])
        batch_op.create_index("ix_request_case_id", ["case_id"])

    with op.batch_alter_table("candidate") as batch_op:
        batch_op.add_column(sa.Column("released", sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("request.id"), nullable=False, index=True),
        sa.Column(
            "candidate_id", sa.Integer(), sa.ForeignKey("candidate.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("reviewer_id", sa.Integer(), sa.ForeignKey("user_account.id"), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("disposition", sa.String(20), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("candidate_id", "reviewer_id"),
    )
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True, index=True),
        sa.Column("action", sa.String(60), nullable=False, index=True),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("object_id", sa.String(80), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def _cases_for_old_requests() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, agency_id, requester_id, case_number, offence, created FROM request ORDER BY id")
    ).all()
    for request_id, agency_id, requester_id, number, offence, created in rows:
        case_id = conn.execute(
            sa.text("SELECT id FROM case_record WHERE agency_id = :a AND number = :n"), {"a": agency_id, "n": number}
        ).scalar()
        if case_id is None:
            conn.execute(
                sa.text(
                    "INSERT INTO case_record (agency_id, number, offence_category, description, created_by, created) "
                    "VALUES (:a, :n, 'other', :d, :u, :c)"
                ),
                {"a": agency_id, "n": number, "d": offence, "u": requester_id, "c": created},
            )
            case_id = conn.execute(
                sa.text("SELECT id FROM case_record WHERE agency_id = :a AND number = :n"),
                {"a": agency_id, "n": number},
            ).scalar()
        conn.execute(
            sa.text(
                "UPDATE request SET case_id = :c, target_agency_id = agency_id, "
                "galleries = (SELECT galleries FROM search WHERE search.request_id = request.id LIMIT 1) "
                "WHERE id = :r"
            ),
            {"c": case_id, "r": request_id},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update_delete ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    op.drop_table("audit_head")
    op.drop_table("audit_event")
    op.drop_table("review")
    with op.batch_alter_table("candidate") as batch_op:
        batch_op.drop_column("released")
    with op.batch_alter_table("request") as batch_op:
        batch_op.add_column(sa.Column("case_number", sa.String(120), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("offence", sa.String(200), nullable=False, server_default=""))
    op.execute(
        "UPDATE request SET case_number = (SELECT number FROM case_record WHERE case_record.id = request.case_id), "
        "offence = (SELECT description FROM case_record WHERE case_record.id = request.case_id)"
    )
    with op.batch_alter_table("request") as batch_op:
        batch_op.drop_constraint("fk_request_target_agency", type_="foreignkey")
        batch_op.drop_constraint("fk_request_case", type_="foreignkey")
        batch_op.drop_constraint("fk_request_probe_image", type_="foreignkey")
        batch_op.drop_constraint("fk_request_decided_by", type_="foreignkey")
        batch_op.drop_index("ix_request_target_agency_id")
        batch_op.drop_index("ix_request_case_id")
        for name in (
            "target_agency_id", "case_id", "document_type", "document_reference", "document_issuer",
            "document_date", "document_sha256", "probe_sha256", "galleries", "probe_source", "probe_image_id",
            "approval", "emergency", "deadline", "decided_by", "decided", "decision_reason", "outcome",
            "policy_name", "submitted", "searched", "closed", "purged",
        ):  # fmt: skip
            batch_op.drop_column(name)
    op.drop_table("stored_image")
    op.drop_table("case_record")
    with op.batch_alter_table("agency") as batch_op:
        batch_op.drop_column("policy")
        batch_op.drop_column("policy_name")
