"""Photos and small factories shared by the service tests.

The identities below were picked from ../shared/faces/dev because, with the fast
pipeline (``jitter=False``), each person's photos score well above the model's threshold
against each other and well below it against the other people here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from facedocket.service import Actor, EnrolItem, RequestFields, Service
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
# Photos whose face quality (with the fast pipeline) is below 0.99.
IMPERFECT: dict[str, list[int]] = {"Abdullah_Gul": [1, 2, 3], "Adrien_Brody": [1, 3]}

REQUEST = RequestFields("2026-0042", "armed robbery", "warrant", "suspect filmed by the bank's CCTV")


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
        _info, token = service.create_user(admin, f"{prefix}-{role}", role)
        secrets[role] = token.secret
        actors[role] = service.authenticate(token.secret)
    return Agency(admin.agency_id, secrets=secrets, **actors)


def make_world(service: Service) -> World:
    token = service.bootstrap("State Police", "admin")
    admin = service.authenticate(token.secret)
    operator = staff(service, admin, token.secret, "sp")
    gallery = service.create_gallery(admin, "booking", "booking photos 2020-2024", "criminal investigations")
    return World(service, operator, gallery)


def second_agency(world: World, name: str = "County Sheriff") -> Agency:
    _info, token = world.service.create_agency(world.admin, name, f"{name.split()[0].lower()}-admin")
    admin = world.service.authenticate(token.secret)
    return staff(world.service, admin, token.secret, name.split()[0].lower())


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
