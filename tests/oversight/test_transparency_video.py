"""The video counts of a transparency report, on rows written by hand: hours active are the
parts of runs inside the period (an open run up to now), faces seen come from the hourly
counts, alerts, decisions, refusals and entries from the period's audit events; one agency's
report counts its own; a deployment's report counts its own alerts and its watchlists'
entries."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from facedocket.oversight.transparency.counting import COUNTED_ACTIONS, count_fields
from facedocket.oversight.transparency.video import VIDEO_ACTIONS, faces_by_hour, video_counts
from facedocket.store.queries.transparency import AgencyRow, EventRow, FaceCountRow, RunRow, TransparencyRows

SHOP, OTHER = 1, 2
START, END = datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, day, hour, minute, tzinfo=UTC)


def _event(action: str, agency: int, object_id: str = "1", **details: object) -> EventRow:
    return EventRow(action, agency, None, object_id, json.dumps(details))


ROWS = TransparencyRows(
    start=START, end=END, scope=None,
    agencies=(AgencyRow(SHOP, "Main St Stores", None), AgencyRow(OTHER, "Other Stores", None)),
    searches=(), galleries=(), candidates=(), reviews=(), users={}, head=None, period_events=0,
    period_first=None, period_last=None,
    runs=(
        RunRow(7, SHOP, datetime(2026, 6, 30, 22, tzinfo=UTC), _at(1, 2)),  # 2 of its 4 hours in July
        RunRow(7, SHOP, _at(3, 9), _at(3, 9, 30)),
        RunRow(8, SHOP, _at(31, 23), None),  # still running: counted up to the period's end
        RunRow(9, OTHER, _at(5, 10), _at(5, 11)),
    ),
    face_counts=(
        FaceCountRow(7, SHOP, _at(1, 0), 40), FaceCountRow(7, SHOP, _at(1, 1), 60),
        FaceCountRow(7, SHOP, _at(3, 9), 100), FaceCountRow(8, SHOP, _at(31, 23), 30),
        FaceCountRow(9, OTHER, _at(5, 10), 500),
    ),
    events=(
        _event("alert.raised", SHOP, "1", deployment_id=7), _event("alert.raised", SHOP, "2", deployment_id=7),
        _event("alert.raised", SHOP, "3", deployment_id=8), _event("alert.confirmed", SHOP, "1", deployment_id=7),
        _event("alert.dismissed", SHOP, "2", deployment_id=7), _event("alert.dismissed", SHOP, "3", deployment_id=8),
        _event("alert.raised", OTHER, "4", deployment_id=9),
        _event("deployment.refused", SHOP, "7", stage="start"), _event("deployment.refused", OTHER, "9"),
        _event("watchlist.entry_added", SHOP, "11", gallery_id=70), _event("watchlist.entry_added", SHOP, "12",
                                                                           gallery_id=71),
        _event("watchlist.entry_expired", SHOP, "11", gallery_id=70),
        _event("watchlist.entry_removed", OTHER, "13", gallery_id=90),
    ),
    now=_at(31, 23, 30),
)  # fmt: skip


def test_every_agency() -> None:
    assert video_counts(ROWS) == {
        "video_deployments": 3, "video_hours_active": 2 + 0.5 + 0.5 + 1, "faces_seen": 730, "alerts": 4,
        "alerts_confirmed": 1, "alerts_dismissed": 2, "false_alert_share": round(2 / 3, 4),
        "false_alert_rate": round(2 / 730, 6), "deployments_refused": 2, "watchlist_entries_added": 2,
        "watchlist_entries_expired": 1, "watchlist_entries_removed": 1,
    }  # fmt: skip


def test_one_agency_and_a_run_still_going() -> None:
    shop = video_counts(TransparencyRows(**{**ROWS.__dict__, "scope": SHOP}))
    assert shop["video_deployments"] == 2 and shop["faces_seen"] == 230 and shop["alerts"] == 3
    assert shop["video_hours_active"] == 2 + 0.5 + 0.5  # the open run up to now (23:30)
    assert shop["watchlist_entries_removed"] == 0 and shop["deployments_refused"] == 1


def test_one_deployment_and_its_watchlists() -> None:
    one = video_counts(TransparencyRows(**{**ROWS.__dict__, "scope": SHOP}), deployment_id=7, galleries={70})
    assert (one["video_deployments"], one["video_hours_active"], one["faces_seen"]) == (1, 2.5, 200)
    assert (one["alerts"], one["alerts_confirmed"], one["alerts_dismissed"]) == (2, 1, 1)
    assert one["false_alert_share"] == 0.5 and one["false_alert_rate"] == 0.005
    assert (one["deployments_refused"], one["watchlist_entries_added"], one["watchlist_entries_expired"]) == (1, 1, 1)
    assert faces_by_hour(ROWS, 7) == {"2026-07-01T00:00:00Z": 40, "2026-07-01T01:00:00Z": 60,
                                      "2026-07-03T09:00:00Z": 100}  # fmt: skip


def test_nothing_decided_nothing_seen_is_empty_not_zero() -> None:
    empty = video_counts(TransparencyRows(**{**ROWS.__dict__, "runs": (), "face_counts": (), "events": ()}))
    assert empty["false_alert_share"] is None and empty["false_alert_rate"] is None and empty["faces_seen"] == 0


def test_the_report_counts_them_with_the_rest() -> None:
    assert set(VIDEO_ACTIONS) <= set(COUNTED_ACTIONS)
    assert count_fields(ROWS)["alerts"] == 4
