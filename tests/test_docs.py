"""Documentation stays true: generated references are current, every command and setting
is described, README shows the two set-up commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from facedocket.cli import cli
from facedocket.config import Settings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from gen_docs import commands  # noqa: E402


def test_generated_docs_are_current() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_docs.py"), "--check"],
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("path", commands(cli), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 10, f"{' '.join(path)} has no help text"


def test_every_setting_is_described() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 10, name
        assert f"FACEDOCKET_{name.upper()}" in (REPO / "docs" / "settings.md").read_text()


def test_readme_shows_the_two_setup_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
