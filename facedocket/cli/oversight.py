"""Oversight commands: legal holds, the retention run, erasure and access export of a
subject, subjects made without photos, consent, and a gallery's consent rule and retention
period (evaluations on record are in :mod:`facedocket.cli.evaluation`).

Each calls one service method; the roles are the service's::

    facedocket hold place --subject 12 --reason "civil claim 26-CV-881"   # supervisors, admins
    facedocket retention run --dry-run                                     # admins
    facedocket subject erase 12 --reason "erasure request of 2026-11-01" --certificate cert.json
    facedocket subject export 12 --out subject-12.json                     # access request
    facedocket gallery require-consent loyalty
    facedocket consent record 31 --given-by "signed form 17" --purpose "store check-in"
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from facedocket.cli import cli
from facedocket.cli.common import MOMENT, _when, echo, settings_of, write_private
from facedocket.cli.service import (
    _actor,
    _service,
    _show,
    _table,
    gallery,
    json_option,
    subject,
    token_option,
)
from facedocket.service.oversight import HoldInfo
from facedocket.types import json_default

RECORD_TYPES = ("probe_images", "candidate_lists", "templates", "subjects", "watchlist_entries",
                "unconfirmed_alerts", "incident_records")  # fmt: skip
"""The record types a retention run reports, in the order it prints them."""


def _write_json(path: Path, data: Any, private: bool = False) -> None:
    """Write ``data`` as JSON; the file appears only once whole (``private``: mode 0600 from
    its creation)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=json_default) + "\n"
    if private:
        write_private(path, text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_text(text)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


# --- legal holds -----------------------------------------------------------------------------


@cli.group("hold")
def hold_group() -> None:
    """Legal holds: keep a case's or a subject's records from retention purges and erasure.

    A hold on a case keeps its requests' probe photos and candidate lists; a hold on a
    subject keeps its templates and refuses its erasure. Holds last until released.
    """


def _hold_line(hold: HoldInfo) -> str:
    state = f"released {_when(hold.released)}" if hold.released else "active"
    return f"legal hold {hold.id} on {hold.object_type} {hold.object_id} ({state}): {hold.reason}"


@hold_group.command("place")
@click.option("--case", "case_id", type=int, help="Hold this case (id, see `facedocket case list`).")
@click.option("--subject", "subject_id", type=int, help="Hold this subject (id, see `facedocket subject list`).")
@click.option("--reason", required=True, help="The order or proceeding the hold serves (recorded).")
@token_option
@json_option
@click.pass_context
def hold_place(
    ctx: click.Context, case_id: int | None, subject_id: int | None, reason: str, token: str | None, as_json: bool
) -> None:
    """Place a legal hold on a case or a subject of your agency (supervisors, admins).

    Give exactly one of --case and --subject. Prints the hold's id, which `hold release`
    takes.
    """
    if (case_id is None) == (subject_id is None):
        raise click.UsageError("give exactly one of --case ID and --subject ID")
    object_type, object_id = ("case", case_id) if case_id is not None else ("subject", subject_id)
    assert object_id is not None
    hold = _service(ctx).oversight.place_hold(_actor(ctx, token), object_type, object_id, reason)
    _show(hold, as_json, f"{_hold_line(hold)}; release it with `facedocket hold release {hold.id}`")


@hold_group.command("release")
@click.argument("hold_id", type=int)
@token_option
@json_option
@click.pass_context
def hold_release(ctx: click.Context, hold_id: int, token: str | None, as_json: bool) -> None:
    """Release legal hold HOLD_ID (supervisors, admins): the next retention run may purge
    what it kept, and the subject may be erased."""
    hold = _service(ctx).oversight.release_hold(_actor(ctx, token), hold_id)
    _show(hold, as_json, _hold_line(hold))


@hold_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Released holds too.")
@token_option
@json_option
@click.pass_context
def hold_list(ctx: click.Context, show_all: bool, token: str | None, as_json: bool) -> None:
    """List your agency's active legal holds (with --all, the released ones too)."""
    holds = _service(ctx).oversight.list_holds(_actor(ctx, token), active_only=not show_all)
    rows = [
        [str(h.id), f"{h.object_type} {h.object_id}", _when(h.placed), str(h.placed_by),
         f"released {_when(h.released)}" if h.released else "active", h.reason]
        for h in holds
    ]  # fmt: skip
    lines = _table(["hold", "on", "placed", "by user", "state", "reason"], rows)
    _show(holds, as_json, "\n".join(lines) if holds else "no legal holds")


# --- retention -------------------------------------------------------------------------------


@cli.group("retention")
def retention_group() -> None:
    """Retention: delete what has outlived the period the policy profile allows."""


def _ids(ids: list[int], most: int = 8) -> str:
    shown = ", ".join(map(str, ids[:most]))
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _retention_text(report: dict[str, Any]) -> str:
    deleted, held = report["deleted"], report["held"]
    verb = "would delete" if report["dry_run"] else "deleted"
    types = [t for t in RECORD_TYPES if t in deleted or t in held]
    types += sorted(t for t in {*deleted, *held} if t not in types)
    head = f"retention run at {report['now']}"
    head += " (dry run: nothing was deleted)" if report["dry_run"] else ""
    if not types:
        return head + "\nno retention period applies: the policy profiles set none"
    rows = [
        [t.replace("_", " "), str(len(deleted.get(t, []))), str(len(held.get(t, []))),
         _ids(deleted.get(t, [])) or "-", _ids(held.get(t, [])) or "-"]
        for t in types
    ]  # fmt: skip
    lines = _table(["record type", verb, "kept by a legal hold", f"ids {verb}", "ids kept"], rows)
    return "\n".join([head, *(f"  {line}" for line in lines)])


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted; change nothing.")
@token_option
@json_option
@click.pass_context
def retention_run(ctx: click.Context, dry_run: bool, token: str | None, as_json: bool) -> None:
    """Delete what has outlived its retention period (admins): probe photos, candidate
    lists, templates (from the database and the index files), subjects past the
    last-interaction limit, subjects of consent galleries whose consent ended, expired
    watchlist entries' templates, alerts nobody confirmed and old incident records (with
    their face crops).

    Periods come from the active policy profile (a gallery may set its own template period
    with `facedocket gallery retention`). Whatever a legal hold covers is kept and counted.
    An admin of the operator agency runs it for every agency, another admin for their own.
    Prints, per record type, what was deleted (with --dry-run: what would be) and what holds
    kept. `facedocket serve` runs it on a schedule (FACEDOCKET_RETENTION_INTERVAL_S).
    """
    from rich.console import Console

    service, actor = _service(ctx), _actor(ctx, token)
    status = "checking retention periods (dry run)" if dry_run else "deleting expired records"
    with Console(stderr=True).status(status):
        report = service.oversight.retention_run(actor, dry_run=dry_run).as_dict()
    _show(report, as_json, _retention_text(report))


# --- subjects: create, erase, export ---------------------------------------------------------


@subject.command("create")
@click.argument("gallery_ref")
@click.argument("reference")
@click.option("--sex", help="Recorded sex, for evaluation and reporting only.")
@click.option("--birth-year", type=int, help="Recorded birth year, for evaluation only.")
@token_option
@json_option
@click.pass_context
def subject_create(
    ctx: click.Context, gallery_ref: str, reference: str, sex: str | None, birth_year: int | None,
    token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Create subject REFERENCE in a gallery (name or id) without photos (admins,
    supervisors, examiners).

    In a gallery that needs consent, record the subject's consent (`facedocket consent
    record`) before enrolling photos. Prints the subject's id.
    """
    service, actor = _service(ctx), _actor(ctx, token)
    target = service.galleries.gallery_by_name(actor, gallery_ref)
    subject_id = service.galleries.create_subject(actor, target.id, reference, sex, birth_year)
    text = f"subject {subject_id} {reference.strip()!r} created in gallery {target.id} {target.name!r}"
    _show({"id": subject_id, "gallery_id": target.id, "reference": reference.strip()}, as_json, text)


@subject.command("erase")
@click.argument("subject_id", type=int)
@click.option("--reason", required=True, help="Why: e.g. the data subject's request and its date (recorded).")
@click.option("--certificate", "certificate_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the erasure certificate here (default HOME/erasures/erasure-<id>.json).")  # fmt: skip
@token_option
@json_option
@click.pass_context
def subject_erase(
    ctx: click.Context, subject_id: int, reason: str, certificate_path: Path | None, token: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Erase SUBJECT_ID everywhere (supervisors, admins of the owning agency): its
    templates, index entries, consent records and every candidate entry that names it.

    A legal hold on the subject refuses it. The audit log keeps that the erasure happened,
    with the subject's reference only as a SHA-256. The erasure certificate (what was
    deleted, when, by whom, and the audit event that records it) is written as JSON.
    """
    certificate = _service(ctx).oversight.erase_subject(_actor(ctx, token), subject_id, reason).as_dict()
    path = certificate_path or settings_of(ctx).home / "erasures" / f"erasure-{certificate['erasure_id']}.json"
    _write_json(path, certificate)
    erased = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in certificate["erased"].items())
    text = (
        f"subject {subject_id} {certificate['subject_reference']!r} erased: {erased}\n"
        f"audit event seq {certificate['audit_event']['seq']} hash {certificate['audit_event']['hash']}\n"
        f"erasure certificate {certificate['erasure_id']} written to {path}"
    )
    _show(certificate | {"certificate_file": str(path)}, as_json, text)


@subject.command("export")
@click.argument("subject_id", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The JSON file to write (readable by you only: it holds biometric templates).")  # fmt: skip
@token_option
@click.pass_context
def subject_export(ctx: click.Context, subject_id: int, out: Path, token: str | None) -> None:
    """Export everything held about SUBJECT_ID, for an access request (supervisors, admins,
    auditors of the owning agency): the record, its templates with their vectors, consents,
    candidate appearances and legal holds. The export is recorded."""
    record = _service(ctx).oversight.export_subject(_actor(ctx, token), subject_id).as_dict()
    _write_json(out, record, private=True)
    counts = (
        f"{len(record['templates'])} template(s), {len(record['candidate_appearances'])} candidate appearance(s), "
        f"{len(record['consents'])} consent(s), {len(record['legal_holds'])} legal hold(s)"
    )
    echo(f"subject {subject_id} {record['subject']['reference']!r}: {counts}; written to {out}")


# --- consent ---------------------------------------------------------------------------------


@cli.group("consent")
def consent_group() -> None:
    """Consent records of subjects, for galleries that need a live consent per subject."""


@consent_group.command("record")
@click.argument("subject_id", type=int)
@click.option("--given-by", required=True, help='Who consented, and how, e.g. "Ann Lee (signed form 17)".')
@click.option("--purpose", required=True, help="What the consent is for.")
@click.option("--given", type=MOMENT, help="When it was given (default now).")
@click.option("--expires", type=MOMENT, help="When it ends (default: until withdrawn).")
@token_option
@json_option
@click.pass_context
def consent_record(
    ctx: click.Context, subject_id: int, given_by: str, purpose: str, given: datetime | None,
    expires: datetime | None, token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Record SUBJECT_ID's consent (admins, supervisors, examiners): who, for what purpose,
    from when, until when. Dates are YYYY-MM-DD or ISO 8601 times, UTC unless zoned."""
    service = _service(ctx)
    actor = _actor(ctx, token)
    given = given or service.clock()
    consent_id = service.oversight.record_consent(actor, subject_id, given_by, purpose, given, expires)
    until = f"until {expires.isoformat()}" if expires else "until withdrawn"
    data = {"id": consent_id, "subject_id": subject_id, "given": given, "expires": expires}
    _show(data, as_json, f"consent {consent_id} recorded for subject {subject_id}, {until}")


@consent_group.command("withdraw")
@click.argument("subject_id", type=int)
@token_option
@json_option
@click.pass_context
def consent_withdraw(ctx: click.Context, subject_id: int, token: str | None, as_json: bool) -> None:
    """Withdraw every live consent of SUBJECT_ID (admins, supervisors, examiners). The next
    retention run erases the subject from a gallery that needs consent."""
    count = _service(ctx).oversight.withdraw_consent(_actor(ctx, token), subject_id)
    text = f"{count} consent(s) of subject {subject_id} withdrawn"
    if count:
        text += "; the next retention run erases the subject from a gallery that needs consent"
    _show({"subject_id": subject_id, "withdrawn": count}, as_json, text)


# --- a gallery's consent rule and retention period -------------------------------------------


@gallery.command("require-consent")
@click.argument("gallery_ref")
@click.option("--off", is_flag=True, help="Stop requiring consent instead.")
@token_option
@click.pass_context
def gallery_require_consent(ctx: click.Context, gallery_ref: str, off: bool, token: str | None) -> None:
    """Make enrolment into a gallery (name or id) need a live consent for each subject
    (admins, supervisors); --off lifts it.

    While it is on, photos of a subject without a live consent are not enrolled (outcome
    no-consent), and each retention run erases the gallery's subjects without a live
    consent: turned on for a gallery that holds subjects, the next run erases every one
    with no consent on record (see `facedocket retention run --dry-run`).
    """
    service, actor = _service(ctx), _actor(ctx, token)
    target = service.galleries.gallery_by_name(actor, gallery_ref)
    service.galleries.require_consent(actor, target.id, not off)
    state = "no longer needs consent" if off else "now needs a live consent for each subject"
    echo(f"gallery {target.id} {target.name!r} {state}")


@gallery.command("retention")
@click.argument("gallery_ref")
@click.argument("days", type=click.IntRange(min=0), required=False)
@click.option("--policy", "use_policy", is_flag=True, help="Use the policy profile's template period instead.")
@token_option
@click.pass_context
def gallery_retention(
    ctx: click.Context, gallery_ref: str, days: int | None, use_policy: bool, token: str | None
) -> None:
    """Keep a gallery's templates DAYS days after enrolment (admins, supervisors), or with
    --policy the active policy profile's period. The retention run deletes older ones."""
    if (days is None) == (not use_policy):
        raise click.UsageError("give DAYS or --policy, not both")
    service, actor = _service(ctx), _actor(ctx, token)
    target = service.galleries.gallery_by_name(actor, gallery_ref)
    service.galleries.set_gallery_retention(actor, target.id, None if use_policy else days)
    period = "the policy profile's period" if use_policy else f"{days} day(s)"
    echo(f"gallery {target.id} {target.name!r} keeps its templates {period}")
