"""Checks on what callers type: one helper for every free-text field and every id.

Every text field has a maximum length (:data:`facedocket.vocab.TEXT_LIMITS`); NUL bytes,
other control characters (but tab and line breaks) and unpaired surrogates are refused, so
nothing unprintable or unencodable reaches the database or the audit log.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from facedocket.errors import InvalidInput
from facedocket.vocab import MAX_BIRTH_YEAR, MIN_BIRTH_YEAR, TEXT_LIMITS

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


MAX_JSON_DEPTH = 32
"""Deepest nesting of a JSON document a caller may have stored (an evaluation result)."""
MAX_JSON_TEXT = 10_000
"""Longest string inside such a document."""


def json_problem(value: Any, where: str = "", depth: int = 0) -> str | None:
    """What makes ``value`` (parsed JSON) unfit to store and answer with, or None: a number
    that is not finite (NaN, Infinity), text or a key with a control character or an
    unpaired surrogate or over :data:`MAX_JSON_TEXT` characters, nesting deeper than
    :data:`MAX_JSON_DEPTH`.

    Example::

        >>> json_problem({"eer": float("nan")}), json_problem({"eer": 0.02})
        ('eer: not a finite number', None)
    """
    if depth > MAX_JSON_DEPTH:
        return f"{where or 'the document'}: nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where}: not a finite number"
    if isinstance(value, str):
        return _text_problem(value, where)
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            problem = _text_problem(str(key), f"{where or 'a'} key") or json_problem(item, inner, depth + 1)
            if problem:
                return problem
    if isinstance(value, list):
        for number, item in enumerate(value):
            if problem := json_problem(item, f"{where}[{number}]", depth + 1):
                return problem
    return None


def _text_problem(value: str, where: str) -> str | None:
    if len(value) > MAX_JSON_TEXT:
        return f"{where}: text longer than {MAX_JSON_TEXT} characters"
    for char in value:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) in ("Cc", "Cs"):
            return f"{where}: holds a control character or an unpaired surrogate"
    return None


def birth_year(value: object) -> int | None:
    """A recorded birth year (MIN_BIRTH_YEAR to MAX_BIRTH_YEAR) from a number or its text, or
    None for None or empty text; InvalidInput for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        year = int(str(value).strip()) if not isinstance(value, int) or isinstance(value, bool) else value
    except ValueError:
        raise InvalidInput(f"birth_year must be a year, got {str(value)[:20]!r}") from None
    if not MIN_BIRTH_YEAR <= year <= MAX_BIRTH_YEAR:
        raise InvalidInput(f"birth_year must be a year from {MIN_BIRTH_YEAR} to {MAX_BIRTH_YEAR}")
    return year


def identifier(value: object, what: str = "id") -> int:
    """``value`` as an id (1 to 2**63-1), or InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise InvalidInput(f"{what} must be a whole number from 1 to {MAX_ID}")
    return value
