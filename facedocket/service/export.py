"""The case file's HTML: one self-contained document per request, rendered from the
``case_file.html`` template (see :meth:`facedocket.service.reports.Reports.export_request`
for what goes in and who sees it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from facedocket.render import render
from facedocket.service.search import EMPTY_LABEL, LEAD_LABEL, SearchResult


def render_case_file(
    info: dict[str, Any],
    probe: tuple[bytes, str] | None,
    searches: list[SearchResult],
    reviews: list[dict[str, Any]],
    events: list[dict[str, Any]],
    now: datetime,
) -> str:
    """The case file as self-contained HTML."""
    return render(
        "case_file.html", info=info, probe=probe, searches=searches, reviews=reviews, events=events, now=now,
        lead_label=LEAD_LABEL, empty_label=EMPTY_LABEL,
    )  # fmt: skip
