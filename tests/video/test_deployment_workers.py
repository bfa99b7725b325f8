"""Background workers (as inside ``facedocket serve``): a worker whose run dies is restarted
and says so; a stop ends the run; a deployment started outside its time windows waits for
the next one and then passes the gate."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

import scenes
from shop import Shop, events, open_shop, stock

from facedocket.service import VideoWorkers
from facedocket.video.source import SourceItem, VideoFrame, VideoReader
from facedocket.vision.pipeline import FacePipeline


def _workers(shop: Shop, **options: object) -> VideoWorkers:
    service = shop.service
    return VideoWorkers(service.ctx, service.deployments, service.watching, restart_backoff_s=0.01, **options)  # type: ignore[arg-type]


def _until(check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _endless(video: Path) -> Iterator[SourceItem]:
    """A camera that never stops: the video over and over, at about real time / 4."""
    index, offset = 0, 0.0
    for _lap in itertools.count():
        for item in VideoReader(video):
            assert isinstance(item, VideoFrame)
            time.sleep(0.01)
            yield VideoFrame(index, offset + item.time, item._frame)
            index += 1
        offset += 10.0


def test_a_worker_that_dies_is_restarted_and_says_so(
    tmp_path: Path, pipeline: FacePipeline, cast: scenes.Cast, walk_video: Path
) -> None:
    shop = stock(open_shop(tmp_path / "home", pipeline), cast)
    deployment = shop.deployment("entrance", walk_video)
    opened: list[str] = []

    def flaky(source: str) -> Iterable[SourceItem]:
        opened.append(source)
        if len(opened) == 1:
            raise RuntimeError("camera driver crashed")
        return VideoReader(source)

    workers = _workers(shop, open_reader=flaky)
    assert workers.start(shop.examiner, deployment.id).status == "running"
    _until(lambda: (s := workers.status(deployment.id)) is not None and s.state == "stopped")
    restarted = events(shop.service, shop.auditor, "deployment.worker_restarted")
    assert len(restarted) == 1 and restarted[0]["details"]["error"] == "RuntimeError: camera driver crashed"
    stopped = [e["details"]["reason"] for e in events(shop.service, shop.auditor, "deployment.stopped")]
    assert stopped == ["error: RuntimeError: camera driver crashed", "the source ended"]
    assert len(events(shop.service, shop.auditor, "deployment.started")) == 2, "the restart passes the gate again"
    assert sorted(a.reference for a in shop.service.alerts.list_alerts(shop.examiner)) == sorted(cast.listed)
    assert shop.service.deployments.get_deployment(shop.examiner, deployment.id).status == "stopped"


def test_a_worker_stops_when_asked_and_alerts_can_be_waited_for(
    tmp_path: Path, pipeline: FacePipeline, cast: scenes.Cast, walk_video: Path
) -> None:
    shop = stock(open_shop(tmp_path / "home", pipeline), cast)
    deployment = shop.deployment("entrance", "rtsp://guard:secret@camera.local/1")
    assert deployment.source == "rtsp://***@camera.local/1"
    workers = _workers(shop, open_reader=lambda source: _endless(walk_video))
    workers.start(shop.examiner, deployment.id)
    first = shop.service.alerts.wait(shop.examiner, 0, 30)
    assert first and first[0].deployment_id == deployment.id
    info = workers.stop(shop.supervisor, deployment.id)
    assert info.status == "stopped" and info.run_id is None
    stopped = events(shop.service, shop.auditor, "deployment.stopped")[-1]
    assert stopped["details"]["reason"] == "stopped by sup" and stopped["actor"] == "guard"
    assert all("secret" not in str(e) for e in events(shop.service, shop.auditor, "deployment.created"))


def test_a_deployment_started_outside_its_windows_waits_for_the_next(
    tmp_path: Path, pipeline: FacePipeline, cast: scenes.Cast, walk_video: Path
) -> None:
    shop = stock(open_shop(tmp_path / "home", pipeline), cast)
    minute = shop.clock().replace(second=0, microsecond=0)
    opens, closes = ((minute + timedelta(minutes=m)).strftime("%H:%M") for m in (10, 20))
    deployment = shop.deployment("timed", walk_video, windows=[f"daily {opens}-{closes}"])
    workers = _workers(shop, window_poll_s=0.05)
    assert workers.start(shop.examiner, deployment.id).status == "waiting"
    refused = events(shop.service, shop.auditor, "deployment.refused")
    assert refused[-1]["details"]["failed"] == ["deployment.windows"]
    time.sleep(0.2)
    assert shop.service.alerts.list_alerts(shop.examiner) == []
    shop.clock.advance(minutes=11)  # the window opens: the gate runs and the video plays
    _until(lambda: (s := workers.status(deployment.id)) is not None and s.state == "stopped")
    assert len(shop.service.alerts.list_alerts(shop.examiner)) == 2
    assert events(shop.service, shop.auditor, "deployment.stopped")[-1]["details"]["reason"] == "the source ended"
