"""The groups CSV: which group each identity belongs to, one column per attribute."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from facedocket.errors import InvalidInput


@dataclass(frozen=True)
class GroupLabels:
    """Group attributes per identity, read from a CSV."""

    source: str
    sha256: str
    identity_column: str
    columns: list[str]
    values: dict[str, dict[str, str]]
    skipped: dict[str, str] = field(default_factory=dict)

    def value(self, identity: str, column: str) -> str | None:
        return self.values.get(identity, {}).get(column) or None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_groups(path: str | Path, columns: Sequence[str] | None = None) -> GroupLabels:
    """Read a groups CSV: the column named ``identity`` (else the first column) names the
    identity (its folder name), every other column is a group attribute; an empty cell is
    unknown. Without ``columns``, columns whose every value is a number (counts, ages) are
    skipped and listed in ``skipped``; name them in ``columns`` to use them anyway."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"group labels file {p} not found; give a CSV with an identity column and group columns")
    raw = p.read_bytes()
    rows = _rows(p, raw)
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    id_col = lowered.index("identity") if "identity" in lowered else 0
    if not header[id_col]:
        raise InvalidInput(f"group labels file {p} has no identity column: name the first column 'identity'")
    attributes = [h for i, h in enumerate(header) if i != id_col and h]
    if not attributes:
        raise InvalidInput(f"group labels file {p} has no group columns besides {header[id_col]!r}")
    if len(rows) < 2:
        raise InvalidInput(f"group labels file {p} has a header but no rows")
    values = _values(p, rows, header, id_col)
    chosen, skipped = _choose(p, attributes, values, columns)
    return GroupLabels(str(p), hashlib.sha256(raw).hexdigest(), header[id_col], chosen, values, skipped)


def _rows(p: Path, raw: bytes) -> list[list[str]]:
    """The CSV's rows without blank ones; at least the header row."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"group labels file {p} is not UTF-8 text; save it as a UTF-8 CSV") from None
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InvalidInput(f"group labels file {p} is empty; it needs a header row such as identity,sex,race")
    return rows


def _values(p: Path, rows: list[list[str]], header: list[str], id_col: int) -> dict[str, dict[str, str]]:
    """Identity -> {column: value} for the non-empty cells of every data row."""
    values: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row] + [""] * (len(header) - len(row))
        name = cells[id_col]
        if not name:
            raise InvalidInput(f"group labels file {p}, row {line}: the identity cell is empty")
        entry = {h: cells[i] for i, h in enumerate(header) if i != id_col and h and cells[i]}
        if name in values and values[name] != entry:
            raise InvalidInput(f"group labels file {p}: identity {name!r} appears twice with different values")
        values[name] = entry
    return values


def _choose(
    p: Path, attributes: list[str], values: dict[str, dict[str, str]], columns: Sequence[str] | None
) -> tuple[list[str], dict[str, str]]:
    """The columns named (each must exist), else every column that is not all numbers; and the skipped ones."""
    skipped: dict[str, str] = {}
    if columns:
        unknown = [c for c in columns if c not in attributes]
        if unknown:
            raise InvalidInput(
                f"group column {unknown[0]!r} is not in {p}; its group columns are: {', '.join(attributes)}"
            )
        return list(columns), skipped
    chosen = []
    for column in attributes:
        seen = [v[column] for v in values.values() if column in v]
        if seen and all(_is_number(s) for s in seen):
            skipped[column] = "every value is a number (a count or measurement, not a group); name it to use it"
        else:
            chosen.append(column)
    return chosen, skipped
