"""Watchlists on video: ``watchlist`` (entries with a reason, an incident, who authorised them
and an expiry), ``deployment`` (where and when a camera matches), ``watch`` (run one in the
foreground) and ``alert`` (the queue a person works through). Each calls the service."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from facedocket.cli import cli
from facedocket.cli.common import ID, MOMENT, _echo_json, _when, echo, write_private_bytes
from facedocket.cli.service import _actor, _plain, _service, _show, json_option, token_option
from facedocket.service import AlertInfo, DeploymentDraft, DeploymentInfo, EntryDraft, EntryInfo
from facedocket.service.inputs import MAX_ID
from facedocket.vocab import ALERT_STATES, ENTRY_STATES, WATCHLIST_REASONS

# --- watchlists -----------------------------------------------------------------------------


@cli.group("watchlist")
def watchlist_group() -> None:
    """Watchlists: galleries of purpose `watchlist` and their entries."""


def _entry_line(e: EntryInfo) -> str:
    who = e.reference or "(record deleted)"
    return f"{e.id}\t{e.status}\t{who}\t{e.reason}\t{e.incident_reference}\texpires {_when(e.expires)}"


@watchlist_group.command("create")
@click.argument("name")
@click.option("--source", required=True, help='Where its photos come from, e.g. "incident reports, Main St".')
@token_option
@json_option
@click.pass_context
def watchlist_create(ctx: click.Context, name: str, source: str, token: str | None, as_json: bool) -> None:
    """Create watchlist NAME (a gallery of purpose `watchlist`)."""
    info = _service(ctx).watchlists.create_watchlist(_actor(ctx, token), name, source)
    _show(info, as_json, f"watchlist {info.id} {info.name!r} created")


@watchlist_group.command("list")
@token_option
@json_option
@click.pass_context
def watchlist_list(ctx: click.Context, token: str | None, as_json: bool) -> None:
    """List your agency's watchlists with their entries by state."""
    found = _service(ctx).watchlists.list_watchlists(_actor(ctx, token))
    lines = [f"{w.gallery.id}\t{w.gallery.name}\t" + " ".join(f"{k} {v}" for k, v in w.entries.items()) for w in found]
    _show(found, as_json, "\n".join(lines) or "no watchlists")


@watchlist_group.command("entries")
@click.argument("watchlist")
@click.option("--status", type=click.Choice(ENTRY_STATES), help="Only entries in this state.")
@token_option
@json_option
@click.pass_context
def watchlist_entries(ctx: click.Context, watchlist: str, status: str | None, token: str | None, as_json: bool) -> None:
    """List the entries of WATCHLIST (name or id)."""
    service, actor = _service(ctx), _actor(ctx, token)
    entries = service.watchlists.list_entries(actor, service.galleries.gallery_by_name(actor, watchlist).id, status)
    _show(entries, as_json, "\n".join(_entry_line(e) for e in entries) or "no entries")


@watchlist_group.command("add")
@click.argument("watchlist")
@click.argument("reference")
@click.option("--reason", required=True, type=click.Choice(WATCHLIST_REASONS), help="Why (one the policy allows).")
@click.option("--incident", required=True, help="The incident report the entry rests on.")
@click.option("--authorised-by", required=True, help='Who authorised it, e.g. "Store manager A. Jones".')
@click.option("--photo", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A photo of the person.")
@click.option("--notes", default="", help="Notes on the evidence.")
@click.option("--authorised-at", type=MOMENT, help="When it was authorised (default now).")
@click.option("--expires", type=MOMENT, help="When it leaves the list (default: the policy's longest period).")
@token_option
@json_option
@click.pass_context
def watchlist_add(
    ctx: click.Context, watchlist: str, reference: str, reason: str, incident: str, authorised_by: str,
    photo: Path | None, notes: str, authorised_at: Any, expires: Any, token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Put REFERENCE on WATCHLIST (with --photo for a new person). The policy checks the
    entry; where it asks for one, the entry waits for a second person's approval."""
    service, actor = _service(ctx), _actor(ctx, token)
    draft = EntryDraft(reference, reason, incident, authorised_by, notes, authorised_at, expires)
    data = photo.read_bytes() if photo else None
    entry = service.watchlists.add_entry(actor, service.galleries.gallery_by_name(actor, watchlist).id, draft, data)
    waits = " (waits for a second person: `facedocket watchlist approve`)" if entry.status == "pending" else ""
    _show(entry, as_json, f"entry {entry.id} {entry.status}{waits}; expires {_when(entry.expires)}")


@watchlist_group.command("approve")
@click.argument("entry_id", type=ID)
@token_option
@json_option
@click.pass_context
def watchlist_approve(ctx: click.Context, entry_id: int, token: str | None, as_json: bool) -> None:
    """Approve entry ENTRY_ID as the second person (a supervisor who did not add it)."""
    entry = _service(ctx).watchlists.approve_entry(_actor(ctx, token), entry_id)
    _show(entry, as_json, f"entry {entry.id} {entry.status}")


@watchlist_group.command("remove")
@click.argument("entry_id", type=ID)
@click.option("--reason", required=True, help="Why the entry is removed (recorded).")
@token_option
@json_option
@click.pass_context
def watchlist_remove(ctx: click.Context, entry_id: int, reason: str, token: str | None, as_json: bool) -> None:
    """Remove entry ENTRY_ID now: its templates and person record are deleted."""
    entry = _service(ctx).watchlists.remove_entry(_actor(ctx, token), entry_id, reason)
    _show(entry, as_json, f"entry {entry.id} removed")


# --- deployments ----------------------------------------------------------------------------


@cli.group("deployment")
def deployment_group() -> None:
    """Deployments: where and when a camera or a recording is matched against watchlists."""


def _deployment_text(d: DeploymentInfo) -> str:
    failed = [f"  refuses: {v.rule}: {v.why}" for v in d.checklist if v.state == "failed"]
    lines = [
        f"deployment {d.id} {d.name!r}: {d.status} ({d.source_kind} {d.source})",
        f"  {d.site} — {d.place}; windows {', '.join(d.windows)} ({d.timezone}); window open now: {d.window_open}",
        f"  watchlists {d.watchlists} ({d.entries} active entries); threshold {d.threshold:.6f} (floor {d.floor})",
        f"  DPIA {d.dpia_reference or '-'}; signage {'yes' if d.signage else 'no'}; authorised "
        f"{_when(d.authorised)} {d.authorisation_reference}",
    ]
    return "\n".join(lines + (failed or ["  the policy gate lets it start now"]))


@deployment_group.command("create")
@click.argument("name")
@click.option("--source", required=True, help="A video file, rtsp://, http:// or udp:// URL, or /dev/videoN.")
@click.option("--site", required=True, help="The site, e.g. the store's name and address.")
@click.option("--place", required=True, help="What the camera looks at.")
@click.option("--window", "windows", multiple=True, required=True,
              help='When it may match, e.g. "mon-fri 08:00-20:00" (repeat for more).')  # fmt: skip
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone of the windows.")
@click.option("--watchlist", "watchlists", multiple=True, required=True, help="Watchlist name or id (repeatable).")
@click.option("--threshold", type=float, help="Score a match must reach (default: the policy's watchlist floor).")
@click.option("--dpia", default="", help="Reference of the data protection impact assessment.")
@click.option("--signage/--no-signage", default=False, help="Signs at the site tell people about it.")
@token_option
@json_option
@click.pass_context
def deployment_create(
    ctx: click.Context, name: str, source: str, site: str, place: str, windows: tuple[str, ...], timezone: str,
    watchlists: tuple[str, ...], threshold: float | None, dpia: str, signage: bool, token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Describe deployment NAME (starts nothing)."""
    service, actor = _service(ctx), _actor(ctx, token)
    ids = [service.galleries.gallery_by_name(actor, w).id for w in watchlists]
    draft = DeploymentDraft(name, source, site, place, list(windows), ids, threshold, dpia, signage, timezone)
    info = service.deployments.create_deployment(actor, draft)
    _show(info, as_json, _deployment_text(info))


@deployment_group.command("list")
@token_option
@json_option
@click.pass_context
def deployment_list(ctx: click.Context, token: str | None, as_json: bool) -> None:
    """List your agency's deployments."""
    found = _service(ctx).deployments.list_deployments(_actor(ctx, token))
    lines = [f"{d.id}\t{d.name}\t{d.status}\t{d.source_kind}\t{d.site} — {d.place}" for d in found]
    _show(found, as_json, "\n".join(lines) or "no deployments")


@deployment_group.command("show")
@click.argument("deployment")
@token_option
@json_option
@click.pass_context
def deployment_show(ctx: click.Context, deployment: str, token: str | None, as_json: bool) -> None:
    """Show DEPLOYMENT (name or id) and what the policy gate says about it now."""
    info = _service(ctx).deployments.by_name(_actor(ctx, token), deployment)
    _show(info, as_json, _deployment_text(info))


@deployment_group.command("authorise")
@click.argument("deployment")
@click.option("--reference", required=True, help="The authorisation decision's reference.")
@token_option
@json_option
@click.pass_context
def deployment_authorise(ctx: click.Context, deployment: str, reference: str, token: str | None, as_json: bool) -> None:
    """Authorise DEPLOYMENT (supervisors), where the policy asks for it."""
    service, actor = _service(ctx), _actor(ctx, token)
    info = service.deployments.authorise(actor, service.deployments.by_name(actor, deployment).id, reference)
    _show(info, as_json, _deployment_text(info))


@deployment_group.command("report")
@click.argument("deployment")
@click.option("--period", required=True, help="A year (2026), a quarter (2026Q3) or a month (2026-07).")
@token_option
@click.pass_context
def deployment_report(ctx: click.Context, deployment: str, period: str, token: str | None) -> None:
    """DEPLOYMENT's report for a period, as JSON: runs, hours active, faces seen, alerts,
    confirmed, dismissed, false-alert share and rate, refusals, watchlist entries."""
    service, actor = _service(ctx), _actor(ctx, token)
    _echo_json(service.reports.deployment_report(actor, service.deployments.by_name(actor, deployment).id, period))


# --- watch ----------------------------------------------------------------------------------


@cli.command()
@click.argument("deployment")
@click.option("--source", help="A video file or a stream URL to watch instead of the deployment's own source.")
@token_option
@json_option
@click.pass_context
def watch(ctx: click.Context, deployment: str, source: str | None, token: str | None, as_json: bool) -> None:
    """Run DEPLOYMENT in the foreground until its source ends, the policy stops it, or Ctrl-C.

    The policy gate checks the deployment first (a refusal is recorded and printed) and again
    at each time window. Each alert is printed as it is raised; a person confirms or dismisses
    it (`facedocket alert`). Nothing of the faces that do not match is kept, only counts."""
    from facedocket.video.events import Hit

    service, actor = _service(ctx), _actor(ctx, token)
    info = service.deployments.by_name(actor, deployment)
    started = time.monotonic()

    def seen(event: object) -> None:
        if isinstance(event, Hit) and not as_json:
            echo(f"{time.monotonic() - started:7.1f}s  match at {event.time:.1f}s of video, score {event.score:.4f}")

    try:
        summary = service.watching.watch(actor, info.id, source, on_event=seen)
    except KeyboardInterrupt:
        echo("stopped (interrupted)", err=True)
        return
    alerts = service.alerts.list_alerts(actor, deployment_id=info.id, after=min(summary.alerts, default=1) - 1)
    mine = [a for a in alerts if a.id in summary.alerts]
    text = "\n".join(_alert_line(a) for a in mine)
    result = f"{summary.reason}: {summary.frames} frames, {summary.faces} faces seen, {len(mine)} alerts"
    _show({"summary": _plain(summary), "alerts": _plain(mine)}, as_json, (text + "\n" if text else "") + result)


# --- alerts ---------------------------------------------------------------------------------


@cli.group("alert")
def alert_group() -> None:
    """Alerts: watchlist matches a person confirms or dismisses (never identifications)."""


def _alert_line(a: AlertInfo) -> str:
    who = a.reference or "(entry ended)"
    return (
        f"alert {a.id}\t{a.status}\t{a.deployment}\t{who} ({a.reason_code}, {a.incident_reference})\t"
        f"score {a.score:.4f} >= {a.threshold:.4f}\texpected false alerts/h {a.expected_false_alerts_per_hour}"
    )


@alert_group.command("list")
@click.option("--status", type=click.Choice(ALERT_STATES), help="Only alerts in this state.")
@click.option("--deployment", "deployment_id", type=ID, help="Only this deployment's alerts (id).")
@click.option("--after", type=click.IntRange(0, MAX_ID), default=0, help="Only alerts with a higher id.")
@click.option("--wait", type=float, default=0.0, help="Wait up to this many seconds (60 at most) for a new one.")
@token_option
@json_option
@click.pass_context
def alert_list(ctx: click.Context, status: str | None, deployment_id: int | None, after: int, wait: float,
               token: str | None, as_json: bool) -> None:  # fmt: skip
    """List alerts (oldest first); with --wait, wait for the first one above --after."""
    service, actor = _service(ctx), _actor(ctx, token)
    if wait > 0:
        found = service.alerts.wait(actor, after, wait, status, deployment_id)
    else:
        found = service.alerts.list_alerts(actor, status, deployment_id, after)
    _show(found, as_json, "\n".join(_alert_line(a) for a in found) or "no alerts")


@alert_group.command("show")
@click.argument("alert_id", type=ID)
@token_option
@click.pass_context
def alert_show(ctx: click.Context, alert_id: int, token: str | None) -> None:
    """Show alert ALERT_ID as JSON."""
    _echo_json(_plain(_service(ctx).alerts.get_alert(_actor(ctx, token), alert_id)))


@alert_group.command("crop")
@click.argument("alert_id", type=ID)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="JPEG file to write.")
@token_option
@click.pass_context
def alert_crop(ctx: click.Context, alert_id: int, out: Path, token: str | None) -> None:
    """Write the face crop of alert ALERT_ID to --out (the look is recorded)."""
    write_private_bytes(out, _service(ctx).alerts.crop(_actor(ctx, token), alert_id))
    echo(f"wrote {out}")


@alert_group.command("confirm")
@click.argument("alert_id", type=ID)
@click.option("--reason", required=True, help="What the person checked (recorded).")
@token_option
@json_option
@click.pass_context
def alert_confirm(ctx: click.Context, alert_id: int, reason: str, token: str | None, as_json: bool) -> None:
    """Confirm alert ALERT_ID: the listed person is there (an incident record is made)."""
    info = _service(ctx).alerts.confirm(_actor(ctx, token), alert_id, reason)
    _show(info, as_json, f"alert {info.id} confirmed; incident {info.incident_id}")


@alert_group.command("dismiss")
@click.argument("alert_id", type=ID)
@click.option("--reason", required=True, help="Why it is a false alert (recorded).")
@token_option
@json_option
@click.pass_context
def alert_dismiss(ctx: click.Context, alert_id: int, reason: str, token: str | None, as_json: bool) -> None:
    """Dismiss alert ALERT_ID as a false alert."""
    info = _service(ctx).alerts.dismiss(_actor(ctx, token), alert_id, reason)
    _show(info, as_json, f"alert {info.id} dismissed")
