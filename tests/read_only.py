"""Run a command with a folder read-only, for real: the folder bind-mounted read-only in a
user and mount namespace of its own (``unshare -Urm``; no privileges needed where user
namespaces are allowed), or, where they are not and the tests do not run as root, with
its write permissions taken away for the run. Tests that need it skip when neither works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest

FACEDOCKET = [sys.executable, "-c", "from facedocket.cli import main; main()"]
"""The CLI, run by the test's own interpreter."""

_MOUNT = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


@cache
def _namespaces() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-Urm", "true"], capture_output=True).returncode == 0


def available() -> bool:
    return _namespaces() or os.geteuid() != 0


def run_read_only(folder: Path, args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``args`` with ``folder`` (and all under it) read-only; skips the test when that cannot be arranged."""
    if _namespaces():
        command = ["unshare", "-Urm", "sh", "-c", _MOUNT, "sh", str(folder), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if os.geteuid() == 0:
        pytest.skip("needs user namespaces (unshare -Urm) or a non-root user to make a folder read-only")
    modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]}
    try:
        for path in modes:
            path.chmod(0o500 if path.is_dir() else 0o400)
        return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def facedocket_read_only(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``facedocket --home HOME ARGS`` with HOME read-only."""
    return run_read_only(home, [*FACEDOCKET, "--home", str(home), *args], timeout=timeout)


def namespaces() -> bool:
    """Whether a user and mount namespace can be made here (``unshare -Urm``)."""
    return _namespaces()


def run_in_namespace(script: str, scratch: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the shell ``script`` in a user and mount namespace of its own, where it may mount
    (a small tmpfs to fill up, a read-only bind); ``$FD`` in it runs the CLI (a wrapper
    written to ``scratch``)."""
    if not _namespaces():
        pytest.skip("needs user namespaces (unshare -Urm)")
    wrapper = scratch / "fd"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "from facedocket.cli import main; main()" "$@"\n')
    wrapper.chmod(0o755)
    command = ["unshare", "-Urm", "sh", "-c", f"FD={wrapper}\n{script}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
