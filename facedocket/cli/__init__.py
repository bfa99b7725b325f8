"""The ``facedocket`` command line: a thin shell over the service and the pipeline.

Every command has ``--help``; machine-readable output with ``--json``; errors are one
line on standard error and a non-zero exit status.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from facedocket.config import Settings
from facedocket.errors import FaceDocketError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="facedocket")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FACEDOCKET_HOME",
    help="Data directory (database, indexes). Default ./facedocket-data.",
)
@click.pass_context
def cli(ctx: click.Context, home: Path | None) -> None:
    """FaceDocket: face recognition with the limits built in.

    Searches need a written request (case, offence, legal basis, justification) and
    return candidate lists for human review, never identifications.

    Settings come from FACEDOCKET_* environment variables (see `facedocket settings`).
    """
    if ctx.obj is None:
        ctx.obj = Settings(home=home) if home else Settings()


from facedocket.cli import accounts as _account_commands  # noqa: E402,F401
from facedocket.cli import audit as _audit_commands  # noqa: E402,F401
from facedocket.cli import evaluation as _evaluation_commands  # noqa: E402,F401
from facedocket.cli import models as _model_commands  # noqa: E402,F401
from facedocket.cli import oversight as _oversight_commands  # noqa: E402,F401
from facedocket.cli import pipeline as _pipeline_commands  # noqa: E402,F401  (registers commands)
from facedocket.cli import policy as _policy_commands  # noqa: E402,F401
from facedocket.cli import report as _report_commands  # noqa: E402,F401
from facedocket.cli import requests as _request_commands  # noqa: E402,F401
from facedocket.cli import service as _service_commands  # noqa: E402,F401
from facedocket.cli import video as _video_commands  # noqa: E402,F401


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI, turning every error into one line and exit status 1."""
    from facedocket.cli.common import echo

    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False, prog_name="facedocket")
    except click.exceptions.Abort:
        echo("aborted", err=True)
        sys.exit(1)
    except click.UsageError as e:
        command = e.ctx.command_path if e.ctx else "facedocket"
        echo(f"Error: {e.format_message()} (see `{command} --help`)", err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        echo(f"Error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except FaceDocketError as e:
        echo(f"Error: {e}", err=True)
        sys.exit(1)
    except Exception as e:  # a bug: still one line, details on request
        if os.environ.get("FACEDOCKET_DEBUG"):
            raise
        echo(f"Error: unexpected {type(e).__name__}: {e} (set FACEDOCKET_DEBUG=1 for details)", err=True)
        sys.exit(1)
