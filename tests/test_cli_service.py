"""The service commands as a user runs them: init, users, galleries, enrol, search, verify,
index rebuild, subject delete; one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

PEOPLE = ["Yao_Ming", "Venus_Williams", "Wen_Jiabao"]


def fd(home: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FACEDOCKET_TOKEN"}
    if token:
        env["FACEDOCKET_TOKEN"] = token
    env["FACEDOCKET_JITTER"] = "false"
    return subprocess.run(
        [sys.executable, "-c", "from facedocket.cli import main; main()", "--home", str(home), *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def one_line_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error"), proc.stderr
    assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, dev_dir: Path) -> dict[str, object]:
    """An initialised home with a gallery holding photos 1-2 of three people."""
    home = tmp_path_factory.mktemp("home")
    tree = tmp_path_factory.mktemp("tree")
    for person in PEOPLE:
        (tree / person).mkdir()
        for n in (1, 2):
            shutil.copy(dev_dir / person / f"{n}.jpg", tree / person / f"{n}.jpg")
    out = ok(fd(home, "init", "--agency", "State Police"))
    assert "admin token" in out
    token_file = home / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    ok(fd(home, "gallery", "create", "booking", "--source", "booking photos", "--purpose", "investigations"))
    enrol = json.loads(ok(fd(home, "enroll", "booking", str(tree), "--json")))
    examiner = ok(fd(home, "user", "create", "ex1", "--role", "examiner")).strip().rsplit(" ", 1)[-1]
    return {"home": home, "tree": tree, "enrol": enrol, "examiner": examiner}


def test_init_refuses_a_second_time(world: dict[str, object]) -> None:
    one_line_error(fd(world["home"], "init"), "already has agencies")  # type: ignore[arg-type]


def test_enroll_reports_outcomes_and_is_resumable(world: dict[str, object]) -> None:
    home = world["home"]
    assert world["enrol"]["counts"]["enrolled"] == 6  # type: ignore[index]
    again = json.loads(ok(fd(home, "enroll", "booking", str(world["tree"]), "--json")))  # type: ignore[arg-type]
    assert again["counts"]["enrolled"] == 0 and again["counts"]["already-enrolled"] == 6
    outcomes = (home / "enrolment" / "gallery-1-outcomes.csv").read_text().splitlines()  # type: ignore[operator]
    assert outcomes[0] == "source,subject,outcome,detail,template_id,sha256"
    assert len(outcomes) == 1 + 12


def test_search_finds_enrolled_person(world: dict[str, object], dev_dir: Path) -> None:
    proc = fd(world["home"], "search", str(dev_dir / "Yao_Ming" / "3.jpg"), "--gallery", "booking",  # type: ignore[arg-type]
              "--case", "C-1", "--offence", "assault", "--legal-basis", "court-order",
              "--justification", "probe from witness photo", "--json", token=str(world["examiner"]))  # fmt: skip
    result = json.loads(ok(proc))
    assert result["candidates"][0]["subject_reference"] == "Yao_Ming"
    assert result["label"].startswith("investigative lead")
    shown = json.loads(ok(fd(world["home"], "searches", "show", str(result["id"]), "--json",  # type: ignore[arg-type]
                             token=str(world["examiner"]))))  # fmt: skip
    assert shown["candidates"] == result["candidates"]


def test_search_needs_every_request_field(world: dict[str, object], dev_dir: Path) -> None:
    probe = str(dev_dir / "Yao_Ming" / "3.jpg")
    proc = fd(world["home"], "search", probe, "--gallery", "booking", "--case", "C-1",  # type: ignore[arg-type]
              "--offence", "assault", "--legal-basis", "court-order", token=str(world["examiner"]))  # fmt: skip
    one_line_error(proc, "--justification")
    proc = fd(world["home"], "search", str(dev_dir / "Yao_Ming" / "3.jpg"), "--gallery", "booking",  # type: ignore[arg-type]
              "--case", " ", "--offence", "assault", "--legal-basis", "court-order", "--justification", "x",
              token=str(world["examiner"]))  # fmt: skip
    one_line_error(proc, "case_number")


def test_admin_cannot_search_and_bad_token_is_refused(world: dict[str, object], dev_dir: Path) -> None:
    args = ["search", str(dev_dir / "Yao_Ming" / "3.jpg"), "--gallery", "booking", "--case", "C", "--offence", "o",
            "--legal-basis", "warrant", "--justification", "j"]  # fmt: skip
    one_line_error(fd(world["home"], *args), "examiner, supervisor")  # type: ignore[arg-type]
    one_line_error(fd(world["home"], *args, token="fd_nonsense"), "unknown or revoked token")  # type: ignore[arg-type]


def test_index_rebuild_and_subject_delete(world: dict[str, object]) -> None:
    home = world["home"]
    assert "rebuilt with 6 templates" in ok(fd(home, "index", "rebuild", "booking"))  # type: ignore[arg-type]
    subjects = json.loads(ok(fd(home, "subject", "list", "booking", "--json")))  # type: ignore[arg-type]
    venus = next(s for s in subjects if s["reference"] == "Venus_Williams")
    assert "with 2 template(s)" in ok(fd(home, "subject", "delete", str(venus["id"])))  # type: ignore[arg-type]
    one_line_error(fd(home, "subject", "delete", str(venus["id"])), "no subject")  # type: ignore[arg-type]
    gallery = json.loads(ok(fd(home, "gallery", "show", "booking")))  # type: ignore[arg-type]
    assert gallery["templates"] == 4 and gallery["subjects"] == 2
