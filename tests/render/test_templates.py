"""The shared templates: the base page the documents (and later the web UI) extend, the
environment's rules (escape everything, refuse an unknown name), the filters, and a hostile
value in every text slot of the evaluation report. The case file and the transparency report
have their hostile-value tests beside their producers (tests/service/test_requests.py,
tests/oversight/test_transparency*.py)."""

from __future__ import annotations

import doctest
import fnmatch
import io
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest
from PIL import Image

import facedocket.oversight.transparency.counting
import facedocket.oversight.transparency.periods
import facedocket.render
from facedocket.oversight import report
from facedocket.render import environment, filters, render

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "facedocket" / "render" / "templates"
HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?\s*(https?:)?//|<link|@import|url\(|<script""", re.IGNORECASE)


def test_a_page_extends_the_base() -> None:
    child = environment().from_string(
        '{% extends "base.html" %}{% block title %}T{% endblock %}{% block header %}<header>H</header>{% endblock %}'
        "{% block nav %}<nav>N</nav>{% endblock %}{% block main %}{{ text }}{% endblock %}"
        "{% block footer %}<footer>F</footer>{% endblock %}"
    )
    page = child.render(text=HOSTILE)
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</html>\n")
    assert '<html lang="en">' in page and '<meta charset="utf-8">' in page and "<title>T</title>" in page
    assert re.search(r"<style>\s*body\{", page)
    layout = r"<header>H</header>\s*<nav>N</nav>\s*<main>\s*" + re.escape(ESCAPED) + r"\s*</main>\s*<footer>"
    assert re.search(layout, page)
    assert not EXTERNAL.search(page)


def test_the_environment_refuses_unknown_names_and_shows_none_as_nothing() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("case_file.html", info={"id": 1})
    assert environment().from_string("[{{ value }}]").render(value=None) == "[]"


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "n/a"), (float("nan"), "n/a"), ("0.1", "n/a"), (0, "0 %"), (0.5, "50.00 %"), (0.01, "1.00 %"),
     (0.000123, "0.012 %")],
)  # fmt: skip
def test_pct(value: object, shown: str) -> None:
    assert filters.pct(value) == shown


def test_intervals_ratios_dates_counts_and_images() -> None:
    assert filters.ci([0.001, 0.02]) == "0.1 % – 2.00 %"
    assert filters.ci((1.0, None), percent=False) == "1.00 – unbounded"
    assert filters.ci(None) == filters.ci("ab") == filters.ci([1, 2, 3]) == "n/a"
    assert filters.ratio(2.138) == "2.14×" and filters.ratio(None) == "n/a"
    assert filters.when(datetime(2026, 7, 1, 9, tzinfo=UTC)) == "2026-07-01T09:00:00+00:00"
    assert filters.when(None) == "—"
    assert filters.thousands(1234567) == "1,234,567" and filters.spaced("searches_by_agency") == "searches by agency"
    assert filters.data_uri(b"\x89PNG") == "data:image/png;base64,iVBORw=="
    assert filters.data_uri(b"\xff\xd8", "image/jpeg") == "data:image/jpeg;base64,/9g="


@pytest.mark.parametrize(
    "module",
    [filters, facedocket.render, facedocket.oversight.transparency.periods, facedocket.oversight.transparency.counting],
)
def test_doctests(module: Any) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_every_template_ships_with_the_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["facedocket"]
    files = [p.relative_to(REPO / "facedocket").as_posix() for p in TEMPLATES.rglob("*") if p.is_file()]
    assert len(files) >= 5
    assert all(any(fnmatch.fnmatch(f, pattern) for pattern in patterns) for f in files), files
    assert pyproject["project"]["dependencies"].count("jinja2>=3.1") == 1


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def _group(notes: list[str]) -> dict[str, Any]:
    return {"identities": 12, "images": 40, "pairs": {"genuine": 1064, "impostor": 716}, "fnmr": 0.015625,
            "fnmr_ci": [0.0, 0.043478], "fnmr_ratio": 1.0, "fnmr_ratio_ci": None, "fmr": 0.002793,
            "fmr_ci": [0.0, 0.019569], "fmr_ratio": 2.138, "fmr_ratio_ci": [0.0, 41.7665], "fnir": 0.0,
            "fpir": 0.0, "searches": {"mated": 8, "nonmated": 27}, "reliable": {"fnmr": True, "fmr": False},
            "notes": notes}  # fmt: skip


def _evaluation() -> dict[str, Any]:
    """An evaluation result with a hostile value in every text the data can bring in."""
    summary = {"worst_fnmr_group": HOSTILE, "worst_fmr_group": "x", "max_min_fnmr_ratio": 5.1582,
               "max_min_fmr_ratio": None, "labelled_identities": 59, "unlabelled_identities": 1,
               "fnmr_note": f"note {HOSTILE}"}  # fmt: skip
    protocol = {"threshold": 0.924704, "threshold_rule": f"rule {HOSTILE}",
                "overall": {"fnmr": 0.07, "fmr": 0.001, "fnir": 0.03, "fpir": 0.02},
                "labels": {"file": f"/data/{HOSTILE}.csv", "sha256": "0" * 64, "columns": [HOSTILE],
                           "skipped_columns": [HOSTILE]},
                "same_group_impostors": "every pair", "bootstrap": {"replicates": 300, "seed": 0, "method": "m"},
                "reliability": {"rule": "r"}}  # fmt: skip
    return {"images": 34, "identities": 10, "detection_failures": 0, "model": HOSTILE, "detector": HOSTILE,
            "runtime": "cpu", "flip": True, "jitter": False, "data_dir": f"dev {HOSTILE}",
            "verification": {"genuine_pairs": 56, "impostor_pairs": 505, "fnmr_at_fmr": {"0.001": 0.0}, "eer": 0.0,
                             "threshold_at_fmr": {"0.001": 0.916218},
                             "fmr_table": [{"fmr": 0.001, "threshold": 0.916218, "fnmr": 0.0}]},
            "identification": {"rank1": 1.0, "fnir_at_fpir": {"0.01": 0.0}},
            "findings": [f"finding {HOSTILE}"], "group_protocol": protocol,
            "groups": {HOSTILE: {HOSTILE: _group([f"n {HOSTILE}"]), "b": _group([])}},
            "group_summary": {HOSTILE: summary}, "fingerprint": {"sha256": "f" * 64, "method": "names", "files": 34},
            "settings": {HOSTILE: HOSTILE}}  # fmt: skip


def test_the_evaluation_report_escapes_every_text() -> None:
    page = report.render_html(_evaluation(), {"all": _png(), HOSTILE: _png()})
    assert page.startswith("<!DOCTYPE html>") and not EXTERNAL.search(page)
    assert page.count(ESCAPED) >= 20
    assert page.count('src="data:image/png;base64,') == 2
    assert f'alt="DET curves per group of {ESCAPED}"' in page
    assert f"Worst FNMR: {ESCAPED}={ESCAPED}, max/min FNMR ratio 5.16×" in page
    assert '<tr><td class="l">genuine pairs</td><td>56</td></tr>' in page
    assert '<tr class="unreliable"><td class="l">' in page and "1,064" in page


def test_the_evaluation_report_without_groups() -> None:
    page = report.render_html({"verification": {}, "identification": {}})
    assert "no per-group findings" in page and "Per-group figures" not in page
    assert "None photos of None identities" in page  # as before the templates: missing values say None


def test_the_evaluation_report_sets_every_template_model_side_by_side() -> None:
    """Every template model's calibrated FNMR, with the one evaluated and the default marked,
    and the per-group differentials their cards record (SFace's wider sex gap stated plainly)."""
    page = report.render_html({"verification": {}, "identification": {}, "model": "sface-2021dec"})
    table = page[page.index("Template models side by side") : page.index("Known per-group differentials")]
    assert "dlib-resnet-v1</td>" in table and "5.06 %" in table and "17.05 %" in table
    assert "sface-2021dec (<strong>this evaluation</strong>) (default for new galleries)" in table
    assert "1.61 %" in table and "2.19 %" in table
    differentials = page[page.index("Known per-group differentials") :]
    assert "max/min 2.35, women worse, a wider gap than dlib-resnet-v1" in differentials
    assert "max/min 1.07, men worse" in differentials
