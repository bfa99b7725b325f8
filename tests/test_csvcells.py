"""CSV cells that a spreadsheet would run as a formula are written as text (issue 11, item 4)."""

from __future__ import annotations

import csv
import io

import pytest

from facedocket.csvcells import csv_cell, write_rows


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", "=", "-"],
)
def test_formula_starts_are_escaped(value: str) -> None:
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["booking", "", "42", "-3", "-0.25", "+7", "1e-3", "a=b", "x@y.org", " =1"])
def test_plain_text_and_numbers_are_kept(value: str) -> None:
    assert csv_cell(value) == value


def test_non_strings_are_written_as_they_are() -> None:
    assert csv_cell(-5) == "-5" and csv_cell(None) == "" and csv_cell(1.5) == "1.5"


def test_write_rows_escapes_every_cell() -> None:
    out = io.StringIO()
    write_rows(out, [("name", "value"), ("=1+1", "@x"), ("ok", -4)])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["name", "value"], ["'=1+1", "'@x"], ["ok", "-4"]]
