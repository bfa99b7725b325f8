"""CSV cells that a spreadsheet will show, never run.

Excel, LibreOffice and Google Sheets read a cell that begins with ``=``, ``+``, ``-`` or
``@`` (or a tab or carriage return before one) as a formula, so a gallery name or subject
reference typed as ``=HYPERLINK(...)`` would run when an exported CSV is opened. Every
CSV FaceDocket writes goes through :func:`csv_cell`, which prefixes such text with a
single quote (the OWASP advice); plain numbers such as ``-3`` stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> str:
    """``value`` as CSV cell text, with a leading ``'`` when a spreadsheet would read the
    text as a formula.

    Example::

        >>> csv_cell("=1+1"), csv_cell("-3"), csv_cell("booking"), csv_cell(None)
        ("'=1+1", '-3', 'booking', '')
    """
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_rows(out: TextIO, rows: Iterable[Iterable[Any]]) -> None:
    """Write ``rows`` to ``out`` as CSV (``\\n`` line ends), every cell through :func:`csv_cell`."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
