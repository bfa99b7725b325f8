"""A full disk (issue 11, item 3): SQLite's own "database or disk is full" reaches the user
(it was hidden behind the index file's error), and an index file that cannot be written
after a successful commit is reported as that, with its path and exit status 3, not as a
failed enrolment. Real full file systems: a small tmpfs in a mount namespace of the test's
own, filled up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from read_only import namespaces, run_in_namespace
from test_cli_service import fd, ok

pytestmark = pytest.mark.skipif(not namespaces(), reason="needs user namespaces (unshare -Urm) to mount a tmpfs")

PEOPLE = ("Aaron_Peirsol", "Abdullah_Gul")


@pytest.fixture
def tree(tmp_path: Path, dev_dir: Path) -> Path:
    tree = tmp_path / "tree"
    for person in PEOPLE:
        (tree / person).mkdir(parents=True)
        (tree / person / "1.jpg").symlink_to(dev_dir / person / "1.jpg")
    return tree


def _said(err: str) -> list[str]:
    """The lines of stderr, less the development-key notice a data directory without its own
    keys prints at each start."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith("FACEDOCKET_")]


def test_sqlite_disk_full_is_reported_as_such(tmp_path: Path, tree: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    script = f"""
set -e
mount -t tmpfs -o size=8m tmpfs {home}
export FACEDOCKET_JITTER=false
"$FD" --home {home} init --agency "State Police" > /dev/null
"$FD" --home {home} gallery create booking --source "booking photos" --purpose investigations > /dev/null
dd if=/dev/zero of={home}/.filler bs=64k 2> /dev/null || true
truncate -s -48K {home}/.filler
set +e
"$FD" --home {home} enroll booking {tree} > {tmp_path}/out 2> {tmp_path}/err
echo $? > {tmp_path}/rc
"""
    run = run_in_namespace(script, tmp_path)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "rc").read_text().strip() == "1", (tmp_path / "err").read_text()
    (line,) = _said((tmp_path / "err").read_text())
    assert "database or disk is full" in line and "could not be written" in line, line
    assert "index" not in line and "unexpected" not in line, line
    assert "0 photo(s) of this run were enrolled and committed before it" in line, line


def test_an_index_file_that_cannot_be_written_after_the_commit_is_reported_with_its_path(
    tmp_path: Path, tree: Path
) -> None:
    home = tmp_path / "home"
    ok(fd(home, "init", "--agency", "State Police"))
    ok(fd(home, "gallery", "create", "booking", "--source", "booking photos", "--purpose", "investigations"))
    index = home / "index"
    index.mkdir(exist_ok=True)
    script = f"""
set -e
mount -t tmpfs -o size=64k tmpfs {index}
dd if=/dev/zero of={index}/.filler bs=4k 2> /dev/null || true
set +e
FACEDOCKET_JITTER=false "$FD" --home {home} enroll booking {tree} --json > {tmp_path}/out 2> {tmp_path}/err
echo $? > {tmp_path}/rc
"""
    run = run_in_namespace(script, tmp_path)
    assert run.returncode == 0, run.stderr
    err = (tmp_path / "err").read_text()
    assert (tmp_path / "rc").read_text().strip() == "3", err
    report = json.loads((tmp_path / "out").read_text())
    assert report["counts"]["enrolled"] == 2
    path = index / "gallery-1.fdindex"
    assert f"the index file {path} could not be written (No space left on device)" in report["index_error"]
    assert _said(err)[0].startswith("Warning: the enrolment is committed") and str(path) in err
    # committed: the database holds both, and the index is rebuilt from it
    subjects = json.loads(ok(fd(home, "subject", "list", "booking", "--json")))
    assert sorted(s["reference"] for s in subjects) == sorted(PEOPLE)
    assert "rebuilt with 2 templates" in ok(fd(home, "index", "rebuild", "booking"))
