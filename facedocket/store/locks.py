"""How rows are locked for an operation that re-checks and changes them.

``FOR NO KEY UPDATE`` on PostgreSQL (SQLite takes the whole database at ``BEGIN
IMMEDIATE`` and ignores it): it serialises every change to the row, as ``FOR UPDATE`` does,
but does not conflict with the ``KEY SHARE`` locks that inserting a row which references it
takes. With ``FOR UPDATE``, a gallery's enrolment waited behind the unbroken stream of
searches inserting candidates that reference the gallery (each insert's ``KEY SHARE`` joins
the ones before it, so the exclusive locker can starve: 30 searching clients held enrolment
off for up to 88 s in the soak). No operation here changes a primary key.
"""

from __future__ import annotations

from typing import Any

NO_KEY_UPDATE: dict[str, Any] = {"key_share": True}
"""``session.get(..., with_for_update=NO_KEY_UPDATE)``; ``select(...).with_for_update(key_share=True)``."""
