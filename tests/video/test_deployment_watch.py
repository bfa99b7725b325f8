"""A deployment under ``retail-watchlist`` run on a composed video: the listed people become
alerts (with an encrypted crop, the entry, the score and the expected false alerts), the
unlisted one only a count; a person confirms or dismisses; repeats merge; the run stops when
its time window closes; retention purges dismissed alerts and old incidents."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
import scenes
from PIL import Image
from shop import Shop, events, open_shop, stock
from sqlalchemy import func, select

from facedocket.errors import Conflict, Forbidden, NotFound
from facedocket.governance.watchlists import false_alert_probability
from facedocket.service import RunSummary
from facedocket.store.tables import Alert, FaceCount, Incident, StoredImage
from facedocket.vision.pipeline import FacePipeline


@pytest.fixture(scope="module")
def watched(
    tmp_path_factory: pytest.TempPathFactory, pipeline: FacePipeline, cast: scenes.Cast, walk_video: Path
) -> tuple[Shop, RunSummary]:
    shop = stock(open_shop(tmp_path_factory.mktemp("shop"), pipeline), cast)
    deployment = shop.deployment("entrance", walk_video)
    summary = shop.service.watching.watch(shop.examiner, deployment.id)
    return shop, summary


def _count(shop: Shop, table: type) -> int:
    with shop.service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _crops(shop: Shop) -> int:
    """Alert crops kept (the watchlist entries' own photos are kept beside them)."""
    with shop.service.sessions() as session:
        return int(session.scalar(select(func.count()).where(StoredImage.kind == "alert-crop")) or 0)


def test_listed_people_become_alerts_and_nobody_else(watched: tuple[Shop, RunSummary], cast: scenes.Cast) -> None:
    shop, summary = watched
    assert summary.reason == "the source ended" and summary.faces == 3 and summary.repeats == 0
    alerts = shop.service.alerts.list_alerts(shop.examiner)
    assert sorted(a.reference for a in alerts) == sorted(cast.listed)
    assert [a.id for a in alerts] == summary.alerts
    for a in alerts:
        entry = shop.entries[a.reference or ""]
        assert a.status == "pending" and a.label.startswith("watchlist match awaiting review")
        assert a.entry_id == entry.id and a.reason_code == "theft-with-violence" and a.incident_reference
        assert a.score >= a.threshold == pytest.approx(0.945818, abs=1e-6)  # the profile's watchlist floor
        assert a.entries == 2 and a.deployment == "entrance" and a.site == "Main St store"
        p = false_alert_probability("dlib-resnet-v1", a.threshold, 2)
        assert a.false_alert_probability == pytest.approx(p)
        assert a.faces_per_hour > 0
        assert a.expected_false_alerts_per_hour == pytest.approx(p * a.faces_per_hour, rel=1e-2)
        assert a.has_crop and 0 <= a.latency_s <= 1.0 and a.matches[0]["entry_id"] == a.entry_id
    with shop.service.sessions() as session:
        hours = session.scalars(select(FaceCount)).all()
        kinds = set(session.scalars(select(StoredImage.kind)))
    assert sum(h.faces for h in hours) == 3, "faces seen: only counts, per deployment and hour"
    assert kinds == {"alert-crop", "enrolment-source", "enrolment-crop"} and _crops(shop) == 2
    assert _count(shop, StoredImage) == 2 + 2 * len(shop.entries), "besides the crops, only the entries' photos"


def test_the_crop_is_encrypted_at_rest_and_its_look_is_recorded(watched: tuple[Shop, RunSummary]) -> None:
    shop, summary = watched
    jpeg = shop.service.alerts.crop(shop.examiner, summary.alerts[0])
    with Image.open(io.BytesIO(jpeg)) as img:
        assert img.format == "JPEG" and min(img.size) >= 100
    with shop.service.sessions() as session:
        stored = session.scalars(select(StoredImage.data)).all()
    assert all(blob.startswith(b"FDE") and b"JFIF" not in blob for blob in stored)
    assert events(shop.service, shop.auditor, "alert.crop_viewed")[-1]["object_id"] == str(summary.alerts[0])
    with pytest.raises(Forbidden):
        shop.service.alerts.crop(shop.auditor, summary.alerts[0])


def test_start_and_stop_and_alerts_are_audited(watched: tuple[Shop, RunSummary]) -> None:
    shop, summary = watched
    started = events(shop.service, shop.auditor, "deployment.started")
    stopped = events(shop.service, shop.auditor, "deployment.stopped")
    assert started[-1]["details"]["policy"] == "retail-watchlist" and started[-1]["actor"] == "guard"
    assert stopped[-1]["details"] == {"run_id": summary.run_id, "reason": "the source ended", "faces": 3, "alerts": 2}
    raised = events(shop.service, shop.auditor, "alert.raised")
    assert [int(e["object_id"]) for e in raised] == summary.alerts
    assert all("vector" not in str(e["details"]) and "crop" not in e["details"] for e in raised)
    info = shop.service.deployments.get_deployment(shop.examiner, summary.deployment_id)
    assert info.status == "stopped" and info.run_id is None


def test_a_person_confirms_or_dismisses_with_a_reason(watched: tuple[Shop, RunSummary]) -> None:
    shop, summary = watched
    first, second = summary.alerts
    with pytest.raises(Forbidden):
        shop.service.alerts.confirm(shop.auditor, first, "looks like them")
    confirmed = shop.service.alerts.confirm(shop.examiner, first, "checked at the door: the person on the list")
    assert confirmed.status == "confirmed" and confirmed.incident_id is not None
    dismissed = shop.service.alerts.dismiss(shop.supervisor, second, "not the listed person: different build")
    assert dismissed.status == "dismissed" and dismissed.incident_id is None
    with pytest.raises(Conflict, match="confirmed already"):
        shop.service.alerts.dismiss(shop.examiner, first, "changed my mind")
    assert [e["details"]["incident_id"] for e in events(shop.service, shop.auditor, "alert.confirmed")] == [
        confirmed.incident_id
    ]
    assert events(shop.service, shop.auditor, "alert.dismissed")[-1]["details"]["reason"].startswith("not the listed")
    assert _count(shop, Incident) == 1


def test_retention_purges_dismissed_alerts_then_old_incidents(watched: tuple[Shop, RunSummary]) -> None:
    shop, summary = watched
    first, second = summary.alerts  # confirmed and dismissed by the test above
    shop.clock.advance(days=31)
    report = shop.service.oversight.retention_run(None)
    assert report.deleted["unconfirmed_alerts"] == [second] and "incident_records" not in report.deleted
    assert _count(shop, Alert) == 1 and _crops(shop) == 1
    with pytest.raises(NotFound):
        shop.service.alerts.get_alert(shop.examiner, second)
    shop.clock.advance(days=335)
    report = shop.service.oversight.retention_run(None)
    assert report.deleted["incident_records"] == [first]
    assert _count(shop, Alert) == _count(shop, StoredImage) == _count(shop, Incident) == 0
    # the entries expired too (365 days): their templates and person records are gone
    assert sorted(report.deleted["watchlist_entries"]) == sorted(e.id for e in shop.entries.values())
    assert shop.service.galleries.get_gallery(shop.admin, shop.watchlist).templates == 0


def test_a_person_seen_twice_is_one_alert(
    tmp_path: Path, pipeline: FacePipeline, cast: scenes.Cast
) -> None:  # fmt: skip
    """Two crossings of the same listed person 1.5 s apart: the second hit merges."""
    person = sorted(cast.listed)[0]
    photo = cast.video_photo[person]
    there = scenes.Appearance(person, photo, 0.3, 3.3, (-70, 180), (710, 180), 160)
    back = scenes.Appearance(person, photo, 4.8, 7.8, (710, 170), (-70, 190), 160)
    video = scenes.render(scenes.Scene(640, 360, 25, 8.0, (there, back), seed=5, name="twice"), tmp_path / "t.mp4")
    shop = open_shop(tmp_path / "home", pipeline)
    shop.entry(person, cast.enrol_photo[person])
    summary = shop.service.watching.watch(shop.examiner, shop.deployment("aisle", video).id)
    alerts = shop.service.alerts.list_alerts(shop.examiner)
    assert len(alerts) == 1 and alerts[0].repeats == 1 and summary.repeats == 1 and summary.faces == 2
    assert alerts[0].last_seen >= alerts[0].created
    assert events(shop.service, shop.auditor, "alert.repeated")[0]["object_id"] == str(alerts[0].id)


def test_the_run_stops_when_its_time_window_closes(
    tmp_path: Path, pipeline: FacePipeline, cast: scenes.Cast, walk_video: Path
) -> None:
    shop = stock(open_shop(tmp_path / "home", pipeline), cast)
    now = shop.clock()
    minute = now.replace(second=0, microsecond=0)
    opens, closes = ((minute + timedelta(minutes=m)).strftime("%H:%M") for m in (-2, 2))
    deployment = shop.deployment("timed", walk_video, windows=[f"daily {opens}-{closes}"])
    seen = 0

    def tick(event: object) -> None:
        nonlocal seen
        seen += 1
        if seen == 3:  # the window closes while the video plays
            shop.clock.advance(minutes=5)

    summary = shop.service.watching.watch(shop.examiner, deployment.id, on_event=tick)
    assert summary.reason.startswith("the policy refused: deployment.windows")
    assert [r for r, _ in summary.refused] == ["deployment.windows"]
    refused = events(shop.service, shop.auditor, "deployment.refused")
    assert refused[-1]["details"]["stage"] == "running"
    assert events(shop.service, shop.auditor, "deployment.stopped")[-1]["details"]["reason"] == summary.reason
