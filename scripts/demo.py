"""`make demo`: the main job, from nothing, on the embedded default (SQLite + exact index).

1. a fresh data directory, database and operator agency with an admin;
2. an examiner;
3. a gallery enrolled from sample photos (several hundred when ../shared/faces/dev is
   there; see scripts/samples.py for where photos come from), holding back one photo;
4. a written request (case, offence, legal basis, justification);
5. a search with the held-back photo of an enrolled person, and one with a photo of a
   person who is not enrolled; both candidate lists printed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from samples import sample_root

from facedocket.config import Settings
from facedocket.oversight.evaluation import list_identities
from facedocket.service import EnrolItem, RequestFields, SearchResult, open_service

MAX_ENROLLED_PEOPLE = 150


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
    table = Table(title=title, caption=f"{result.label}; threshold {result.threshold:.3f}")
    for column in ("rank", "subject", "score"):
        table.add_column(column)
    for c in result.candidates:
        table.add_row(str(c.rank), c.subject_reference or "?", f"{c.score:.4f}")
    if result.empty:
        table.add_row("-", "no candidate above threshold", "-")
    console.print(table)


def main() -> None:
    console = Console()
    root, origin = sample_root()
    home = Path(tempfile.mkdtemp(prefix="facedocket-demo-"))
    try:
        service = open_service(Settings(home=home))
        console.print(f"[bold]FaceDocket demo[/bold]: data directory {home}, photos from {origin}")
        admin = service.authenticate(service.bootstrap("State Police", "admin").secret)
        _, examiner_token = service.create_user(admin, "examiner1", "examiner")
        examiner = service.authenticate(examiner_token.secret)
        gallery = service.create_gallery(admin, "booking-photos", f"sample photos ({origin})", "demonstration")
        items, held_back, mated, outsider_photo, outsider = plan(root)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("enrolling", total=len(items))
            report = service.enroll(examiner, gallery.id, items, progress=lambda n: progress.advance(task, n))
        counts = {k: v for k, v in report.as_dict()["counts"].items() if v}  # type: ignore[attr-defined]
        console.print(f"enrolled {len(items)} photos in {report.seconds:.1f} s: {counts}")
        request = RequestFields("DEMO-2026-0001", "robbery", "warrant", "demonstration of a written request")
        for title, photo in (
            (f"held-back photo of an enrolled person ({mated})", held_back),
            (f"photo of a person who is not enrolled ({outsider})", outsider_photo),
        ):
            result = service.search(examiner, request, photo.read_bytes(), [gallery.id])
            show(console, f"Search {result.id}: {title}", result)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
