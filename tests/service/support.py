"""Photos and small factories shared by the service tests.

The identities below were picked from ../shared/faces/dev because, with the fast
pipeline (``jitter=False``), each person's photos score well above the model's threshold
against each other and well below it against the other people here. They were picked
with dlib's model and measured again with SFace, the model of new galleries: held-back
photo against the person's enrolled ones 0.605 to 0.845 (threshold 0.372), against the
other people here at most 0.273; dlib gave 0.960 to 0.976 against at most 0.858
(threshold 0.930).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_texts import PERMISSIVE
from sqlalchemy import func, select
from tokens import own_token

from facedocket.service import Actor, EnrolItem, RequestDraft, SearchResult, Service
from facedocket.service.galleries import GalleryInfo
from facedocket.store.tables import TemplateRow

FACES = Path(os.environ.get("FACEDOCKET_FACES", Path(__file__).resolve().parents[3] / "shared" / "faces"))
DEV = FACES / "dev"
TWO_PEOPLE = FACES / "multi" / "face_recognition__examples_two_people.jpg"
NO_FACE = FACES / "noface" / "dlib__dlib_test_ffmpeg_data_eagle.jpg"

# Enrolled photos per person, and one held-back photo per person for probes; each of
# these photos shows exactly one face.
ENROLLED: dict[str, list[int]] = {
    "Abdullah_Gul": [1, 2, 3],
    "Adrien_Brody": [1, 3],
    "Amelia_Vega": [1, 2, 3],
    "Ai_Sugiyama": [1, 3],
}
HELD_BACK: dict[str, int] = {"Abdullah_Gul": 7, "Adrien_Brody": 8, "Amelia_Vega": 7, "Ai_Sugiyama": 5}
OUTSIDER = "Albert_Costa"  # never enrolled
# Photos whose face quality (with the fast pipeline and SFace, the default model) is below
# 0.99; quality includes the symmetry of the model's templates, so it depends on the model
# (with dlib's, Abdullah_Gul 1 is below too; with SFace it rates 1.0).
IMPERFECT: dict[str, list[int]] = {"Abdullah_Gul": [2, 3], "Adrien_Brody": [1, 3]}

# A permissive operational profile for tests that are not about the policy itself: any
# offence, approval first (or on an emergency basis, before approval), no threshold floor.
TEST_POLICY = PERMISSIVE


def photo(person: str, n: int) -> Path:
    return DEV / person / f"{n}.jpg"


def probe(person: str) -> bytes:
    """The held-back photo of an enrolled person (or the outsider's first photo)."""
    return photo(person, HELD_BACK.get(person, 1)).read_bytes()


def items_for(people: dict[str, list[int]]) -> list[EnrolItem]:
    return [EnrolItem(reference=p, source=str(photo(p, n))) for p, ns in people.items() for n in ns]


def copy_tree(root: Path, people: dict[str, Iterable[int]]) -> Path:
    """A folder-per-subject tree under ``root`` with copies of the named dev photos."""
    for person, numbers in people.items():
        folder = root / person
        folder.mkdir(parents=True, exist_ok=True)
        for n in numbers:
            shutil.copyfile(photo(person, n), folder / f"{n}.jpg")
    return root


@dataclass
class Agency:
    """An agency with one user per role and (for the operator) a gallery."""

    id: int
    admin: Actor
    supervisor: Actor
    examiner: Actor
    requester: Actor
    auditor: Actor
    secrets: dict[str, str]


@dataclass
class World:
    service: Service
    operator: Agency
    gallery: GalleryInfo

    @property
    def admin(self) -> Actor:
        return self.operator.admin

    @property
    def examiner(self) -> Actor:
        return self.operator.examiner


def staff(service: Service, admin: Actor, admin_secret: str, prefix: str) -> Agency:
    """Create an examiner, supervisor, requester and auditor beside ``admin``."""
    secrets = {"admin": admin_secret}
    actors = {"admin": admin}
    for role in ("supervisor", "examiner", "requester", "auditor"):
        _info, activation = service.accounts.create_user(admin, f"{prefix}-{role}", role)
        secrets[role] = own_token(service, activation).secret
        actors[role] = service.accounts.authenticate(secrets[role])
    return Agency(admin.agency_id, secrets=secrets, **actors)


def make_world(service: Service, policy: str = TEST_POLICY) -> World:
    token = service.accounts.bootstrap("State Police", "admin")
    admin = service.accounts.authenticate(token.secret)
    service.policy.activate_policy_text(admin, policy)
    operator = staff(service, admin, token.secret, "sp")
    gallery = service.galleries.create_gallery(admin, "booking", "booking photos 2020-2024", "criminal investigations")
    return World(service, operator, gallery)


def second_agency(world: World, name: str = "County Sheriff", policy: str = TEST_POLICY) -> Agency:
    _info, activation = world.service.accounts.create_agency(world.admin, name, f"{name.split()[0].lower()}-admin")
    token = own_token(world.service, activation)
    admin = world.service.accounts.authenticate(token.secret)
    world.service.policy.activate_policy_text(admin, policy)
    return staff(world.service, admin, token.secret, name.split()[0].lower())


_cases = iter(range(1, 1_000_000))


def approved_request(
    service: Service,
    agency: Agency,
    probe_bytes: bytes,
    galleries: list[int] | None = None,
    target: Agency | None = None,
    legal_basis: str = "warrant",
    offence: str = "robbery",
    probe_face: int | None = None,
) -> int:
    """File, submit and approve a request with ``probe_bytes``; returns its id. ``target``
    is the agency addressed (default: the filing agency itself)."""
    case = service.requests.create_case(
        agency.requester, f"2026-{next(_cases):04d}", offence, "bank robbery, CCTV still"
    )
    draft = RequestDraft(
        case.id, legal_basis, "suspect filmed by the bank's CCTV", document_type="search warrant",
        document_reference="SW-2026-118", document_issuer="Suffolk Superior Court", document_date="2026-11-20",
        galleries=list(galleries or []), target_agency_id=target.id if target else None, probe_face=probe_face,
    )  # fmt: skip
    request = service.requests.file_request(agency.requester, draft, probe_bytes, submit=True)
    decider = (target or agency).supervisor
    if legal_basis != "emergency":
        service.requests.decide_request(decider, request.id, True, "specific and articulable facts in the affidavit")
    return request.id


def template_ids(service: Service, gallery_id: int) -> list[int]:
    with service.sessions() as session:
        return sorted(session.scalars(select(TemplateRow.id).where(TemplateRow.gallery_id == gallery_id)))


def template_count(service: Service, gallery_id: int | None = None) -> int:
    query = select(func.count()).select_from(TemplateRow)
    if gallery_id is not None:
        query = query.where(TemplateRow.gallery_id == gallery_id)
    with service.sessions() as session:
        return int(session.scalar(query) or 0)


def row_counts(service: Service, *tables: type) -> dict[str, int]:
    with service.sessions() as session:
        return {t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0) for t in tables}


def run_search(
    service: Service,
    agency: Agency,
    probe_bytes: bytes,
    galleries: list[int],
    searcher: Actor | None = None,
    **options: Any,
) -> SearchResult:
    """File and approve a request for ``probe_bytes`` in ``agency`` and search it (by its
    examiner, or ``searcher``); ``options`` go to :meth:`Service.search`."""
    request_id = approved_request(service, agency, probe_bytes, galleries)
    return service.searches.search(searcher or agency.examiner, request_id, **options)


def run_verify(service: Service, agency: Agency, probe_bytes: bytes, subject_id: int, **options: Any) -> SearchResult:
    """File and approve a request and verify its probe against one subject."""
    request_id = approved_request(service, agency, probe_bytes)
    return service.searches.verify(agency.examiner, request_id, subject_id, **options)
