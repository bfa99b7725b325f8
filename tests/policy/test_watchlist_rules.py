"""The watchlist and deployment rules and the time windows, pure: every shipped profile's
verdict on a deployment, the windows' edges (midnight, time zones), and what a list of N
entries costs in false alerts according to the model card."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from facedocket.errors import InvalidInput
from facedocket.governance.policy import load_profile
from facedocket.governance.watchlists import (
    DeploymentFacts,
    EntryFacts,
    check_deployment,
    check_entry,
    deployment_checklist,
    false_alert_probability,
    needed_threshold,
)
from facedocket.governance.windows import is_open, next_change, parse_window, parse_windows

FLOOR = 0.945818  # dlib-resnet-v1 at FMR 1e-4: retail-watchlist's watchlist floor


def facts(**changes: object) -> DeploymentFacts:
    values: dict[str, object] = {
        "source_kind": "rtsp", "watchlists": {"main st": "watchlist"}, "entries": 10, "threshold": FLOOR,
        "model_id": "dlib-resnet-v1", "dpia_reference": "DPIA-1", "signage": True, "authorised": True,
        "window_open": True,
    }  # fmt: skip
    values.update(changes)
    return DeploymentFacts(**values)  # type: ignore[arg-type]


def rules(name: str, **changes: object) -> list[str]:
    return [rule for rule, _ in check_deployment(load_profile(name), facts(**changes))]


def test_only_retail_lets_a_deployment_start() -> None:
    assert rules("retail-watchlist") == []
    assert rules("retail-watchlist", source_kind="file") == []
    assert rules("massachusetts-2020") == ["forbidden_uses", "forbidden_uses"]
    assert rules("massachusetts-2020", source_kind="file") == ["forbidden_uses"]
    assert rules("eu-ai-act-post-rbi")[:2] == ["forbidden_uses", "forbidden_uses"]
    assert "forbidden_uses" in rules("detroit-307", source_kind="file")
    assert rules("research")[0] == "operational"
    assert check_deployment(None, facts()) == [("policy", check_deployment(None, facts())[0][1])]


def test_retail_names_each_missing_safeguard_and_the_floor() -> None:
    missing = rules("retail-watchlist", dpia_reference=" ", signage=False, authorised=False, window_open=False)
    assert missing == ["deployments.dpia_required", "deployments.signage_required",
                       "deployments.authorisation_required", "deployment.windows"]  # fmt: skip
    assert rules("retail-watchlist", threshold=0.9301) == ["watchlists.threshold_floor_fmr"]
    assert rules("retail-watchlist", threshold=float("nan"))[0] == "watchlists.threshold_floor_fmr"
    assert rules("retail-watchlist", watchlists={"booking": "criminal investigations"}) == ["search.gallery_purposes"]
    # 1,000 entries at FMR 1e-4 alert falsely on ~1 in 10 faces: above the 1-in-100 limit
    assert rules("retail-watchlist", entries=1000) == ["watchlists.max_false_alerts_per_face"]
    assert rules("retail-watchlist", entries=1000, threshold=0.9548) == []
    verdicts = deployment_checklist(load_profile("retail-watchlist"), facts(signage=False))
    assert [v.rule for v in verdicts if v.state == "failed"] == ["deployments.signage_required"]
    assert all(v.words.endswith(".") for v in verdicts)


def test_entries_meet_the_reason_period_and_gallery_rules() -> None:
    retail = load_profile("retail-watchlist")
    assert check_entry(retail, EntryFacts("ban-order", "watchlist", 365)) == []
    assert [r for r, _ in check_entry(retail, EntryFacts("missing-person", "watchlist", 366))] == [
        "watchlists.reasons", "retention.watchlist_entries"
    ]  # fmt: skip
    assert [r for r, _ in check_entry(retail, EntryFacts("fraud", "booking photos", 30))] == ["search.gallery_purposes"]
    ma = [r for r, _ in check_entry(load_profile("massachusetts-2020"), EntryFacts("fraud", "watchlist", 30))]
    assert ma == ["forbidden_uses", "watchlists.reasons", "retention.watchlist_entries"]


def test_false_alerts_grow_with_the_list() -> None:
    """1 - (1 - FMR)^N: at the search floor (FMR 1e-3) 1,000 entries alert on about 63 % of
    passers-by (the video benchmark measured 60 %)."""
    assert false_alert_probability("dlib-resnet-v1", 0.930103, 1000) == pytest.approx(0.632, abs=1e-3)
    assert false_alert_probability("dlib-resnet-v1", FLOOR, 100) == pytest.approx(0.00995, abs=1e-4)
    assert false_alert_probability("dlib-resnet-v1", FLOOR, 0) == 0.0
    assert needed_threshold("dlib-resnet-v1", 100, 0.01) == pytest.approx(FLOOR, abs=1e-4)
    assert needed_threshold("dlib-resnet-v1", 10_000, 0.01) is None, "below the card's smallest measured FMR"


def test_windows_read_days_times_and_midnight() -> None:
    w = parse_window("Mon-Fri 08:00-20:00")
    assert w.days == frozenset(range(5)) and (w.start, w.end, w.minutes) == (480, 1200, 720)
    assert parse_window("sat,sun 22:00-06:00").minutes == 480
    assert parse_window("fri-mon 00:00-24:00").days == frozenset({4, 5, 6, 0})
    for bad in ("weekdays 9-5", "mon 25:00-26:00", "mon 08:00-08:00", "daily 08:60-09:00", ""):
        with pytest.raises(InvalidInput):
            parse_window(bad)
    with pytest.raises(InvalidInput, match="at least one"):
        parse_windows([])


def test_windows_open_and_close_in_their_time_zone() -> None:
    late = parse_windows(["fri 22:00-06:00"])
    friday_night, saturday_morning = datetime(2026, 12, 4, 23, 0, tzinfo=UTC), datetime(2026, 12, 5, 5, 0, tzinfo=UTC)
    assert is_open(late, friday_night) and is_open(late, saturday_morning)
    assert not is_open(late, datetime(2026, 12, 5, 23, 0, tzinfo=UTC)), "its day is the day it starts"
    assert next_change(late, saturday_morning) == datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    assert next_change(late, datetime(2026, 12, 2, 12, 0, tzinfo=UTC)) == datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    assert next_change(parse_windows(["daily 00:00-24:00"]), friday_night) is None
    shop = parse_windows(["mon-sat 09:00-17:30"])
    summer = datetime(2026, 7, 6, 8, 30, tzinfo=UTC)  # 09:30 in London (BST)
    assert is_open(shop, summer, "Europe/London") and not is_open(shop, summer, "UTC")
    with pytest.raises(InvalidInput, match="time zone"):
        is_open(shop, summer, "Atlantis/Capital")
