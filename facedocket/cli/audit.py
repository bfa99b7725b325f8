"""Audit-log commands: verify the hash chain (in the database, or an exported file with no
database at all), export it as JSON Lines, and list events."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from facedocket.cli import cli
from facedocket.cli.common import _echo_json, echo
from facedocket.cli.service import _actor, _service, _show, _table, json_option, token_option
from facedocket.governance import audit


@cli.group("audit")
def audit_group() -> None:
    """The append-only, hash-chained audit log (auditors and admins)."""


def _report(result: audit.Verification, as_json: bool) -> None:
    """Print a verification; exit 1 when the chain is broken."""
    if as_json:
        _echo_json(result.as_dict())
    elif result.ok:
        echo(f"ok: {result.events} events, the chain is intact")
        echo(f"head: seq {result.head_seq} hash {result.head_hash}")
    else:
        echo(f"broken at seq {result.broken_at}: {result.reason}")
        echo(f"last good link: seq {result.head_seq} hash {result.head_hash}")
    if result.recorded is False:
        echo("note: the database is read-only, so this check was not recorded in the audit log", err=True)
    if not result.ok:
        sys.exit(1)


def _reaches(result: audit.Verification, events: list[dict[str, object]], head_hash: str) -> audit.Verification:
    """``result``, failed unless the file holds the event whose hash is ``head_hash`` (a head
    published earlier: every later export holds it, followed by the events since)."""
    wanted = head_hash.strip().lower()
    if not result.ok or any(str(event["hash"]) == wanted for event in events):
        return result
    return audit.Verification(
        False, result.events, result.head_seq, result.head_hash, result.head_seq + 1,
        f"the file ends at seq {result.head_seq} and holds no event with the head hash given: events up to "
        "that head were removed, or the file is another chain",
    )  # fmt: skip


def _verify_each(events: list[dict[str, object]]) -> audit.Verification:
    """Each event against its own ``prev_hash`` and ``hash``, with no continuity asked for
    (an agency's export holds only its own events)."""
    seq, last = 0, audit.GENESIS
    for event in events:
        if audit.event_hash(event, str(event["prev_hash"])) != event["hash"]:
            got = int(str(event["seq"]))
            return audit.Verification(
                False, len(events), seq, last, got, "hash does not match the event: it was edited"
            )
        seq, last = int(str(event["seq"])), str(event["hash"])
    return audit.Verification(True, len(events), seq, last)


@audit_group.command("verify")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Verify this export (JSON Lines) offline: no database and no token needed.")  # fmt: skip
@click.option("--head-hash",
              help="With --file: a head hash published earlier (what `audit verify` printed, or an export's "
              "last hash); the file must hold that event (catches a tail cut before it).")  # fmt: skip
@click.option("--each", is_flag=True,
              help="With --file: check each event's own hash only (an agency's export is not one chain).")  # fmt: skip
@token_option
@json_option
@click.pass_context
def audit_verify(
    ctx: click.Context, path: Path | None, head_hash: str | None, each: bool, token: str | None, as_json: bool
) -> None:
    """Walk the audit chain and report the first broken link (exit status 1) or ok.

    Without --file it checks the database (auditors and admins), compares the chain's end
    with the head the database records and prints that head: publish it. The check is
    recorded (after the head it printed), or, on a read-only database, runs unrecorded and
    says so. With --file it checks an export from `facedocket audit export` and needs
    nothing but the file; with --head-hash the file must also hold the published head (an
    export taken any time after it does, followed by the events since).
    """
    if path is None:
        if head_hash or each:
            raise click.UsageError("--head-hash and --each go with --file")
        _report(_service(ctx).audit.verify_audit(_actor(ctx, token)), as_json)
        return
    with path.open(encoding="utf-8") as lines:
        try:
            events = list(audit.read_jsonl(lines))
        except ValueError as exc:
            raise click.ClickException(f"{path}: {exc}") from None
    if not events:
        raise click.ClickException(f"{path} holds no audit events")
    for number, event in enumerate(events, 1):
        missing = [f for f in (*audit.FIELDS, "prev_hash", "hash") if f not in event]
        if missing:
            raise click.ClickException(f"{path}: event {number} lacks {', '.join(missing)}; is this an audit export?")
    result = _verify_each(events) if each else audit.verify_chain(events)
    _report(_reaches(result, events, head_hash) if head_hash else result, as_json)


@audit_group.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The JSON Lines file to write.")  # fmt: skip
@token_option
@click.pass_context
def audit_export(ctx: click.Context, out: Path, token: str | None) -> None:
    """Export the audit log as JSON Lines, one event a line (auditors and admins).

    The operator agency's auditors and admins export the whole chain; another agency's get
    its own events (verify those with `audit verify --file F --each`). The export is
    recorded first, so it ends with its own event; it prints the last event's hash. A reader
    checks the file with `audit verify --file F --head-hash H`, H being a head published
    earlier (what `audit verify` printed), which the file must hold. On a read-only
    database the export runs unrecorded and says so.
    """
    count = 0
    last = ""
    partial = out.with_name(out.name + ".part")  # the file appears only once it is whole
    try:
        with partial.open("w", encoding="utf-8") as f:
            export = _service(ctx).audit.export_audit(_actor(ctx, token))
            for line in export:
                f.write(line + "\n")
                count += 1
                last = line
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    head = json.loads(last) if last else None
    tail = f"; last event seq {head['seq']} hash {head['hash']}" if head else ""
    echo(f"{count} events written to {out}{tail}")
    if not export.recorded:
        echo("note: the database is read-only, so this export was not recorded in the audit log", err=True)


@audit_group.command("list")
@click.option("--action", help="Only events of this action, e.g. search.run or request.approved.")
@click.option("--limit", type=int, default=50, show_default=True, help="Show at most this many.")
@token_option
@json_option
@click.pass_context
def audit_list(ctx: click.Context, action: str | None, limit: int, token: str | None, as_json: bool) -> None:
    """List audit events, newest first (an agency's auditors see their agency's events)."""
    events = [e.as_dict() for e in _service(ctx).audit.list_audit(_actor(ctx, token), action=action, limit=limit)]
    rows = [
        [str(e["seq"]), str(e["time"]), str(e["actor"]), str(e["agency_id"]), str(e["action"]),
         f"{e['object_type']} {e['object_id']}", json.dumps(e["details"], ensure_ascii=False)]
        for e in events
    ]  # fmt: skip
    lines = _table(["seq", "time", "actor", "agency", "action", "object", "details"], rows)
    _show(events, as_json, "\n".join(lines) if events else "no events")
