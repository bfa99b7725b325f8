"""Files and output of the CLI under hostile conditions (issue 11, item 4): the data
directory 0700 and its files 0600 whatever the umask, the token file private from its
creation, terminal control characters in user-supplied strings never reaching the
terminal, and a broken audit row reported by its sequence number."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_tamper import tamper
from test_cli_service import fd, ok

from facedocket.config import Settings
from facedocket.service import open_service

HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07\r\u202etxt.exe\x9b31m"
CONTROLS = ("\x1b", "\x07", "\r", "\u202e", "\x9b")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def lax_umask() -> Iterator[None]:
    old = os.umask(0o002)  # group-writable, world-readable by default
    try:
        yield
    finally:
        os.umask(old)


def test_data_directory_and_its_files_are_private_whatever_the_umask(tmp_path: Path, lax_umask: None) -> None:
    home = tmp_path / "data"
    ok(fd(home, "init", "--agency", "State Police"))
    ok(fd(home, "gallery", "create", "booking", "--source", "booking photos", "--purpose", "investigations"))
    assert mode(home) == 0o700
    database = [home / name for name in ("facedocket.db", "facedocket.db-wal", "facedocket.db-shm")]
    assert database[0].exists()
    assert {p.name: mode(p) for p in database if p.exists()} == {p.name: 0o600 for p in database if p.exists()}
    assert mode(home / "token") == 0o600


def test_an_existing_lax_data_directory_is_tightened(tmp_path: Path, lax_umask: None) -> None:
    home = tmp_path / "old"
    home.mkdir(mode=0o755)
    service = open_service(Settings(home=home))  # as an older version left it
    service.engine.dispose()
    for path in (home, *home.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    ok(fd(home, "init", "--agency", "State Police"))
    assert mode(home) == 0o700 and mode(home / "facedocket.db") == 0o600


def test_token_file_is_private_from_creation_and_never_follows_a_link(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("")
    (home / "token").symlink_to(elsewhere)  # planted before init
    out = ok(fd(home, "init", "--agency", "State Police"))
    secret = out.strip().rsplit(" ", 1)[-1]
    assert secret.startswith("fd_")
    assert elsewhere.read_text() == ""  # the secret did not go through the link
    token = home / "token"
    assert not token.is_symlink() and token.read_text().strip() == secret and mode(token) == 0o600
    assert [p.name for p in home.iterdir() if p.name.startswith(".token")] == []  # no temporary file left


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hostile")
    ok(fd(home, "init", "--agency", "State Police"))
    ok(fd(home, "gallery", "create", HOSTILE, "--source", f"source {HOSTILE}", "--purpose", "investigations"))
    return home


def test_control_characters_never_reach_the_terminal(home: Path) -> None:
    printed = {
        "gallery list": ok(fd(home, "gallery", "list")),
        "audit list": ok(fd(home, "audit", "list", "--limit", "5")),
    }
    for command, text in printed.items():
        assert "evil" in text and "txt.exe" in text, command  # the printable part is kept
        assert not any(c in text for c in CONTROLS), (command, text)
    error = fd(home, "gallery", "show", HOSTILE + "-missing")
    assert error.exit_code != 0 and "evil" in error.stderr
    assert not any(c in error.stderr for c in CONTROLS), error.stderr
    as_json = json.loads(ok(fd(home, "gallery", "list", "--json")))
    assert as_json[0]["name"] == HOSTILE  # JSON keeps the value exactly, escaped


def test_audit_verify_names_a_row_whose_details_are_not_json(home: Path) -> None:
    settings = Settings(home=home)
    service = open_service(settings)
    seq = service.list_audit(service.authenticate((home / "token").read_text().strip()), limit=1)[0]["seq"]
    tamper(service, f"UPDATE audit_event SET details = '{{not json' WHERE seq = {seq}")
    service.engine.dispose()
    run = fd(home, "audit", "verify")
    assert run.exit_code == 1, (run.stdout, run.stderr)
    assert f"broken at seq {seq}: its details are not valid JSON" in run.stdout
