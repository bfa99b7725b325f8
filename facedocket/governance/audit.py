"""The hash chain of the audit log, with no database in sight.

Each event is hashed over its canonical encoding, which includes the previous event's
hash, so an edit, a deletion, an insertion or a reordering breaks the chain at the first
event it touches. Exports are JSON Lines of these events and verify offline with this
module (``facedocket audit verify --file``) or the stand-alone procedure in
``docs/audit.md``: nothing but SHA-256 and JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
"""The ``prev_hash`` of the first event."""

FIELDS = ("seq", "time", "actor_id", "actor", "agency_id", "action", "object_type", "object_id", "details")
"""The hashed fields of an event, besides ``prev_hash``."""


def format_time(moment: datetime) -> str:
    """UTC, microseconds, a trailing Z: ``2026-11-26T13:05:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text (not escaped): one encoding for one value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class UnreadableDetails(str):
    """An event's stored ``details`` that are not valid JSON, kept as the text they are:
    the row was edited outside FaceDocket. :func:`verify_chain` reports the event by its
    sequence number, and an export still carries the text (whose hash then fails offline)."""


def parse_details(text: str) -> Any:
    """An event's stored ``details`` parsed back to an object, or :class:`UnreadableDetails`
    when they are not valid JSON (the event readers use this, never ``json.loads`` alone).

    Example::

        >>> parse_details('{"a": 1}'), type(parse_details("{not json")).__name__
        ({'a': 1}, 'UnreadableDetails')
    """
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return UnreadableDetails(text)


def event_hash(event: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON of the event's hashed fields and ``prev_hash``."""
    body = {name: event[name] for name in FIELDS}
    body["prev_hash"] = prev_hash
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verification:
    """The outcome of walking a chain: ``ok``, how many events, the newest hash, and where
    it first broke (``broken_at`` is the sequence number; ``reason`` says how)."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None
    reason: str = ""
    recorded: bool | None = None  # whether the check itself was recorded (None: offline, nothing to record in)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken_at": self.broken_at,
            "reason": self.reason,
            "recorded": self.recorded,
        }


def verify_chain(
    events: Iterable[Mapping[str, Any]],
    expect_head: tuple[int, str] | None = None,
    start: tuple[int, str] = (0, GENESIS),
) -> Verification:
    """Walk ``events`` in the order given and report the first broken link.

    ``start`` is the (sequence, hash) the chain continues from (the genesis by default);
    ``expect_head`` is the (sequence, hash) the chain must end at, which catches a dropped
    tail (the database keeps it in ``audit_head``; for an export, publish it separately).
    """
    seq, prev = start
    count = 0
    for event in events:
        count += 1
        got = int(event["seq"])
        if got != seq + 1:
            what = "an event is missing" if got > seq + 1 else "an event is repeated or out of order"
            return Verification(False, count, seq, prev, seq + 1, f"expected sequence {seq + 1}, found {got}: {what}")
        if isinstance(event["details"], UnreadableDetails):
            return Verification(False, count, seq, prev, got, "its details are not valid JSON: the row was edited")
        if event["prev_hash"] != prev:
            return Verification(
                False, count, seq, prev, got, "prev_hash does not match the previous event: inserted or reordered"
            )
        if event_hash(event, prev) != event["hash"]:
            return Verification(False, count, seq, prev, got, "hash does not match the event: it was edited")
        seq, prev = got, str(event["hash"])
    if expect_head is not None and (seq, prev) != expect_head:
        return Verification(
            False,
            count,
            seq,
            prev,
            seq + 1,
            f"the chain ends at {seq} but the head records {expect_head[0]}: events after {seq} were removed",
        )
    return Verification(True, count, seq, prev)


def read_jsonl(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    """Events from JSON Lines (blank lines skipped)."""
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number} is not JSON: {exc.msg}") from None
