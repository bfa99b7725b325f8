"""A deployment on a live stream: MPEG-TS over HTTP from a local server that drops the
connection mid-stream, then comes back, then goes away. The reader reconnects with back-off
(recorded), alerts come after the reconnection too, the same people seen again merge into
their alerts, and the run ends recorded when the camera stays gone."""

from __future__ import annotations

from pathlib import Path

import pytest
import scenes
from shop import events, open_shop, stock
from streams import FakeSleep, TsServer

from facedocket.errors import SourceUnavailable
from facedocket.video.source import SourceOptions, VideoReader
from facedocket.vision.pipeline import FacePipeline


def test_a_live_deployment_reconnects_and_keeps_alerting(
    ts_server: TsServer, tmp_path: Path, pipeline: FacePipeline, cast: scenes.Cast
) -> None:
    url = f"http://127.0.0.1:{ts_server.server_address[1]}/live.ts"
    shop = stock(open_shop(tmp_path / "home", pipeline), cast)
    deployment = shop.deployment("camera 1", url)
    assert deployment.source_kind == "http"
    sleep = FakeSleep()
    reader = VideoReader(url, SourceOptions(timeout_s=5, max_attempts=2), sleep=sleep)
    with pytest.raises(SourceUnavailable):
        shop.service.watching.watch(shop.examiner, deployment.id, reader=reader)
    dropped = events(shop.service, shop.auditor, "deployment.source_dropped")
    reconnected = events(shop.service, shop.auditor, "deployment.source_reconnected")
    assert len(reconnected) == 1 and dropped[0]["details"]["attempt"] == 1
    assert "5XX" in dropped[-1]["details"]["error"]  # the camera went away for good
    stopped = events(shop.service, shop.auditor, "deployment.stopped")[-1]["details"]
    assert stopped["reason"].startswith("error: ") and stopped["faces"] >= 3
    alerts = shop.service.alerts.list_alerts(shop.examiner)
    assert sorted(a.reference for a in alerts) == sorted(cast.listed)
    repeated = events(shop.service, shop.auditor, "alert.repeated")
    assert repeated, "after the reconnection the same people are seen again: merged into their alerts"
    assert {int(e["object_id"]) for e in repeated} <= {a.id for a in alerts}
    assert sum(a.repeats for a in alerts) == len(repeated)
    assert shop.service.deployments.get_deployment(shop.examiner, deployment.id).status == "stopped"
