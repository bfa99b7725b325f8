"""A shop under the ``retail-watchlist`` profile, for the deployment tests: an agency with one
user per role (two supervisors: entries need a second person), a watchlist holding the
listed people of the test cast (their *other* photo), and deployments over test videos.

The service runs on a temporary SQLite home with the session's pipeline (flip and jitter,
as the model card's thresholds were calibrated), a clock the tests can move, and the
development photo key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import scenes
from tokens import own_token

from facedocket.config import Settings
from facedocket.service import Actor, DeploymentDraft, DeploymentInfo, EntryDraft, EntryInfo, Service, open_service
from facedocket.vision.pipeline import FacePipeline

ALL_DAY = ["daily 00:00-24:00"]


class Clock:
    """The service's clock: real time plus an offset the tests move (``advance``)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class Shop:
    service: Service
    clock: Clock
    home: Path
    admin: Actor
    supervisor: Actor
    manager: Actor  # the second supervisor
    examiner: Actor
    auditor: Actor
    watchlist: int = 0
    entries: dict[str, EntryInfo] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # bearer token by username

    def entry(self, person: str, photo: Path, reason: str = "theft-with-violence", **changes: Any) -> EntryInfo:
        """Put ``person`` on the shop's watchlist and approve the entry (second person)."""
        draft = EntryDraft(person, reason, f"INC-{len(self.entries) + 1:04d}", "Store manager A. Jones",
                           "CCTV of the incident", **changes)  # fmt: skip
        added = self.service.watchlists.add_entry(self.examiner, self.watchlist, draft, photo.read_bytes())
        approved = self.service.watchlists.approve_entry(self.supervisor, added.id)
        self.entries[person] = approved
        return approved

    def deployment(self, name: str, source: Path | str, authorise: bool = True, **changes: Any) -> DeploymentInfo:
        """A deployment over ``source`` that the retail policy lets start (DPIA, signage,
        authorisation, all-day window) unless ``changes`` say otherwise."""
        values: dict[str, Any] = {
            "name": name, "source": str(source), "site": "Main St store", "place": "entrance, inside the doors",
            "windows": ALL_DAY, "watchlists": [self.watchlist], "dpia_reference": "DPIA-2026-04", "signage": True,
        }  # fmt: skip
        values.update(changes)
        info = self.service.deployments.create_deployment(self.supervisor, DeploymentDraft(**values))
        if authorise:
            info = self.service.deployments.authorise(self.manager, info.id, "AUTH-2026-11")
        return info


def open_shop(home: Path, pipeline: FacePipeline, policy: str = "retail-watchlist", **settings: Any) -> Shop:
    """A fresh service and shop (no entries yet) in ``home``."""
    clock = Clock()
    service = open_service(Settings(home=home, **settings), clock=clock, pipeline=pipeline)
    token = service.accounts.bootstrap("Main St Stores", "admin")
    admin = service.accounts.authenticate(token.secret)
    service.policy.activate_policy(admin, policy)

    secrets = {"admin": token.secret}

    def user(name: str, role: str) -> Actor:
        _info, activation = service.accounts.create_user(admin, name, role)
        secrets[name] = own_token(service, activation).secret
        return service.accounts.authenticate(secrets[name])

    shop = Shop(service, clock, home, admin, user("sup", "supervisor"), user("manager", "supervisor"),
                user("guard", "examiner"), user("auditor", "auditor"), secrets=secrets)  # fmt: skip
    if policy == "retail-watchlist":
        shop.watchlist = service.watchlists.create_watchlist(shop.supervisor, "main st", "incident reports").id
    return shop


def stock(shop: Shop, cast: scenes.Cast) -> Shop:
    """Put the cast's listed people on the watchlist (their enrolment photo)."""
    for person in sorted(cast.listed):
        shop.entry(person, cast.enrol_photo[person])
    return shop


def events(service: Service, auditor: Actor, action: str) -> list[dict[str, Any]]:
    """The audit events of ``action``, oldest first, as dicts."""
    found = service.audit.list_audit(auditor, action=action, limit=10_000)
    return [e.as_dict() for e in reversed(found)]
