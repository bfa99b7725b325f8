"""`make demo`: the main job, from nothing, on the embedded default (SQLite + exact index),
under the accountability rules of a real policy profile.

1. a fresh data directory, database and operator agency with an admin, who activates the
   ``massachusetts-2020`` policy profile;
2. a requester, a supervisor, an examiner and an auditor;
3. a gallery enrolled from sample photos (several hundred when ../shared/faces/dev is
   there; see scripts/samples.py for where photos come from), holding back one photo;
4. for the held-back photo of an enrolled person, then for a photo of a person who is not
   enrolled: a case, a written request with its court order, submitted; the supervisor
   approves; the examiner searches and the candidate list is printed with the number of
   false candidates expected at each score; the examiner reviews the candidates, concludes
   (``lead`` / ``no-lead``) and the requester closes the request; the case file is
   exported as HTML;
5. the audit chain is verified;
6. the data directory is kept, and the demo ends by printing how to open it in the browser:
   ``make serve DATA=<it>``, the URL, and each demo user with a temporary first password
   (it works once: at first sign-in they choose their own).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from samples import sample_root

from facedocket.config import Settings
from facedocket.governance.policy import shipped_profiles
from facedocket.oversight.evaluation import list_identities
from facedocket.service import Actor, EnrolItem, RequestDraft, SearchResult, Service, open_service

MAX_ENROLLED_PEOPLE = 150
PROFILE = "massachusetts-2020"
ROLES = ("requester", "supervisor", "examiner", "auditor")


def plan(root: Path) -> tuple[list[EnrolItem], Path, str, Path, str]:
    """(photos to enrol, held-back probe and its person, outsider probe and person)."""
    identities = list_identities(root)
    names = list(identities)
    mated = next(n for n in names if len(identities[n]) >= 2)
    outsider = names[-1] if len(names) > MAX_ENROLLED_PEOPLE else next(n for n in reversed(names) if n != mated)
    enrolled = [n for n in names[:MAX_ENROLLED_PEOPLE] if n != outsider]
    items = [
        EnrolItem(reference=n, source=str(p))
        for n in enrolled
        for p in (identities[n][:-1] if n == mated else identities[n])
    ]
    return items, identities[mated][-1], mated, identities[outsider][0], outsider


def show(console: Console, title: str, result: SearchResult) -> None:
    """The candidate table: rank, subject, score, false candidates expected at that score."""
    searched = f"threshold {result.threshold:.4f}; {result.gallery_size} templates searched"
    if result.empty:
        console.print(f"{title}: [bold]no candidate above threshold[/bold] ({searched})")
        return
    table = Table(title=title, caption=f"{result.label}; {searched}")
    for column in ("rank", "candidate", "subject", "score", "expected false candidates"):
        table.add_column(column)
    for c in result.candidates:
        expected = "n/a" if c.expected_false is None else f"{c.expected_false:.3g}"
        table.add_row(str(c.rank), str(c.id), c.subject_reference or "?", f"{c.score:.4f}", expected)
    console.print(table)


def one_request(
    console: Console,
    service: Service,
    staff: dict[str, Actor],
    gallery_id: int,
    number: str,
    photo: Path,
    person: str,
    about: str,
    order: Path,
    out: Path,
) -> None:
    """The written-request workflow for one probe photo, from case to case file."""
    requester, supervisor, examiner = staff["requester"], staff["supervisor"], staff["examiner"]
    case = service.requests.create_case(requester, number, "robbery", "armed robbery of a convenience store")
    draft = RequestDraft(
        case.id, "court-order", "CCTV still of the suspect at the till", document_type="court order",
        document_reference=f"{number}-CO", document_issuer="Suffolk Superior Court", document_date="2026-11-20",
        document_sha256=hashlib.sha256(order.read_bytes()).hexdigest(), galleries=[gallery_id],
    )  # fmt: skip
    request = service.requests.file_request(requester, draft, photo.read_bytes(), submit=True,
                                            document=order.read_bytes())  # fmt: skip
    console.print(f"request {request.id} (case {number}, court order): filed and submitted by {requester.username}")
    service.requests.decide_request(
        supervisor, request.id, True, "court order on specific and articulable facts checked"
    )
    console.print(f"request {request.id}: approved by {supervisor.username}")
    result = service.searches.search(examiner, request.id)
    show(console, f"Search {result.id} under request {request.id}: {person} ({about})", result)
    # The examiner compares each candidate with the probe; the demo knows who is who.
    for c in result.candidates:
        verdict = "possible-match" if c.subject_reference == person else "not-a-match"
        why = "same facial features on side-by-side comparison" if verdict == "possible-match" else "different person"
        service.review.review_candidate(examiner, request.id, c.id, verdict, why)
        console.print(f"  review of candidate {c.id} ({c.subject_reference}) by {examiner.username}: {verdict}")
    concluded = service.review.conclude_request(examiner, request.id)
    closed = service.requests.close_request(requester, request.id)
    console.print(f"request {request.id}: outcome [bold]{concluded.outcome}[/bold], {closed.status}")
    path = out / f"request-{request.id}.html"
    path.write_text(service.reports.export_request(requester, request.id), encoding="utf-8")
    console.print(f"case file: {path}\n")


def browser_note(console: Console, service: Service, admin: Actor, home: Path) -> None:
    """How to open what the demo did in the browser: each demo user gets a temporary first
    password (it works once: at first sign-in they choose their own)."""
    settings = service.settings
    table = Table(title="Demo users for the web UI", caption="each first password works once: choose your own")
    for column in ("username", "role", "first password"):
        table.add_column(column)
    for user in service.accounts.list_users(admin):
        table.add_row(user.username, user.role, service.signin.set_password(admin, user.id))
    console.print(table)
    console.print(
        f"Open it in the browser: [bold]make serve DATA={home}[/bold], then http://{settings.host}:{settings.port}/"
    )
    console.print("(the demo runs with the public development secrets: never put real data in it)")


def main() -> None:
    console = Console()
    root, origin = sample_root()
    out = Path(tempfile.mkdtemp(prefix="facedocket-demo-"))
    home = out / "data"
    service = open_service(Settings(home=home))
    console.print(f"[bold]FaceDocket demo[/bold]: data directory {home}, photos from {origin}")
    admin = service.accounts.authenticate(service.accounts.bootstrap("State Police", "admin").secret)
    profile = PROFILE if PROFILE in shipped_profiles() else shipped_profiles()[0]
    active = service.policy.activate_policy(admin, profile)
    console.print(f"policy profile: {active.name} ({active.title})")
    staff = {}
    for role in ROLES:
        _, activation = service.accounts.create_user(admin, f"{role}1", role)
        # the admin hands over the activation token; the user makes their own token with it
        own = service.accounts.create_token(service.accounts.authenticate(activation.secret), name="demo")
        staff[role] = service.accounts.authenticate(own.secret)
    gallery = service.galleries.create_gallery(admin, "booking-photos", f"sample photos ({origin})", "demonstration")
    items, held_back, mated, outsider_photo, outsider = plan(root)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("enrolling", total=len(items))
        report = service.enrolment.enroll(
            staff["examiner"], gallery.id, items, progress=lambda n: progress.advance(task, n)
        )
    counts = {k: v for k, v in report.as_dict()["counts"].items() if v}  # type: ignore[attr-defined]
    console.print(f"enrolled {len(items)} photos in {report.seconds:.1f} s: {counts}\n")
    order = out / "court-order.txt"
    order.write_text("Suffolk Superior Court: order authorising a facial recognition search (demo)\n")
    for number, photo, person, about in (
        ("DEMO-2026-0001", held_back, mated, "held-back photo of an enrolled person"),
        ("DEMO-2026-0002", outsider_photo, outsider, "not enrolled"),
    ):
        one_request(console, service, staff, gallery.id, number, photo, person, about, order, out)
    check = service.audit.verify_audit(staff["auditor"])
    state = "ok" if check.ok else f"BROKEN at seq {check.broken_at}: {check.reason}"
    console.print(f"audit verify: {state}; {check.events} events, head seq {check.head_seq} hash {check.head_hash}")
    console.print(f"case files kept in {out}\n")
    browser_note(console, service, admin, home)
    service.close()


if __name__ == "__main__":
    main()
