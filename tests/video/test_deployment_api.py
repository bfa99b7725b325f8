"""Watchlists, deployments and alerts through the REST API, as the alert queue screen of a
web UI would use them: entries added with a photo and approved by a second person, a
deployment refused until authorised, then started as a background worker of the server;
alerts heard by long-poll and by server-sent events, the crop, the decisions, the
deployment's report and the transparency report. ``massachusetts-2020`` answers 403."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import scenes
from shop import Shop, open_shop

from facedocket.api import create_app
from facedocket.vision.pipeline import FacePipeline

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

API = "/api/v1"


class Client:
    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.http = TestClient(create_app(shop.service.settings, shop.service), raise_server_exceptions=False)

    def call(self, method: str, path: str, user: str, status: int = 200, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.shop.secrets[user]}", **kwargs.pop("headers", {})}
        response = self.http.request(method, API + path, headers=headers, **kwargs)
        assert response.status_code == status, response.text
        return response


def test_the_alert_queue_over_the_api(
    tmp_path: Path, pipeline: FacePipeline, cast: scenes.Cast, walk_video: Path
) -> None:
    shop = open_shop(tmp_path / "home", pipeline)
    api = Client(shop)
    created = api.call("POST", "/watchlists", "sup", 201, json={"name": "front door", "source": "incident reports"})
    watchlist = created.json()["id"]
    assert created.json()["purpose"] == "watchlist"
    for person in sorted(cast.listed):
        form = {"reference": person, "reason": "repeated-theft", "incident_reference": "INC-7",
                "authorised_by": "Store manager A. Jones"}  # fmt: skip
        files = {"photo": ("p.jpg", cast.enrol_photo[person].read_bytes(), "image/jpeg")}
        entry = api.call("POST", f"/watchlists/{watchlist}/entries", "guard", 201, data=form, files=files).json()
        assert entry["status"] == "pending" and entry["templates"] == 1
        assert api.call("POST", f"/watchlist-entries/{entry['id']}/approve", "sup").json()["status"] == "active"
    listed = {w["gallery"]["id"]: w["entries"] for w in api.call("GET", "/watchlists", "auditor").json()["data"]}
    assert listed[watchlist] == {"pending": 0, "active": 2, "expired": 0, "removed": 0}

    body = {
        "name": "front door", "source": str(walk_video), "site": "Main St", "place": "front door",
        "windows": ["daily 00:00-24:00"], "watchlists": [watchlist], "dpia_reference": "DPIA-9", "signage": True,
    }  # fmt: skip
    deployment = api.call("POST", "/deployments", "sup", 201, json=body).json()
    assert [v["rule"] for v in deployment["checklist"] if v["state"] == "failed"] == [
        "deployments.authorisation_required"
    ]
    refused = api.call("POST", f"/deployments/{deployment['id']}/start", "guard", 403).json()
    assert [e["rule"] for e in refused["errors"]] == ["deployments.authorisation_required"]
    api.call("POST", f"/deployments/{deployment['id']}/authorise", "manager", json={"reference": "AUTH-3"})
    started = api.call("POST", f"/deployments/{deployment['id']}/start", "guard").json()
    assert started["status"] == "running" and started["worker"]["state"] in ("starting", "matching")

    first = api.call("GET", "/alerts", "guard", params={"after": 0, "wait": 30}).json()
    assert first["count"] >= 1 and first["data"][0]["label"].startswith("watchlist match awaiting review")
    with api.http.stream("GET", f"{API}/alerts/stream", params={"after": 0, "limit": 2, "timeout": 30},
                         headers={"Authorization": f"Bearer {shop.secrets['guard']}"}) as stream:  # fmt: skip
        assert stream.headers["content-type"].startswith("text/event-stream")
        sent = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert sorted(a["reference"] for a in sent) == sorted(cast.listed)
    deadline = time.monotonic() + 60
    while api.call("GET", f"/deployments/{deployment['id']}", "guard").json()["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    one, two = (a["id"] for a in sent)
    crop = api.call("GET", f"/alerts/{one}/crop", "guard")
    assert crop.headers["content-type"] == "image/jpeg" and crop.content[:2] == b"\xff\xd8"
    api.call("GET", f"/alerts/{one}/crop", "auditor", 403)
    assert api.call("POST", f"/alerts/{one}/confirm", "guard", json={"reason": "it is them"}).json()["incident_id"]
    api.call("POST", f"/alerts/{two}/dismiss", "sup", json={"reason": "someone else"})
    api.call("POST", f"/alerts/{two}/confirm", "guard", 409, json={"reason": "changed my mind"})
    assert api.call("GET", "/alerts", "auditor", params={"status": "pending"}).json()["count"] == 0

    month = shop.clock().strftime("%Y-%m")
    report = api.call("GET", f"/deployments/{deployment['id']}/report", "auditor", params={"period": month}).json()
    fields = report["fields"]
    assert (fields["alerts"], fields["alerts_confirmed"], fields["alerts_dismissed"], fields["faces_seen"]) == (
        2,
        1,
        1,
        3,
    )
    assert fields["false_alert_share"] == 0.5 and fields["watchlist_entries_added"] == 2 and len(report["runs"]) == 1
    assert report["runs"][0]["reason"] == "the source ended" and set(report["definitions"]) == set(fields)
    full = api.call("GET", "/reports/transparency", "auditor", params={"period": month}).json()["fields"]
    assert full["video_deployments"] == 1 and full["alerts"] == 2 and full["faces_seen"] == 3
    assert full["video_hours_active"] > 0 and full["watchlist_entries_added"] == 2


@pytest.mark.parametrize("profile", ["massachusetts-2020", "eu-ai-act-post-rbi"])
def test_profiles_that_forbid_watchlist_alerts_refuse_to_start(
    profile: str, tmp_path: Path, pipeline: FacePipeline, walk_video: Path
) -> None:
    shop = open_shop(tmp_path / "home", pipeline, policy=profile)
    api = Client(shop)
    watchlist = api.call("POST", "/watchlists", "sup", 201, json={"name": "list", "source": "-"}).json()["id"]
    body = {"name": "door", "source": str(walk_video), "site": "HQ", "place": "door", "windows": ["daily 00:00-24:00"],
            "watchlists": [watchlist]}  # fmt: skip
    deployment = api.call("POST", "/deployments", "sup", 201, json=body).json()
    refused = api.call("POST", f"/deployments/{deployment['id']}/start", "guard", 403).json()
    assert "forbidden_uses" in [e["rule"] for e in refused["errors"]]
    assert refused["error"].startswith("the policy refuses this")
    assert api.call("GET", f"/deployments/{deployment['id']}", "guard").json()["status"] == "stopped"
