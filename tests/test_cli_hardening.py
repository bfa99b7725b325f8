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
from sqlalchemy import update
from test_cli_service import fd, ok

from facedocket.config import Settings
from facedocket.service import open_service
from facedocket.store.tables import Gallery

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
    """A home whose gallery name holds terminal control characters. The service refuses them
    in new input (`gallery name holds a control character`), so the row is written the way
    data stored before that check would be: straight into the database."""
    home = tmp_path_factory.mktemp("hostile")
    ok(fd(home, "init", "--agency", "State Police"))
    refused = fd(home, "gallery", "create", HOSTILE, "--source", "s", "--purpose", "investigations")
    assert refused.exit_code != 0 and "control character" in refused.stderr
    ok(fd(home, "gallery", "create", "booking", "--source", "source", "--purpose", "investigations"))
    service = open_service(Settings(home=home))
    try:
        with service.ctx.write() as session:
            session.execute(update(Gallery).values(name=HOSTILE, source=f"source {HOSTILE}"))
    finally:
        service.engine.dispose()
    return home


def test_control_characters_never_reach_the_terminal(home: Path) -> None:
    refused = fd(home, "gallery", "list", token="fd_evil\x1b[2J\x07")  # its prefix goes into auth.refused
    assert refused.exit_code != 0 and not any(c in refused.stderr for c in CONTROLS)
    printed = {
        "gallery list": ok(fd(home, "gallery", "list")),
        "audit list": ok(fd(home, "audit", "list", "--limit", "5")),
    }
    for command, text in printed.items():
        assert "evil" in text, command  # the printable part is kept
        assert not any(c in text for c in CONTROLS), (command, text)
    assert "txt.exe" in printed["gallery list"]
    error = fd(home, "gallery", "show", HOSTILE + "-missing")
    assert error.exit_code != 0 and "evil" in error.stderr
    assert not any(c in error.stderr for c in CONTROLS), error.stderr
    as_json = json.loads(ok(fd(home, "gallery", "list", "--json")))
    assert as_json[0]["name"] == HOSTILE  # JSON keeps the value exactly, escaped


def test_audit_verify_names_a_row_whose_details_are_not_json(home: Path) -> None:
    settings = Settings(home=home)
    service = open_service(settings)
    admin = service.accounts.authenticate((home / "token").read_text().strip())
    seq = service.audit.list_audit(admin, limit=1)[0].seq + 1  # the listing itself is the newest event
    tamper(service, f"UPDATE audit_event SET details = '{{not json' WHERE seq = {seq}")
    service.engine.dispose()
    run = fd(home, "audit", "verify")
    assert run.exit_code == 1, (run.stdout, run.stderr)
    assert f"broken at seq {seq}: its details are not valid JSON" in run.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("subject", "delete", str(2**63)),
        ("request", "show", "99999999999999999999"),
        ("hold", "release", "0"),
        ("subject", "list", "booking", "--offset", str(2**63)),
    ],
)
def test_ids_out_of_range_are_one_line_errors(home: Path, args: tuple[str, ...]) -> None:
    """Was: OverflowError ("unexpected OverflowError") for ids of 2**63 and more. Now: click
    refuses the value, naming the range."""
    run = fd(home, *args)
    assert run.exit_code == 2, run.stderr
    assert "OverflowError" not in run.stderr and ("ids run from 1" in run.stderr or "range" in run.stderr)


def test_enrolment_outcomes_csv_is_private_and_escaped(tmp_path: Path, lax_umask: None, dev_dir: Path) -> None:
    """Was: the outcome CSV was created 0644 and wrote a subject reference typed as a formula
    as it was. Now: 0600 from creation whatever the umask, every cell through csvcells."""
    home = tmp_path / "data"
    ok(fd(home, "init", "--agency", "State Police"))
    ok(fd(home, "gallery", "create", "booking", "--source", "booking photos", "--purpose", "investigations"))
    source = tmp_path / "photos"
    formula = '=HYPERLINK("evil.example";"x")'
    (source / formula).mkdir(parents=True)
    (source / formula / "1.jpg").symlink_to(dev_dir / "Aaron_Peirsol" / "1.jpg")
    outcomes = tmp_path / "outcomes" / "booking.csv"
    ok(fd(home, "enroll", "booking", str(source), "--outcomes", str(outcomes)))
    assert mode(outcomes) == 0o600
    lines = outcomes.read_text().splitlines()
    assert lines[0].startswith("source,subject,outcome")
    assert "'=HYPERLINK" in lines[1] and ",=HYPERLINK" not in lines[1], lines[1]
    default = home / "enrolment"
    ok(fd(home, "enroll", "booking", str(source)))
    assert {p.name: mode(p) for p in default.iterdir()} == {p.name: 0o600 for p in default.iterdir()}
