"""Service commands: init, serve, galleries, enrolment, subjects, search, verify, searches,
index. Each calls one service method. Agencies, users and tokens are in
:mod:`facedocket.cli.accounts`, the request workflow (cases, requests, reviews) in
:mod:`facedocket.cli.requests`, the audit log in :mod:`facedocket.cli.audit`.

Commands act as the user whose token is given by ``--token``, ``FACEDOCKET_TOKEN``, or
(after ``facedocket init``) the admin token saved in ``HOME/token``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from facedocket.cli import cli
from facedocket.cli.common import ID, _echo_json, _progress, echo, settings_of, write_private
from facedocket.errors import Unauthorized
from facedocket.service import (
    EMPTY_LABEL,
    LEAD_LABEL,
    Actor,
    SearchResult,
    Service,
    open_service,
    read_source,
)
from facedocket.service.inputs import MAX_ID
from facedocket.vision.models import DEFAULT_MODEL_ID

TOKEN_FILE = "token"


def _service(ctx: click.Context) -> Service:
    root = ctx.find_root()
    service = root.meta.get("facedocket.service")
    if service is None:
        service = open_service(settings_of(ctx))
        root.meta["facedocket.service"] = service
        root.call_on_close(service.close)
    assert isinstance(service, Service)
    return service


def _actor(ctx: click.Context, token: str | None) -> Actor:
    secret = token or os.environ.get("FACEDOCKET_TOKEN")
    saved = settings_of(ctx).home / TOKEN_FILE
    if not secret and saved.is_file():
        secret = saved.read_text().strip()
    if not secret:
        raise Unauthorized("no token: pass --token, set FACEDOCKET_TOKEN, or run `facedocket init` first")
    return _service(ctx).accounts.authenticate(secret)


def _plain(value: Any) -> Any:
    """Dataclasses, lists and dicts as JSON-ready data (times as ISO 8601 text)."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _show(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        _echo_json(_plain(data))
    else:
        echo(text)


token_option = click.option("--token", envvar="FACEDOCKET_TOKEN", help="API token to act as (fd_...).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@cli.command()
@click.option("--agency", default="Operator", show_default=True, help="Name of the first (operator) agency.")
@click.option("--admin", "admin_username", default="admin", show_default=True, help="First admin's username.")
@click.pass_context
def init(ctx: click.Context, agency: str, admin_username: str) -> None:
    """Create the data directory, the database, the first agency and its admin.

    The admin's token is printed once and saved to HOME/token (readable by you only), so
    the other commands work on this machine without --token. A temporary password for the
    web UI (`facedocket serve`, then /signin) is printed once too: it works once, to choose
    the admin's own password.
    """
    settings = settings_of(ctx)
    service = _service(ctx)
    issued = service.accounts.bootstrap(agency, admin_username)
    path = settings.home / TOKEN_FILE
    write_private(path, issued.secret + "\n")
    admin = service.accounts.authenticate(issued.secret)
    temporary = service.signin.set_password(admin, admin.user_id)
    echo(f"created {settings.resolved_database_url()} with agency {agency!r} and admin {admin_username!r}")
    echo(f"web UI: `facedocket serve`, then sign in at http://{settings.host}:{settings.port}/ as "
         f"{admin_username!r} with the temporary password {temporary} (it works once)")  # fmt: skip
    echo(f"admin token (shown once, saved to {path}): {issued.secret}")


@cli.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port (default 8000).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Start the web UI (at /) and the REST API (under /api/v1; OpenAPI at /docs).

    People sign in to the web UI with a password (`facedocket user password USER_ID` sets a
    temporary one); programs use API tokens. Over TLS (a reverse proxy) the session cookie is
    sent Secure.
    """
    import uvicorn

    from facedocket.api import create_app

    settings = settings_of(ctx)
    app = create_app(settings, _service(ctx))
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info")


# --- galleries, enrolment, subjects, index ---------------------------------------------------


@cli.group()
def gallery() -> None:
    """Galleries: named sets of enrolled templates with a declared source and purpose."""


@gallery.command("create")
@click.argument("name")
@click.option("--source", required=True, help='Where the photos come from, e.g. "RMV licence photos".')
@click.option("--purpose", required=True, help="What the gallery may be searched for.")
@click.option("--index", "index_kind", type=click.Choice(["auto", "exact", "hnsw"]), default="auto",
              show_default=True, help="Vector index kind (auto: exact below 50,000 templates).")  # fmt: skip
@click.option("--photos/--no-photos", "keep_photos", default=None,
              help="Keep each subject's enrolment photo and face crop (encrypted) for examiners to compare "
                   "candidates with; default: what the policy profile allows.")  # fmt: skip
@click.option("--model", "model_id", default=DEFAULT_MODEL_ID, show_default=True,
              help="Template model of its templates, for good (see `facedocket model list`).")  # fmt: skip
@token_option
@json_option
@click.pass_context
def gallery_create(
    ctx: click.Context,
    name: str,
    source: str,
    purpose: str,
    index_kind: str,
    model_id: str,
    keep_photos: bool | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Create gallery NAME in your agency.

    Its templates are made with --model: the default is the most accurate model measured
    (docs/models.md). Changing it later means `facedocket gallery reembed`.
    """
    info = _service(ctx).galleries.create_gallery(_actor(ctx, token), name, source, purpose, index_kind, model_id,
                                                  keep_photos=keep_photos)  # fmt: skip
    _show(info, as_json, f"gallery {info.id} {info.name!r} created (model {info.model_id}); {info.photos_note}")


@gallery.command("photos")
@click.argument("gallery_ref")
@click.option("--keep/--stop", required=True,
              help="Keep enrolment photos from now on, or stop and delete the ones the gallery holds.")  # fmt: skip
@token_option
@click.pass_context
def gallery_photos(ctx: click.Context, gallery_ref: str, keep: bool, token: str | None) -> None:
    """Whether gallery GALLERY_REF (name or id) keeps enrolment photos (admins, supervisors).

    Stopping deletes the photos and crops it holds; keeping them under a policy profile that
    forbids it (retention.keep_enrolment_photos) is refused.
    """
    service, actor = _service(ctx), _actor(ctx, token)
    info = service.galleries.set_keep_photos(actor, service.galleries.gallery_by_name(actor, gallery_ref).id, keep)
    echo(info.photos_note)


@gallery.command("list")
@token_option
@json_option
@click.pass_context
def gallery_list(ctx: click.Context, token: str | None, as_json: bool) -> None:
    """List galleries your agency owns or may search."""
    galleries = _service(ctx).galleries.list_galleries(_actor(ctx, token))
    lines = [
        f"{g.id}\t{g.name}\t{g.subjects} subjects\t{g.templates} templates\t{g.model_id}"
        f"\t{'owned' if g.owned else 'shared with you'}"
        for g in galleries
    ]
    _show(galleries, as_json, "\n".join(lines) or "no galleries")


@gallery.command("show")
@click.argument("gallery_ref")
@token_option
@click.pass_context
def gallery_show(ctx: click.Context, gallery_ref: str, token: str | None) -> None:
    """Show a gallery (by name or id) as JSON."""
    _echo_json(_plain(_service(ctx).galleries.gallery_by_name(_actor(ctx, token), gallery_ref)))


@gallery.command("share")
@click.argument("gallery_ref")
@click.option("--agency", "agency_id", type=ID, required=True, help="Agency id to share with.")
@click.option("--revoke", is_flag=True, help="Stop sharing instead.")
@token_option
@click.pass_context
def gallery_share(ctx: click.Context, gallery_ref: str, agency_id: int, revoke: bool, token: str | None) -> None:
    """Let another agency search a gallery of yours (or stop it with --revoke)."""
    service, actor = _service(ctx), _actor(ctx, token)
    info = service.galleries.share_gallery(
        actor, service.galleries.gallery_by_name(actor, gallery_ref).id, agency_id, not revoke
    )
    echo(f"gallery {info.id} shared with agencies: {list(info.shared_with) or 'none'}")


INDEX_NOT_WRITTEN = 3
"""Exit status of `enroll` when everything was committed but the index or outcome file could not be written."""


@cli.command()
@click.argument("gallery_ref")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--outcomes", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV of per-image outcomes (default HOME/enrolment/<gallery>-outcomes.csv).")  # fmt: skip
@click.option("--batch-size", type=int, default=32, show_default=True, help="Images per transaction.")
@token_option
@json_option
@click.pass_context
def enroll(
    ctx: click.Context, gallery_ref: str, path: Path, outcomes: Path | None, batch_size: int,
    token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Enrol PATH into a gallery: a folder with one sub-folder per subject, or a CSV
    manifest (subject, image[, sex, birth_year, ...]).

    Resumable: photos already in the gallery (same SHA-256) are skipped. Every photo gets
    an outcome: enrolled, already-enrolled, duplicate, no-face, several-faces,
    below-quality or invalid-image.

    Exit status 0 when done; 1 on an error (the photos of earlier batches stay enrolled:
    run it again to go on); 3 when everything was enrolled and committed but the gallery's
    index file or the outcome file could not be written (the message names it; the index
    is rebuilt from the database, or run `facedocket index rebuild`).
    """
    service, actor = _service(ctx), _actor(ctx, token)
    target = service.galleries.gallery_by_name(actor, gallery_ref)
    items = read_source(path)
    outcomes = outcomes or settings_of(ctx).home / "enrolment" / f"gallery-{target.id}-outcomes.csv"
    with _progress(len(items), f"enrolling into {target.name}") as advance:
        report = service.enrolment.enroll(actor, target.id, items, outcomes, advance, batch_size)
    summary = ", ".join(f"{k} {v}" for k, v in report.as_dict()["counts"].items() if v)  # type: ignore[attr-defined]
    _show(report.as_dict(), as_json, f"{len(items)} photos: {summary}; outcomes in {outcomes}")
    for warning in report.warnings:
        echo(f"Warning: the enrolment is committed, but {warning}", err=True)
    if report.warnings:
        sys.exit(INDEX_NOT_WRITTEN)


@cli.group()
def subject() -> None:
    """Subjects (person records) of a gallery."""


@subject.command("list")
@click.argument("gallery_ref")
@click.option("--offset", type=click.IntRange(0, MAX_ID), default=0, help="Skip this many.")
@click.option("--limit", type=int, default=100, help="Show at most this many.")
@token_option
@json_option
@click.pass_context
def subject_list(
    ctx: click.Context, gallery_ref: str, offset: int, limit: int, token: str | None, as_json: bool
) -> None:
    """List a gallery's subjects."""
    service, actor = _service(ctx), _actor(ctx, token)
    subjects = service.galleries.list_subjects(
        actor, service.galleries.gallery_by_name(actor, gallery_ref).id, offset, limit
    )
    _show(subjects, as_json, "\n".join(f"{s.id}\t{s.reference}\t{s.templates} templates" for s in subjects))


@subject.command("delete")
@click.argument("subject_id", type=ID)
@token_option
@click.pass_context
def subject_delete(ctx: click.Context, subject_id: int, token: str | None) -> None:
    """Delete a subject and its templates from the database and the index."""
    n = _service(ctx).galleries.delete_subject(_actor(ctx, token), subject_id)
    echo(f"subject {subject_id} deleted with {n} template(s)")


@cli.group()
def index() -> None:
    """Vector indexes (rebuilt from the database whenever needed)."""


@index.command("rebuild")
@click.argument("gallery_ref")
@token_option
@click.pass_context
def index_rebuild(ctx: click.Context, gallery_ref: str, token: str | None) -> None:
    """Rebuild a gallery's index from the database."""
    service, actor = _service(ctx), _actor(ctx, token)
    target = service.galleries.gallery_by_name(actor, gallery_ref)
    echo(f"gallery {target.id}: index rebuilt with {service.galleries.rebuild_index(actor, target.id)} templates")


# --- search and verify -------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Plain-text columns, left-aligned, two spaces apart."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
    return ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip() for row in [headers, *rows]]


def _expected(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _print_result(result: SearchResult, as_json: bool) -> None:
    """The candidate list as a table: rank, candidate id (for `request review`), subject,
    score, and how many false candidates a gallery of this size is expected to hold at that
    score; always labelled an investigative lead."""
    if as_json:
        _echo_json(_plain(result) | {"summary": result.summary})
        return
    what = "1:1 verification" if result.kind == "verify" else "search"
    echo(f"search {result.id} ({what}) under request {result.request_id}, case {result.case_number}")
    for use in result.models:
        echo(f"model {use.model_id}: threshold {use.threshold:.4f}, {use.gallery_size} templates compared")
    echo(f"{result.gallery_size} templates compared in {result.duration_ms:.1f} ms")
    if result.purged:
        echo("the request was purged: its probe and candidates were deleted")
        return
    if result.empty:
        echo(EMPTY_LABEL)
        return
    echo(f"candidates for trained human review: {LEAD_LABEL}")
    several = len(result.models) > 1
    rows = [
        [
            str(c.rank),
            str(c.id),
            c.subject_reference or "(deleted subject)",
            f"{c.score:.4f}",
            *([c.model_id] if several else []),
            _expected(c.expected_false),
        ]
        for c in result.candidates
    ]
    headers = ["rank", "candidate", "subject", "score", *(["model"] if several else []), "expected false candidates"]
    for line in _table(headers, rows):
        echo(f"  {line}")


threshold_option = click.option(
    "--threshold", "thresholds", multiple=True, metavar="[MODEL=]SCORE",
    help="Score threshold (default: your agency's calibration, else the model card's; the policy sets a floor). "
    "For galleries of several template models give one per model, e.g. --threshold sface-2021dec=0.45 "
    "(repeatable).",
)  # fmt: skip


def _thresholds(given: tuple[str, ...]) -> float | dict[str, float] | None:
    """--threshold values as the service takes them: None, one score, or a score per model."""
    if not given:
        return None
    per_model: dict[str, float] = {}
    for item in given:
        model, equals, score = item.rpartition("=")
        try:
            value = float(score)
        except ValueError:
            raise click.BadParameter(f"{item!r} is not SCORE or MODEL=SCORE", param_hint="--threshold") from None
        if not equals:
            if len(given) > 1:
                raise click.BadParameter("give one SCORE, or MODEL=SCORE per model", param_hint="--threshold")
            return value
        per_model[model] = value
    return per_model


face_option = click.option("--face", type=int, help="Face N of the probe when it shows several.")


@cli.command()
@click.argument("request_id", type=ID)
@click.option("--gallery", "galleries", multiple=True,
              help="Gallery name or id (repeatable); default: the galleries the request names.")  # fmt: skip
@click.option("-k", "--k", "k", type=int, help="Most candidates to return (default 10; the policy sets a maximum).")
@threshold_option
@face_option
@token_option
@json_option
@click.pass_context
def search(
    ctx: click.Context, request_id: int, galleries: tuple[str, ...], k: int | None, thresholds: tuple[str, ...],
    face: int | None, token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Search the probe of request REQUEST_ID against galleries (examiners, supervisors).

    The request must be addressed to your agency and, unless it is an emergency under the
    active policy, approved. The policy is checked first: a refusal names every failed rule.

    Prints a ranked candidate list for trained human review, each candidate with the number
    of false candidates expected at its score: an investigative lead, not a positive
    identification. "no candidate above threshold" is a normal result. Review the
    candidates with `facedocket request review`.

    The probe is embedded with each gallery's template model and compared only with
    templates of that model, at that model's threshold; a list mixing models is ranked by
    the false-match rate each model's calibration gives the score.
    """
    service, actor = _service(ctx), _actor(ctx, token)
    ids = [service.galleries.gallery_by_name(actor, g).id for g in galleries] or None
    _print_result(service.searches.search(actor, request_id, ids, k, _thresholds(thresholds), face), as_json)


@cli.command()
@click.argument("request_id", type=ID)
@click.argument("subject_id", type=ID)
@threshold_option
@face_option
@token_option
@json_option
@click.pass_context
def verify(
    ctx: click.Context, request_id: int, subject_id: int, thresholds: tuple[str, ...], face: int | None,
    token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Compare the probe of request REQUEST_ID with one subject's templates (1:1).

    The same rules as `facedocket search` apply. A score at or above the threshold gives one
    candidate (an investigative lead, not a positive identification); otherwise "no
    candidate above threshold".
    """
    service, actor = _service(ctx), _actor(ctx, token)
    _print_result(service.searches.verify(actor, request_id, subject_id, _thresholds(thresholds), face), as_json)


@cli.group()
def searches() -> None:
    """Past searches and verifications of your agency."""


@searches.command("list")
@click.option("--limit", type=int, default=50, help="Show at most this many.")
@token_option
@json_option
@click.pass_context
def searches_list(ctx: click.Context, limit: int, token: str | None, as_json: bool) -> None:
    """List your agency's searches, newest first."""
    rows = _service(ctx).searches.list_searches(_actor(ctx, token), limit)
    if as_json:
        _echo_json(_plain(rows))
        return
    for r in rows:
        echo(
            f"{r.id}\t{r.kind}\trequest {r.request_id}\tcase {r.case_number}\t{len(r.candidates)} candidate(s)"
            f"\t{r.created:%Y-%m-%d %H:%M}"
        )


@searches.command("show")
@click.argument("search_id", type=ID)
@token_option
@json_option
@click.pass_context
def searches_show(ctx: click.Context, search_id: int, token: str | None, as_json: bool) -> None:
    """Show one search with its candidates."""
    _print_result(_service(ctx).searches.get_search(_actor(ctx, token), search_id), as_json)
