"""The video commands as an operator runs them: watchlist entries, a deployment described and
authorised, ``facedocket watch DEPLOYMENT --source FILE`` printing its alerts, the alert queue
(list, wait, crop, confirm, dismiss) and the deployment's report; errors in one line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import scenes
from click.testing import CliRunner
from shop import open_shop

from facedocket.cli import main
from facedocket.vision.pipeline import FacePipeline


@dataclass
class Run:
    code: int
    out: str
    err: str


def fd(home: Path, token: str, *args: str) -> Run:
    env = {"FACEDOCKET_TOKEN": token, "FACEDOCKET_HOME": None, "FACEDOCKET_DATABASE_URL": None}
    with CliRunner().isolation(env=env) as (out, err, _):
        try:
            main(["--home", str(home), *args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        return Run(code, out.getvalue().decode(), err.getvalue().decode())


def ok(run: Run) -> str:
    assert run.code == 0, run.err
    return run.out


def test_watch_a_file_and_work_the_alert_queue(
    tmp_path: Path, pipeline: FacePipeline, cast: scenes.Cast, walk_video: Path
) -> None:
    home = tmp_path / "home"
    shop = open_shop(home, pipeline)
    guard, sup, manager = (shop.secrets[u] for u in ("guard", "sup", "manager"))
    for person in sorted(cast.listed):
        added = ok(fd(home, guard, "watchlist", "add", "main st", person, "--reason", "ban-order", "--incident",
                      "BAN-1", "--authorised-by", "Manager", "--photo", str(cast.enrol_photo[person])))  # fmt: skip
        assert "pending" in added and "second person" in added
        entry = added.split()[1]
        assert "active" in ok(fd(home, sup, "watchlist", "approve", entry))
    listed = ok(fd(home, guard, "watchlist", "entries", "main st", "--status", "active"))
    assert sorted(line.split("\t")[2] for line in listed.splitlines()) == sorted(cast.listed)

    described = ok(fd(home, sup, "deployment", "create", "door", "--source", "placeholder.mp4", "--site", "Main St",
                      "--place", "front door", "--window", "daily 00:00-24:00", "--watchlist", "main st", "--dpia",
                      "DPIA-1", "--signage"))  # fmt: skip
    assert "refuses: deployments.authorisation_required" in described
    refused = fd(home, guard, "watch", "door", "--source", str(walk_video))
    assert refused.code == 1 and refused.err.count("\n") == 1 and "deployments.authorisation_required" in refused.err
    ok(fd(home, manager, "deployment", "authorise", "door", "--reference", "AUTH-1"))
    watched = ok(fd(home, guard, "watch", "door", "--source", str(walk_video)))
    assert watched.count("match at") == 2
    assert sum(line.startswith("alert ") and "pending" in line for line in watched.splitlines()) == 2
    assert "the source ended: 225 frames, 3 faces seen, 2 alerts" in watched

    queue = ok(fd(home, guard, "alert", "list", "--status", "pending", "--json"))
    alerts = json.loads(queue)
    assert sorted(a["reference"] for a in alerts) == sorted(cast.listed)
    first, second = (str(a["id"]) for a in alerts)
    assert ok(fd(home, guard, "alert", "list", "--after", second, "--wait", "0.2")).strip() == "no alerts"
    ok(fd(home, guard, "alert", "crop", first, "--out", str(tmp_path / "crop.jpg")))
    assert (tmp_path / "crop.jpg").read_bytes()[:2] == b"\xff\xd8" and (
        tmp_path / "crop.jpg"
    ).stat().st_mode & 0o077 == 0
    assert "incident" in ok(fd(home, guard, "alert", "confirm", first, "--reason", "checked: it is them"))
    assert "dismissed" in ok(fd(home, guard, "alert", "dismiss", second, "--reason", "not them"))
    again = fd(home, guard, "alert", "dismiss", first, "--reason", "oops")
    assert again.code == 1 and "confirmed already" in again.err

    report = json.loads(ok(fd(home, shop.secrets["auditor"], "deployment", "report", "door", "--period",
                              shop.clock().strftime("%Y-%m"))))  # fmt: skip
    assert (report["fields"]["alerts_confirmed"], report["fields"]["alerts_dismissed"]) == (1, 1)
    low = fd(home, sup, "deployment", "create", "low", "--source", "x.mp4", "--site", "s", "--place", "p", "--window",
             "daily 00:00-24:00", "--watchlist", "main st", "--threshold", "0.93")  # fmt: skip
    assert low.code == 1 and "watchlists.threshold_floor_fmr" in low.err and low.err.count("\n") == 1
