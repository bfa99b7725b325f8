"""A world for the browser tests: a live server over a real service (a clock the tests can
move), one agency with a person per role who has already chosen their password, a gallery
enrolled from real photos, and helpers to open a browser context as one of them.

The photos: four people of ../shared/faces/dev enrolled, Amelia Vega twice (two records, as a
booking gallery holds a person arrested twice), so a search for her held-back photo lists two
candidates. :func:`two_face_probe` composes a real two-face probe from two held-back photos.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image as PILImage
from playwright.sync_api import Browser, BrowserContext, Page, expect

from facedocket.api import create_app
from facedocket.config import Settings
from facedocket.service import EnrolItem, Service, open_service
from facedocket.vision.pipeline import FacePipeline

from .browser import LiveServer, OfflineGuard, serve

FACES = Path(os.environ.get("FACEDOCKET_FACES", Path(__file__).resolve().parents[3] / "shared" / "faces"))
DEV = FACES / "dev"
ENROLLED = {"Abdullah_Gul": [1, 2, 3], "Adrien_Brody": [1, 3], "Amelia_Vega": [1, 2, 3], "Ai_Sugiyama": [1, 3]}
SECOND_RECORD = ("Amelia_Vega-booking-2019", "Amelia_Vega", [4, 5])
HELD_BACK = {"Abdullah_Gul": 7, "Amelia_Vega": 7}
ROLES = ("requester", "supervisor", "examiner", "auditor", "admin")
PASSWORD = "violet harbour lantern {}"  # each person's own: a random word at the end


class MovableClock:
    """The service's clock: real time plus an offset the tests can advance."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


def photo(person: str, n: int) -> Path:
    return DEV / person / f"{n}.jpg"


def two_face_probe() -> bytes:
    """Abdullah Gul (left) and Amelia Vega (right), their held-back photos side by side."""
    left, right = (PILImage.open(photo(p, HELD_BACK[p])).convert("RGB") for p in ("Abdullah_Gul", "Amelia_Vega"))
    canvas = PILImage.new("RGB", (left.width + right.width + 40, max(left.height, right.height)), (235, 235, 235))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 40, 0))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=92)
    return out.getvalue()


@dataclass
class World:
    """A running server with its service, clock and people."""

    server: LiveServer
    service: Service
    clock: MovableClock
    gallery_id: int
    passwords: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def actor(self, username: str):  # type: ignore[no-untyped-def]
        """The service actor of a person (for setting up what a test is not about)."""
        signed = self.service.signin.sign_in(username, self.passwords[username])
        return signed.actor


def enrol_items() -> list[EnrolItem]:
    items = [EnrolItem(p, str(photo(p, n))) for p, ns in ENROLLED.items() for n in ns]
    reference, person, numbers = SECOND_RECORD
    return items + [EnrolItem(reference, str(photo(person, n))) for n in numbers]


def add_person(service: Service, admin, username: str, role: str, passwords: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """A user who has signed in once with the temporary password and chosen their own."""
    if username != admin.username:
        service.accounts.create_user(admin, username, role)
    user_id = next(u.id for u in service.accounts.list_users(admin) if u.username == username)
    temporary = service.signin.set_password(admin, user_id)
    first = service.signin.sign_in(username, temporary)
    own = PASSWORD.format(secrets.token_hex(4))
    service.signin.change_password(first.secret, "", own)
    service.signin.sign_out(first.secret)
    passwords[username] = own


@contextmanager
def running_world(home: Path, pipeline: FacePipeline, policy: str, prefix: str = "",
                  extra: dict[str, str] | None = None, enrol: bool = True) -> Iterator[World]:  # fmt: skip
    """A server whose agency works under ``policy`` (a shipped profile's name), with people
    named ``<prefix><role>`` (and ``extra``: username -> role) and, with ``enrol``, the
    booking gallery enrolled (``gallery_id`` 0 without)."""
    settings = Settings(home=home, jitter=False)
    clock = MovableClock()
    service = open_service(settings, clock=clock, pipeline=pipeline)
    admin = service.accounts.authenticate(service.accounts.bootstrap("State Police", f"{prefix}admin").secret)
    service.policy.activate_policy(admin, policy)
    passwords: dict[str, str] = {}
    roles = {}
    named = {f"{prefix}{role}": role for role in ROLES} | (extra or {})
    for username, role in named.items():
        add_person(service, admin, username, role, passwords)
        roles[username] = role
    gallery_id = 0
    if enrol:
        gallery = service.galleries.create_gallery(admin, "booking", "county booking photos 2015-2024",
                                                   "criminal investigations")  # fmt: skip
        report = service.enrolment.enroll(admin, gallery.id, enrol_items())
        assert report.counts["enrolled"] == sum(map(len, ENROLLED.values())) + len(SECOND_RECORD[2]), report.counts
        gallery_id = gallery.id
    try:
        with serve(create_app(settings, service)) as server:
            yield World(server, service, clock, gallery_id, passwords, roles)
    finally:
        service.close()


class Browsing:
    """Browser contexts, one per person, each kept off every host but 127.0.0.1."""

    def __init__(self, browser: Browser, world: World) -> None:
        self.browser, self.world = browser, world
        self.guard = OfflineGuard()
        self.contexts: list[BrowserContext] = []

    def context(self) -> BrowserContext:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.route("**/*", self.guard)
        self.contexts.append(context)
        return context

    def as_(self, username: str) -> Page:
        """A new context signed in as ``username``, on the start page."""
        page = self.context().new_page()
        sign_in(page, self.world, username)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        assert not self.guard.blocked, f"a page asked for something outside 127.0.0.1: {self.guard.blocked}"


def sign_in(page: Page, world: World, username: str, password: str | None = None) -> None:
    page.goto(f"{world.url}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or world.passwords[username])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".whoami")).to_contain_text(username)


def request_id_of(page: Page) -> int:
    found = re.search(r"/requests/(\d+)", page.url)
    assert found, page.url
    return int(found.group(1))
