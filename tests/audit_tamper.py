"""Tampering with the audit log the way someone with direct database access would."""

from __future__ import annotations

from sqlalchemy import text

from facedocket.service import Service


def tamper(service: Service, *statements: str) -> None:
    """Run ``statements`` with the append-only triggers switched off (disabled on
    PostgreSQL, dropped on SQLite)."""
    with service.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        for statement in statements:
            conn.execute(text(statement))
