"""The counting behind transparency reports, on rows written by hand (no database): each rule
of the module docstring checked on a small case where it matters, and the layering (counting
never imports SQLAlchemy or the service)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from facedocket.errors import NotFound
from facedocket.governance import audit
from facedocket.oversight import transparency
from facedocket.oversight.transparency import FIELD_DEFINITIONS, build_report
from facedocket.oversight.transparency.counting import count_fields
from facedocket.store.queries.transparency import (
    AgencyRow,
    Anchor,
    CandidateRow,
    ChainEvent,
    EventRow,
    GalleryRow,
    ReviewRow,
    SearchRow,
    TransparencyRows,
)

HOSTILE = "<script>alert(1)</script>"
SP, CS = 1, 2
START, END = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
AUG = datetime(2026, 8, 3, 9, tzinfo=UTC)


def _search(runner: int, request: int, filer: int, galleries: tuple[int, ...], **kw: Any) -> SearchRow:
    values: dict[str, Any] = {
        "kind": "search", "legal_basis": "warrant", "emergency": False, "approval": "approved",
        "outcome": None, "decided": AUG, "offence_category": "robbery", "created": AUG,
    }  # fmt: skip
    values.update(kw)
    return SearchRow(agency_id=runner, galleries=galleries, request_id=request, request_agency_id=filer, **values)


def _chain(n: int) -> list[ChainEvent]:
    events, prev = [], audit.GENESIS
    for seq in range(1, n + 1):
        event = {
            "seq": seq, "time": audit.format_time(AUG), "actor_id": None, "actor": "system", "agency_id": SP,
            "action": "test.event", "object_type": "test", "object_id": str(seq), "details": {"n": seq},
        }  # fmt: skip
        digest = audit.event_hash(event, prev)
        events.append(ChainEvent(seq, AUG, None, "system", SP, "test.event", "test", str(seq), '{"n":' + str(seq) + "}",
                                 prev, digest))  # fmt: skip
        prev = digest
    return events


CHAIN = _chain(3)
# State Police verifies, on the emergency path, under County Sheriff's request
FOR_ANOTHER_AGENCY = _search(SP, 101, CS, (11,), kind="verify", emergency=True, decided=None, approval="pending",
                             legal_basis="emergency", offence_category=HOSTILE)  # fmt: skip

ROWS = TransparencyRows(
    start=START,
    end=END,
    scope=None,
    agencies=(AgencyRow(SP, "State Police", None), AgencyRow(CS, "County <Sheriff>", {"review": {"two_person": True}})),
    searches=(
        _search(SP, 100, SP, (10, 12, 10), outcome="lead"),
        FOR_ANOTHER_AGENCY,
        _search(CS, 102, CS, (11,), approval="denied"),
    ),
    galleries=(GalleryRow(10, "booking", SP), GalleryRow(11, "booking", CS), GalleryRow(12, HOSTILE, SP)),
    candidates=(
        CandidateRow(1, False, AUG, SP, "female", 1990, {"race": "category-1"}),
        CandidateRow(2, False, AUG, CS, "male", 1950, {}),
        CandidateRow(3, True, AUG, CS, None, None, None),
    ),
    reviews=(ReviewRow(1, "first", "possible-match"), ReviewRow(2, "first", "possible-match")),
    users={7: SP, 8: CS},
    events=(
        EventRow("request.filed", CS, 8, "101", '{"target_agency_id": 1}'),
        EventRow("request.filed", SP, 8, "101", '{"target_agency_id": 1}'),
        EventRow("search.denied", CS, 7, "103", '{"failed": ["a", "b", "a"]}'),
        EventRow("search.denied", SP, 7, "103", '{"failed": ["a", "b", "a"]}'),
        EventRow("retention.purged", SP, None, "probe_images", '{"record_type": "probe_images", "count": 3}'),
        EventRow("hold.placed", CS, 8, "1", "not json"),
    ),
    head=(3, CHAIN[-1].hash),
    period_events=3,
    period_first=Anchor(1, CHAIN[0].hash, AUG),
    period_last=Anchor(3, CHAIN[-1].hash, AUG),
)


def _fields(scope: int | None) -> dict[str, Any]:
    return count_fields(replace(ROWS, scope=scope))


def test_every_field_is_counted() -> None:
    assert set(_fields(None)) == set(FIELD_DEFINITIONS)


def test_searches_for_all_agencies() -> None:
    fields = _fields(None)
    assert (fields["searches"], fields["verifications"]) == (2, 1)
    assert fields["searches_by_agency"] == {"County <Sheriff>": 1, "State Police": 2}
    # a gallery named twice in one search counts once; two counted galleries of one name get their agency
    assert fields["searches_by_gallery"] == {HOSTILE: 1, "booking (County <Sheriff>)": 2, "booking (State Police)": 1}
    assert fields["searches_by_offence"]["robbery"] == 2 and fields["searches_by_offence"][HOSTILE] == 1
    assert fields["searches_by_legal_basis"]["emergency"] == 1
    assert fields["outcomes"] == {"lead": 1, "no-lead": 0, "open": 1, "purged": 1}
    assert fields["emergency_searches"] == 1 and fields["emergency_approval"]["pending"] == 1


def test_a_search_for_another_agency_counts_for_both() -> None:
    sp, cs = _fields(SP), _fields(CS)
    assert sp["searches_by_requesting_agency"] == {"County <Sheriff>": 1, "State Police": 1}
    assert sp["searches_requested_of_other_agencies"] == {}
    assert cs["searches_requested_of_other_agencies"] == {"State Police": 1}
    assert cs["searches_by_gallery"] == {"booking": 1}  # only one counted gallery of that name
    assert (cs["searches"], cs["verifications"], cs["emergency_searches"]) == (1, 0, 0)


def test_possible_matches_follow_the_review_rule() -> None:
    fields = _fields(None)
    # 1: one reviewer suffices at State Police; 2: County Sheriff needs two; 3: released
    assert fields["possible_matches"] == 2
    assert fields["possible_matches_by_sex"] == {"not recorded": 1, "female": 1}
    assert fields["possible_matches_by_age_group"]["35-44"] == 1
    assert fields["possible_matches_by_age_group"]["not recorded"] == 1
    assert fields["possible_matches_by_race"] == {"not recorded": 1, "category-1": 1}


def test_events_counted_once_across_trails() -> None:
    fields = _fields(None)
    assert fields["requests_filed"] == 1 and fields["requests_to_other_agencies"] == 1
    assert fields["searches_refused"] == 1 and fields["refusals_by_rule"] == {"a": 1, "b": 1}
    assert fields["records_purged"] == {"probe_images": 3}
    assert fields["legal_holds_placed"] == 1 and _fields(SP)["legal_holds_placed"] == 0
    assert _fields(CS)["searches_refused"] == 0 and _fields(SP)["searches_refused"] == 1


def test_the_report_anchors_to_the_chain() -> None:
    now = datetime(2026, 10, 2, tzinfo=UTC)
    report = build_report(ROWS, CHAIN, "2026Q3", now, "massachusetts-quarterly")
    assert report["agency"] == {"id": None, "name": "all agencies"}
    assert report["audit"]["chain"]["ok"] and report["audit"]["chain"]["events"] == 3
    assert report["audit"]["period_first"] == {"seq": 1, "hash": CHAIN[0].hash, "time": audit.format_time(AUG)}
    assert list(report["fields"]) == list(transparency.FIELD_SETS["massachusetts-quarterly"].fields)
    edited = [CHAIN[0], replace(CHAIN[1], details='{"n":5}'), CHAIN[2]]
    broken = build_report(ROWS, edited, "2026Q3", now)["audit"]["chain"]
    assert not broken["ok"] and broken["broken_at"] == 2
    with pytest.raises(NotFound):
        build_report(replace(ROWS, scope=9), CHAIN, "2026Q3", now)
    with pytest.raises(ValueError, match="not the period"):
        build_report(ROWS, CHAIN, "2026Q4", now)


def test_the_html_escapes_names_from_the_database() -> None:
    report = build_report(ROWS, CHAIN, "2026Q3", datetime(2026, 10, 2, tzinfo=UTC))
    page = transparency.to_html(report)
    assert "<script" not in page
    assert "booking (County &lt;Sheriff&gt;)" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _imported(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split())


def test_the_layers() -> None:
    oversight = _imported("facedocket.oversight.transparency")
    assert "sqlalchemy" not in oversight and not any(m.startswith("facedocket.service") for m in oversight)
    store = _imported("facedocket.store.queries.transparency")
    assert not any(m.startswith(("facedocket.oversight", "facedocket.service")) for m in store)
