"""The video screens' parts that need no browser: a worker's state in words (running, the
source dropped, waiting for a time window, restarting, running elsewhere), refusals in plain
words, and a live page's poll that finds its session ended sending the whole page to sign-in
(and back to the page, not to the fragment)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

from facedocket.api import create_app
from facedocket.config import Settings
from facedocket.errors import PolicyDenied
from facedocket.governance.rules import Verdict
from facedocket.service import DeploymentInfo, WorkerStatus, open_service
from facedocket.vision.pipeline import FacePipeline
from facedocket.web.deployments import worker_state
from facedocket.web.refusals import DEPLOYMENT_WORDS, failures

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _deployment(status: str = "stopped") -> DeploymentInfo:
    return DeploymentInfo(1, "front door", "rtsp://***@cam/1", "rtsp", "Main St", "door", ["daily 08:00-20:00"],
                          "UTC", [2], 0.95, 0.945818, "DPIA-1", True, None, None, "", status, True, 2,
                          None)  # fmt: skip


def test_a_workers_state_in_words() -> None:
    info = _deployment("running")
    cases = {
        WorkerStatus(1, "matching", source="connected"): ("running", "matching faces"),
        WorkerStatus(1, "matching", source="dropped: no data for 10 s"): ("dropped", "no data for 10 s"),
        WorkerStatus(1, "restarting", restarts=2, last_error="RuntimeError: decoder"): ("restarting", "restart 2"),
        WorkerStatus(1, "starting"): ("starting", "starting"),
        WorkerStatus(1, "stopped", last_error="deployment.windows: none open"): ("stopped", "none open"),
    }
    for status, (key, words) in cases.items():
        state = worker_state(info, status, None)
        assert state.key == key and words in state.words, (status, state)
    opening = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    waiting = worker_state(info, WorkerStatus(1, "waiting"), opening)
    assert waiting.key == "waiting" and "2026-12-02T08:00+00:00" in waiting.words
    assert worker_state(info, None, None).key == "elsewhere"  # a run open in another process (facedocket watch)
    assert worker_state(_deployment(), None, None).words == "stopped"


def test_refusals_name_each_rule_in_plain_words() -> None:
    refused = PolicyDenied([("forbidden_uses", "live video is forbidden by this policy"), ("policy", "none")])
    checklist = [Verdict("forbidden_uses", "Video from this kind of source (live or recorded) is allowed.", "failed",
                         "live video is forbidden by this policy")]  # fmt: skip
    said = failures(refused, DEPLOYMENT_WORDS, checklist)
    assert said[0]["words"] == "Video from this kind of source (live or recorded) is allowed."
    assert said[1]["words"] == "A policy profile is active."
    assert " / " in failures(refused, DEPLOYMENT_WORDS)[0]["words"], "two rules read forbidden_uses"


def test_a_poll_whose_session_ended_sends_the_page_to_sign_in(tmp_path: Path, fast_pipeline: FacePipeline) -> None:
    settings = Settings(home=tmp_path / "home")
    service = open_service(settings, pipeline=fast_pipeline)
    try:
        client = TestClient(create_app(settings, service), follow_redirects=False)
        headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/alerts?state=pending"}
        answer = client.get("/alerts/poll?after=3", headers=headers)
        assert answer.status_code == 200 and answer.headers["HX-Redirect"] == "/signin?next=%2Falerts%3Fstate%3Dpending"
        plain = client.get("/alerts/poll?after=3")
        assert plain.status_code == 303 and plain.headers["location"] == "/signin?next=%2Falerts%2Fpoll%3Fafter%3D3"
    finally:
        service.close()
