"""Report commands: the transparency report a legislature or oversight body can publish."""

from __future__ import annotations

from pathlib import Path

import click

from facedocket.cli import cli
from facedocket.cli.common import ID, echo
from facedocket.cli.service import _actor, _service, token_option
from facedocket.oversight import transparency


@cli.group("report")
def report_group() -> None:
    """Reports for oversight bodies (auditors and admins)."""


@report_group.command("transparency")
@click.option("--period", required=True, help="A year (2026), a quarter (2026Q3) or a month (2026-07), in UTC.")
@click.option("--agency", "agency_id", type=ID,
              help="One agency's id. Default: yours, or all agencies for operator auditors and admins.")  # fmt: skip
@click.option("--field-set", type=click.Choice(list(transparency.FIELD_SETS)), default="full", show_default=True,
              help="The fields one law asks for (see docs/transparency.md).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(transparency.FORMATS), default="json", show_default=True,
              help="json, csv (field,key,value rows), html (self-contained, with charts) or pdf.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to this file (needed for pdf); default standard output.")  # fmt: skip
@token_option
@click.pass_context
def report_transparency(
    ctx: click.Context,
    period: str,
    agency_id: int | None,
    field_set: str,
    fmt: str,
    out: Path | None,
    token: str | None,
) -> None:
    """Count searches, requests, refusals, outcomes and possible matches for one period.

    Searches are counted for the agency that ran them, by legal basis, offence, gallery and
    requesting agency; requests by how they were decided; possible matches by the sex, age
    group and race the gallery recorded. The report carries the verification of the audit
    chain and the period's first and last event (seq and hash), to anchor it to the chain.
    Making a report is itself recorded in the audit log.
    """
    if fmt == "pdf" and out is None:
        raise click.UsageError("a PDF report needs --out FILE")
    report = _service(ctx).reports.transparency_report(_actor(ctx, token), period, agency_id, field_set)
    data = transparency.render(report, fmt)
    if out is None:
        echo(data, nl=False)
        return
    if isinstance(data, bytes):
        out.write_bytes(data)
    else:
        out.write_text(data, encoding="utf-8")
    recorded = report["recorded_as"]
    chain = "verifies" if report["audit"]["chain"]["ok"] else "DOES NOT VERIFY"
    echo(
        f"{field_set} report for {report['agency']['name']}, {report['period']['label']}, written to {out}; "
        f"audit chain {chain}; recorded as audit event {recorded['seq']} (sha256 {recorded['sha256']})"
    )
