"""Checks on what callers type: one helper for every free-text field and every id.

Every text field has a maximum length (:data:`facedocket.vocab.TEXT_LIMITS`); NUL bytes,
other control characters (but tab and line breaks) and unpaired surrogates are refused, so
nothing unprintable or unencodable reaches the database or the audit log.
"""

from __future__ import annotations

import unicodedata

from facedocket.errors import InvalidInput
from facedocket.vocab import TEXT_LIMITS

MAX_ID = 2**63 - 1
"""Largest id any table can hold (a signed 64-bit integer)."""

_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def text(value: str | None, what: str, required: bool = False, limit: int | None = None) -> str:
    """``value`` stripped, or InvalidInput naming ``what`` (a key of TEXT_LIMITS) when it is
    missing and ``required``, too long, or holds characters that cannot be stored."""
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise InvalidInput(f"{what} is required")
    most = limit if limit is not None else TEXT_LIMITS[what]
    if len(cleaned) > most:
        raise InvalidInput(f"{what} is longer than {most} characters")
    for char in cleaned:
        if char in _ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            raise InvalidInput(f"{what} holds a control character (such as NUL); remove it")
        if category == "Cs":
            raise InvalidInput(f"{what} holds an unpaired surrogate; send valid UTF-8")
    return cleaned


def identifier(value: object, what: str = "id") -> int:
    """``value`` as an id (1 to 2**63-1), or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise InvalidInput(f"{what} must be a whole number from 1 to {MAX_ID}")
    return value
