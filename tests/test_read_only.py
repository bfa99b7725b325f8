"""A data directory that cannot be written (issue 11, item 4): `audit verify` and `audit
export` work on it (recorded when they can be; here they cannot, and they say so), a
command that must write says the database is read-only in one line, and `facedocket serve`
refuses to start, saying why, instead of answering 500 to every signed-in request."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from read_only import available, facedocket_read_only
from test_cli_service import fd, ok

pytestmark = pytest.mark.skipif(not available(), reason="cannot make a folder read-only here")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("readonly") / "data"
    ok(fd(home, "init", "--agency", "State Police"))
    ok(fd(home, "gallery", "create", "booking", "--source", "booking photos", "--purpose", "investigations"))
    ok(fd(home, "audit", "verify"))
    return home


def events(home: Path) -> int:
    with sqlite3.connect(home / "facedocket.db") as connection:
        return int(connection.execute("SELECT count(*) FROM audit_event").fetchone()[0])


def test_audit_verify_works_on_a_read_only_database(home: Path) -> None:
    """Was: "unexpected OSError: [Errno 30] Read-only file system" (exit 1)."""
    before = events(home)
    run = facedocket_read_only(home, "audit", "verify")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok:") and f"head: seq {before} " in run.stdout
    assert "read-only, so this check was not recorded" in run.stderr
    as_json = json.loads(facedocket_read_only(home, "audit", "verify", "--json").stdout)
    assert as_json["ok"] is True and as_json["recorded"] is False
    assert events(home) == before


def test_audit_export_works_on_a_read_only_database(home: Path, tmp_path: Path) -> None:
    before = events(home)
    out = tmp_path / "audit.jsonl"
    run = facedocket_read_only(home, "audit", "export", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert f"{before} events written" in run.stdout and "not recorded" in run.stderr
    assert len(out.read_text().splitlines()) == before
    assert ok(fd(tmp_path / "nowhere", "audit", "verify", "--file", str(out))).startswith("ok:")


def test_a_command_that_writes_says_the_database_is_read_only(home: Path) -> None:
    run = facedocket_read_only(home, "gallery", "create", "more", "--source", "s", "--purpose", "p")
    assert run.returncode == 1
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("Error: the database is read-only") and "OSError" not in line
    assert "booking" in facedocket_read_only(home, "gallery", "list").stdout  # reading works


def test_the_server_says_at_start_that_its_data_directory_is_read_only(home: Path) -> None:
    """Was: the server started and answered 500 to every signed-in request."""
    run = facedocket_read_only(home, "serve", "--port", "1", timeout=60)
    assert run.returncode == 1
    (line,) = run.stderr.strip().splitlines()
    assert "cannot be written (read-only)" in line and "the server cannot start" in line and str(home) in line
