"""Request-workflow commands: ``policy activate``, cases, written requests (file, submit, approve or deny, show,
list, probe, expire), candidate review (review, reviews, conclude), close and the case
export. Each calls one service method; ``facedocket search`` and ``facedocket verify``
(in :mod:`facedocket.cli.service`) run under a request made here.

The workflow::

    facedocket case create 2026-0412 --offence-category robbery           # requester
    facedocket request file --case 1 --legal-basis court-order \\
        --justification "..." --document-file order.pdf --submit probe.jpg  # requester
    facedocket request approve 1 --reason "..."                            # supervisor
    facedocket search 1                                                    # examiner
    facedocket request review 1 CANDIDATE --disposition possible-match --rationale "..."
    facedocket request conclude 1                                          # examiner
    facedocket request close 1                                             # requester
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from facedocket.cli import cli
from facedocket.cli.common import ID, _echo_json, echo
from facedocket.cli.policy import policy as policy_group
from facedocket.cli.service import (
    _actor,
    _plain,
    _print_result,
    _service,
    _show,
    _table,
    json_option,
    token_option,
)
from facedocket.service import CaseInfo, RequestDraft, RequestInfo, ReviewInfo
from facedocket.vocab import DISPOSITIONS, LEGAL_BASES, OFFENCE_CATEGORIES, PROBE_SOURCES

STATUSES = ("draft", "submitted", "approved", "denied", "searched", "reviewed", "closed", "expired")


def _when(moment: object) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S %Z}".strip()


# --- policy ----------------------------------------------------------------------------------


@policy_group.command("activate")
@click.argument("profile", metavar="NAME|FILE")
@click.option("--agency", "agency_id", type=ID,
              help="Activate it for this agency (operator admins only); default your own.")  # fmt: skip
@token_option
@json_option
@click.pass_context
def policy_activate(ctx: click.Context, profile: str, agency_id: int | None, token: str | None, as_json: bool) -> None:
    """Make a policy profile the one your agency's requests and searches run under (admins).

    NAME is a shipped profile (see `facedocket policy list`); FILE is a profile's TOML file.
    The profile is copied into the database: later edits to the file change nothing until
    it is activated again. The change is recorded in the audit log.
    """
    actor = _actor(ctx, token)
    activated = _service(ctx).policy.activate_policy(actor, profile, agency_id)
    target = actor.agency_id if agency_id is None else agency_id
    _show(
        {"agency_id": target, "profile": activated.model_dump(mode="json")},
        as_json,
        f"policy {activated.name!r} active for agency {target}: {activated.title}",
    )


# --- cases -----------------------------------------------------------------------------------


@cli.group("case")
def case_group() -> None:
    """Cases: the investigations that requests are filed under."""


def _case_line(case: CaseInfo) -> str:
    return f"{case.id}\t{case.number}\t{case.offence_category}\t{case.description}"


@case_group.command("create")
@click.argument("number")
@click.option("--offence-category", type=click.Choice(OFFENCE_CATEGORIES), required=True,
              help="The offence under investigation (reports count searches by it).")  # fmt: skip
@click.option("--description", default="", help="What the case is about.")
@token_option
@json_option
@click.pass_context
def case_create(
    ctx: click.Context, number: str, offence_category: str, description: str, token: str | None, as_json: bool
) -> None:
    """Open case NUMBER in your agency (requesters, examiners, supervisors).

    Prints the case id, which `facedocket request file --case` takes.
    """
    case = _service(ctx).requests.create_case(_actor(ctx, token), number, offence_category, description)
    _show(case, as_json, f"case {case.id} {case.number!r} ({case.offence_category}) created")


@case_group.command("list")
@token_option
@json_option
@click.pass_context
def case_list(ctx: click.Context, token: str | None, as_json: bool) -> None:
    """List your agency's cases (id, number, offence category, description)."""
    cases = _service(ctx).requests.list_cases(_actor(ctx, token))
    _show(cases, as_json, "\n".join(_case_line(c) for c in cases) or "no cases")


@case_group.command("show")
@click.argument("case_id", type=ID)
@token_option
@json_option
@click.pass_context
def case_show(ctx: click.Context, case_id: int, token: str | None, as_json: bool) -> None:
    """Show case CASE_ID."""
    case = _service(ctx).requests.get_case(_actor(ctx, token), case_id)
    text = (
        f"case {case.id} {case.number!r}\n  offence category  {case.offence_category}\n"
        f"  description       {case.description or '-'}\n  created           {_when(case.created)}"
    )
    _show(case, as_json, text)


# --- requests --------------------------------------------------------------------------------


@cli.group("request")
def request_group() -> None:
    """Written requests to search: file, submit, approve or deny, review, conclude, close.

    States: draft -> submitted -> approved | denied -> searched -> reviewed -> closed. On an
    emergency legal basis (per the receiving agency's policy) the search may run before
    approval; a denial, or an approval deadline that passes, purges the results.
    """


def _request_text(info: RequestInfo) -> str:
    doc = info.document
    document = ", ".join(
        f"{label} {doc[key]}" for key, label in
        (("type", "type"), ("reference", "reference"), ("issuer", "issued by"), ("date", "dated"), ("sha256", "sha256"))
        if doc.get(key)
    )  # fmt: skip
    decision = "-"
    if info.decided is not None:
        decision = f"{info.approval} by user {info.decided_by} at {_when(info.decided)}: {info.decision_reason}"
    emergency = "no"
    if info.emergency:
        emergency = f"yes; approval deadline {_when(info.deadline)}" if info.deadline else "yes"
    rows = [
        ("case", f"{info.case_number} ({info.offence_category}), case id {info.case_id}"),
        ("filed", f"by user {info.requester_id} of agency {info.agency_id} at {_when(info.created)}"),
        ("addressed to", f"agency {info.target_agency_id}"),
        ("legal basis", info.legal_basis),
        ("document", document or "-"),
        ("justification", info.justification),
        ("galleries", ", ".join(map(str, info.galleries)) or "-"),
        ("probe", f"{info.probe_source}, sha256 {info.probe_sha256}"),
        ("policy", info.policy_name or "-"),
        ("emergency", emergency),
        ("decision", decision),
        ("outcome", info.outcome or "-"),
        ("searches", ", ".join(map(str, info.searches)) or "-"),
    ]
    if info.purged is not None:
        rows.append(("purged", f"{_when(info.purged)}: probe and candidates deleted"))
    lines = [f"request {info.id}: {info.status} (approval {info.approval})"]
    lines += [f"  {label:<14} {value}" for label, value in rows]
    return "\n".join(lines)


def _status_line(info: RequestInfo, verb: str) -> str:
    line = f"request {info.id} {verb}: now {info.status}"
    if info.approval != info.status:
        line += f" (approval {info.approval})"
    if info.emergency and info.approval == "pending":
        line += "; emergency: the examiner may search before approval"
    return line


@request_group.command("file")
@click.argument("probe", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--case", "case_id", type=ID, required=True, help="Case id (see `facedocket case list`).")
@click.option("--legal-basis", type=click.Choice(LEGAL_BASES), required=True, help="The legal basis of the search.")
@click.option("--justification", required=True, help="Why this search is necessary.")
@click.option("--document-type", default="", help='The legal document, e.g. "court order".')
@click.option("--document-reference", default="", help="Its reference or docket number.")
@click.option("--document-issuer", default="", help="Who issued it (e.g. the court).")
@click.option("--document-date", default="", help="Its date, YYYY-MM-DD.")
@click.option("--document-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A copy of the document: kept with the request, encrypted, and its SHA-256 recorded.")  # fmt: skip
@click.option("--face", "probe_face", type=int,
              help="The face to search when the probe shows several (1-based, detection order; `facedocket "
                   "detect PROBE` lists them). Every search under the request uses it.")  # fmt: skip
@click.option("--gallery", "galleries", multiple=True,
              help="Gallery name or id to search (repeatable); not for requests to another agency.")  # fmt: skip
@click.option("--probe-source", type=click.Choice(PROBE_SOURCES), default="still-image", show_default=True,
              help="Where the probe photo comes from.")  # fmt: skip
@click.option("--to-agency", "to_agency", type=ID, help="Address the request to this agency's face-search unit.")
@click.option("--submit", is_flag=True, help="Submit it at once (otherwise it stays a draft).")
@token_option
@json_option
@click.pass_context
def request_file(
    ctx: click.Context, probe: Path, case_id: int, legal_basis: str, justification: str, document_type: str,
    document_reference: str, document_issuer: str, document_date: str, document_file: Path | None,
    probe_face: int | None, galleries: tuple[str, ...], probe_source: str, to_agency: int | None, submit: bool,
    token: str | None, as_json: bool,
) -> None:  # fmt: skip
    """File a written request to search the face in PROBE (requesters, examiners, supervisors).

    The probe photo is kept with the request, encrypted; a probe showing several faces needs
    --face. Submitting checks the receiving agency's policy (legal basis, required fields); a
    refusal names every failed rule.
    """
    service, actor = _service(ctx), _actor(ctx, token)
    document = document_file.read_bytes() if document_file else None
    gallery_ids = [service.galleries.gallery_by_name(actor, g).id for g in galleries]
    draft = RequestDraft(
        case_id, legal_basis, justification, document_type=document_type, document_reference=document_reference,
        document_issuer=document_issuer, document_date=document_date, galleries=gallery_ids,
        probe_source=probe_source, target_agency_id=to_agency, probe_face=probe_face,
    )  # fmt: skip
    info = service.requests.file_request(actor, draft, probe.read_bytes(), submit=submit, document=document)
    text = _status_line(info, "filed")
    if not submit:
        text += f"; submit it with `facedocket request submit {info.id}`"
    _show(info, as_json, text)


@request_group.command("submit")
@click.argument("request_id", type=ID)
@token_option
@json_option
@click.pass_context
def request_submit(ctx: click.Context, request_id: int, token: str | None, as_json: bool) -> None:
    """Submit draft REQUEST_ID for approval (its requester).

    The receiving agency's policy is checked now; a refusal names every failed rule.
    """
    info = _service(ctx).requests.submit_request(_actor(ctx, token), request_id)
    _show(info, as_json, _status_line(info, "submitted"))


@request_group.command("approve")
@click.argument("request_id", type=ID)
@click.option("--reason", required=True, help="Why the request is approved (recorded).")
@token_option
@json_option
@click.pass_context
def request_approve(ctx: click.Context, request_id: int, reason: str, token: str | None, as_json: bool) -> None:
    """Approve REQUEST_ID (a supervisor of the receiving agency; never their own request)."""
    info = _service(ctx).requests.decide_request(_actor(ctx, token), request_id, True, reason)
    _show(info, as_json, _status_line(info, "approved"))


@request_group.command("deny")
@click.argument("request_id", type=ID)
@click.option("--reason", required=True, help="Why the request is denied (recorded).")
@token_option
@json_option
@click.pass_context
def request_deny(ctx: click.Context, request_id: int, reason: str, token: str | None, as_json: bool) -> None:
    """Deny REQUEST_ID (a supervisor of the receiving agency).

    Denying an emergency request that was already searched purges its probe and candidates.
    """
    info = _service(ctx).requests.decide_request(_actor(ctx, token), request_id, False, reason)
    text = _status_line(info, "denied")
    if info.purged is not None:
        text += "; its probe and candidates were purged"
    _show(info, as_json, text)


@request_group.command("show")
@click.argument("request_id", type=ID)
@token_option
@json_option
@click.pass_context
def request_show(ctx: click.Context, request_id: int, token: str | None, as_json: bool) -> None:
    """Show REQUEST_ID with its searches, candidates and (to reviewers) reviews.

    The requesting agency of a request to another agency sees only released candidates.
    """
    service, actor = _service(ctx), _actor(ctx, token)
    info = service.requests.get_request(actor, request_id)
    results = service.searches.request_searches(actor, request_id)
    reviews: list[ReviewInfo] = []
    if info.can_see_results and actor.role in ("examiner", "supervisor", "auditor"):
        reviews = service.review.list_reviews(actor, request_id)
    if as_json:
        _echo_json({"request": _plain(info), "searches": _plain(results), "reviews": _plain(reviews)})
        return
    echo(_request_text(info))
    for result in results:
        echo("")
        _print_result(result, False)
    if reviews:
        echo("")
        echo("reviews:")
        for line in _review_table(reviews):
            echo(f"  {line}")


@request_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only requests in this state.")
@click.option("--limit", type=int, default=100, show_default=True, help="Show at most this many.")
@token_option
@json_option
@click.pass_context
def request_list(ctx: click.Context, status: str | None, limit: int, token: str | None, as_json: bool) -> None:
    """List requests your agency filed or received, newest first."""
    rows = _service(ctx).requests.list_requests(_actor(ctx, token), status, limit)
    lines = _table(
        ["id", "status", "approval", "case", "legal basis", "from", "to", "outcome", "filed"],
        [
            [str(r.id), r.status, r.approval, r.case_number, r.legal_basis, str(r.agency_id), str(r.target_agency_id),
             r.outcome or "-", f"{r.created:%Y-%m-%d %H:%M}"]
            for r in rows
        ],
    )  # fmt: skip
    _show(rows, as_json, "\n".join(lines) if rows else "no requests")


@request_group.command("probe")
@click.argument("request_id", type=ID)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Write the probe photo to this file.")  # fmt: skip
@token_option
@click.pass_context
def request_probe(ctx: click.Context, request_id: int, out: Path, token: str | None) -> None:
    """Save the probe photo of REQUEST_ID to a file (every view is recorded)."""
    data = _service(ctx).requests.probe_image(_actor(ctx, token), request_id)
    out.write_bytes(data)
    echo(f"probe of request {request_id} ({len(data)} bytes) written to {out}")


@request_group.command("expire")
@json_option
@click.pass_context
def request_expire(ctx: click.Context, as_json: bool) -> None:
    """Run the deadline job: expire and purge emergency requests whose approval deadline passed.

    Needs no token (it only enforces deadlines; the audit log records it as `system`), so a
    scheduler such as cron can run it. Searches and decisions run it too.
    """
    expired = _service(ctx).requests.expire_overdue()
    text = f"expired and purged: {', '.join(f'request {i}' for i in expired)}" if expired else "nothing expired"
    _show({"expired": expired}, as_json, text)


# --- review --------------------------------------------------------------------------------


def _review_table(reviews: list[ReviewInfo]) -> list[str]:
    rows = [
        [str(r.id), str(r.candidate_id), r.reviewer, r.stage, r.disposition, r.rationale, f"{r.created:%Y-%m-%d %H:%M}"]
        for r in reviews
    ]
    return _table(["review", "candidate", "reviewer", "stage", "disposition", "rationale", "time"], rows)


@request_group.command("review")
@click.argument("request_id", type=ID)
@click.argument("candidate_id", type=ID)
@click.option("--disposition", type=click.Choice(DISPOSITIONS), required=True, help="Your decision on the candidate.")
@click.option("--rationale", required=True, help="Why (what you compared); recorded.")
@token_option
@json_option
@click.pass_context
def request_review(
    ctx: click.Context, request_id: int, candidate_id: int, disposition: str, rationale: str, token: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Record your disposition of candidate CANDIDATE_ID of REQUEST_ID (examiners, supervisors).

    Candidate ids are in the search output and in `facedocket request show`. Under a
    two-person rule a second, different reviewer decides blind; a disagreement goes to a
    supervisor.
    """
    review = _service(ctx).review.review_candidate(_actor(ctx, token), request_id, candidate_id, disposition, rationale)
    _show(review, as_json, f"review {review.id}: candidate {review.candidate_id} {review.disposition} ({review.stage})")


@request_group.command("reviews")
@click.argument("request_id", type=ID)
@token_option
@json_option
@click.pass_context
def request_reviews(ctx: click.Context, request_id: int, token: str | None, as_json: bool) -> None:
    """List the reviews of REQUEST_ID (a first decision stays hidden until the second is in)."""
    reviews = _service(ctx).review.list_reviews(_actor(ctx, token), request_id)
    _show(reviews, as_json, "\n".join(_review_table(reviews)) if reviews else "no reviews")


@request_group.command("conclude")
@click.argument("request_id", type=ID)
@click.option("--release", "release", type=ID, multiple=True,
              help="Candidate id to release to the requester (repeatable); default: the possible matches.")  # fmt: skip
@token_option
@json_option
@click.pass_context
def request_conclude(
    ctx: click.Context, request_id: int, release: tuple[int, ...], token: str | None, as_json: bool
) -> None:
    """Conclude the review of REQUEST_ID once every candidate is decided.

    The outcome is `lead` when any candidate is a possible match, else `no-lead` (an empty
    candidate list is a no-lead).
    """
    service, actor = _service(ctx), _actor(ctx, token)
    info = service.review.conclude_request(actor, request_id, list(release) if release else None)
    released = [c.id for r in service.searches.request_searches(actor, request_id) for c in r.candidates if c.released]
    text = _status_line(info, "concluded") + f"; outcome {info.outcome}"
    text += f"; released candidates: {', '.join(map(str, released)) or 'none'}"
    _show(info, as_json, text)


@request_group.command("close")
@click.argument("request_id", type=ID)
@token_option
@json_option
@click.pass_context
def request_close(ctx: click.Context, request_id: int, token: str | None, as_json: bool) -> None:
    """Close reviewed, approved request REQUEST_ID (its requester or a supervisor)."""
    info = _service(ctx).requests.close_request(_actor(ctx, token), request_id)
    _show(info, as_json, _status_line(info, "closed") + f"; outcome {info.outcome}")


@request_group.command("export")
@click.argument("request_id", type=ID)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write.")  # fmt: skip
@token_option
@click.pass_context
def request_export(ctx: click.Context, request_id: int, out: Path, token: str | None) -> None:
    """Write the case file of REQUEST_ID as one self-contained HTML file.

    It holds the request, its legal basis, the probe (unless purged), every search with its
    candidates, the reviews and the request's audit events with their hashes. The export is
    recorded with the file's SHA-256.
    """
    text = _service(ctx).reports.export_request(_actor(ctx, token), request_id)
    out.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    echo(f"case file of request {request_id} written to {out} (sha256 {digest})")
