"""Deployments: where and when a camera or a video is matched against watchlists, why, and
who authorised it; the policy gate that lets one start and go on; starting and stopping.

A deployment names its source (a file, an RTSP, HTTP or UDP URL, or a capture device), the
site and the place the camera looks at, its time windows (``governance/windows.py``, in its
time zone), the watchlists it matches (galleries of purpose ``watchlist``), its threshold
(never below the policy's watchlist floor), its DPIA reference and whether signs are up.
:meth:`Deployments.start` runs the gate (``governance/watchlists.py``: forbidden uses, the
galleries' purposes, the floor, the false alerts per face, DPIA, signage, authorisation, an
open window) in the transaction that records the start; :meth:`Deployments.recheck` runs it
again while matching (at every window change and every ``RECHECK_S``). Every start, stop and
refusal is audited. The matching itself is :mod:`facedocket.service.watching`.

Example::

    deployment = service.deployments.create_deployment(supervisor, DeploymentDraft(
        "Main St entrance", "rtsp://cam1.local/stream", "Main St store", "entrance, inside the doors",
        ["daily 08:00-22:00"], [watchlist.id], dpia_reference="DPIA-2026-04", signage=True))
    service.watching.watch(examiner, deployment.id)     # blocks; or service.video_workers.start(...)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facedocket.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyDenied
from facedocket.governance import windows as window_rules
from facedocket.governance.permissions import Actor, require
from facedocket.governance.rules import Failure, Verdict, floor_fmr, floor_score
from facedocket.governance.watchlists import DeploymentFacts, check_deployment, deployment_checklist
from facedocket.service.context import SYSTEM, Area, Who
from facedocket.service.galleries import owned_gallery
from facedocket.service.inputs import text
from facedocket.service.policy import ActivePolicy, policy_of
from facedocket.store.queries import accounts as account_queries
from facedocket.store.queries import deployments as queries
from facedocket.store.queries import galleries as gallery_queries
from facedocket.store.queries import watchlists as watchlist_queries
from facedocket.store.tables import Deployment, DeploymentRun
from facedocket.video.source import source_kind
from facedocket.vision.models import WATCHLIST_MODEL_ID
from facedocket.vocab import WATCHLIST_PURPOSE

RECHECK_S = 60.0
"""Seconds between two checks of the gate while a deployment matches (besides every
opening and closing of a time window)."""

_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")


def redact(source: str) -> str:
    """``source`` without user name and password (``rtsp://user:pw@cam/1`` → ``rtsp://***@cam/1``)."""
    return _USERINFO.sub("***@", source)


@dataclass(frozen=True)
class DeploymentDraft:
    name: str
    source: str
    site: str
    place: str
    windows: list[str]
    watchlists: list[int]
    threshold: float | None = None
    dpia_reference: str = ""
    signage: bool = False
    timezone: str = "UTC"


@dataclass(frozen=True)
class DeploymentInfo:
    """A deployment as its readers see it (the source without credentials), with the gate's
    verdict on it now (``checklist``) and its open run, if any."""

    id: int
    name: str
    source: str
    source_kind: str
    site: str
    place: str
    windows: list[str]
    timezone: str
    watchlists: list[int]
    threshold: float
    floor: float | None
    dpia_reference: str
    signage: bool
    authorised: datetime | None
    authorised_by: int | None
    authorisation_reference: str
    status: str
    window_open: bool
    entries: int
    run_id: int | None
    checklist: list[Verdict] = field(default_factory=list)
    created_by: int | None = None
    created_by_name: str = ""
    authorised_by_name: str = ""


@dataclass(frozen=True)
class WatchlistFloor:
    """The loosest threshold the policy lets a deployment match at (``score``, for the
    template model in use) and the false-match rate it stands for (``fmr``)."""

    score: float
    fmr: float


@dataclass(frozen=True)
class RunInfo:
    """One run of a deployment: the gate let it start at ``started``."""

    id: int
    deployment_id: int
    agency_id: int
    source: str
    source_kind: str
    started: datetime
    threshold: float
    entries: int
    watchlists: list[int]
    timezone: str
    windows: list[str]


def _run_info(row: Deployment, run: DeploymentRun, source: str) -> RunInfo:
    return RunInfo(run.id, row.id, row.agency_id, source, run.source_kind, run.started, run.threshold, run.entries,
                   list(row.watchlists), row.timezone, list(row.windows))  # fmt: skip


def _floor(active: ActivePolicy | None) -> float | None:
    if active is None:
        return None
    try:
        return floor_score(active.profile, WATCHLIST_MODEL_ID, use="watchlist")
    except Exception:  # a profile whose floor the card cannot resolve: the gate says why
        return None


class Deployments(Area):
    """Describing, authorising, starting and stopping deployments (see the module docstring)."""

    # --- describe -----------------------------------------------------------------------

    def create_deployment(self, actor: Actor, draft: DeploymentDraft) -> DeploymentInfo:
        """Describe a deployment of the actor's agency. Its threshold defaults to the policy's
        watchlist floor and may not be set below it (refused and recorded)."""
        require(actor, "deployment.manage")
        clean = self._clean(draft)
        refused: list[Failure] = []
        with self.ctx.write() as session:
            for gallery_id in clean.watchlists:
                gallery = owned_gallery(session, actor, gallery_id)
                if gallery.purpose != WATCHLIST_PURPOSE:
                    raise InvalidInput(f"gallery {gallery_id} is not a watchlist (purpose {gallery.purpose!r})")
            floor = _floor(policy_of(session, actor.agency_id))
            threshold = clean.threshold
            if threshold is None:
                if floor is None:
                    raise InvalidInput("give a threshold: the policy has no watchlist floor to default to")
                threshold = floor
            if floor is not None and not threshold >= floor:
                refused = [("watchlists.threshold_floor_fmr",
                            f"threshold {threshold:.6f} is below the watchlist floor {floor:.6f}")]  # fmt: skip
                self.ctx.audit(session, actor, "deployment.refused", "deployment", clean.name,
                               {"failed": [r for r, _ in refused], "why": [w for _, w in refused],
                                "stage": "create"})  # fmt: skip
            else:
                row = Deployment(agency_id=actor.agency_id, name=clean.name, source=clean.source,
                                 source_kind=source_kind(clean.source), site=clean.site, place=clean.place,
                                 windows=clean.windows, timezone=clean.timezone, watchlists=clean.watchlists,
                                 threshold=threshold, dpia_reference=clean.dpia_reference, signage=clean.signage,
                                 status="stopped", authorisation_reference="", created_by=actor.user_id,
                                 created=self.clock())  # fmt: skip
                session.add(row)
                try:
                    session.flush()
                except IntegrityError:
                    raise Conflict(f"your agency already has a deployment named {clean.name!r}") from None
                self.ctx.audit(session, actor, "deployment.created", "deployment", row.id,
                               {"name": row.name, "source_kind": row.source_kind, "site": row.site,
                                "place": row.place, "windows": row.windows, "timezone": row.timezone,
                                "watchlists": row.watchlists, "threshold": row.threshold,
                                "dpia_reference": row.dpia_reference, "signage": row.signage})  # fmt: skip
                info = self._info(session, row)
        if refused:
            raise PolicyDenied(refused)
        return info

    def authorise(self, actor: Actor, deployment_id: int, reference: str) -> DeploymentInfo:
        """A supervisor's authorisation of a deployment (``reference``: the decision's
        reference), where the policy asks for one."""
        require(actor, "deployment.authorise")
        reference = text(reference, "authorisation reference", required=True)
        with self.ctx.write() as session:
            row = self._own(session, actor, deployment_id, lock=True)
            if row.created_by == actor.user_id:
                raise Forbidden("nobody authorises a deployment they set up; another supervisor does")
            row.authorised, row.authorised_by, row.authorisation_reference = self.clock(), actor.user_id, reference
            self.ctx.audit(session, actor, "deployment.authorised", "deployment", row.id, {"reference": reference})
            return self._info(session, row)

    def floor(self, actor: Actor) -> WatchlistFloor | None:
        """The active policy's watchlist floor (None: no policy, or one whose floor the model
        card cannot resolve; the gate then says why)."""
        require(actor, "deployment.read")
        with self.ctx.read() as session:
            active = policy_of(session, actor.agency_id)
        score = _floor(active)
        if active is None or score is None:
            return None
        return WatchlistFloor(score, floor_fmr(active.profile, "watchlist"))

    def list_deployments(self, actor: Actor) -> list[DeploymentInfo]:
        require(actor, "deployment.read")
        with self.ctx.read() as session:
            return [self._info(session, d) for d in queries.of_agency(session, actor.agency_id)]

    def get_deployment(self, actor: Actor, deployment_id: int) -> DeploymentInfo:
        require(actor, "deployment.read")
        with self.ctx.read() as session:
            return self._info(session, self._own(session, actor, deployment_id))

    def by_name(self, actor: Actor, name: str) -> DeploymentInfo:
        """A deployment of the actor's agency by name (or by numeric id)."""
        if name.isdigit():
            return self.get_deployment(actor, int(name))
        require(actor, "deployment.read")
        with self.ctx.read() as session:
            row = queries.by_name(session, actor.agency_id, name)
            if row is None:
                raise NotFound(f"no deployment named {name!r} in your agency")
            return self._info(session, row)

    # --- the gate, start and stop -------------------------------------------------------

    def facts(self, session: Session, row: Deployment, now: datetime, kind: str | None = None) -> DeploymentFacts:
        """What the gate looks at for ``row`` at ``now`` (``kind``: of the source actually watched)."""
        purposes = {}
        for gallery_id in row.watchlists:
            gallery = gallery_queries.gallery(session, int(gallery_id))
            purposes[gallery.name if gallery else f"gallery {gallery_id}"] = gallery.purpose if gallery else "(deleted)"
        windows = window_rules.parse_windows(row.windows)
        return DeploymentFacts(
            source_kind=kind or row.source_kind, watchlists=purposes,
            entries=watchlist_queries.active_count(session, row.watchlists, now), threshold=row.threshold,
            model_id=WATCHLIST_MODEL_ID, dpia_reference=row.dpia_reference, signage=row.signage,
            authorised=row.authorised is not None, window_open=window_rules.is_open(windows, now, row.timezone),
        )  # fmt: skip

    def start(self, actor: Actor | Who, deployment_id: int, source: str | None = None) -> RunInfo:
        """Run the gate and, if it passes, record the start of a run (one transaction). A
        refusal is recorded and raised (PolicyDenied naming every failed rule)."""
        if isinstance(actor, Actor):
            require(actor, "deployment.run")
        kind = source_kind(source) if source is not None else None
        refused: list[Failure] = []
        with self.ctx.write() as session:
            row = self._own(session, actor, deployment_id, lock=True)
            if queries.open_run(session, row.id) is not None:
                raise Conflict(f"deployment {deployment_id} is running already; stop it first")
            now = self.clock()
            active = policy_of(session, row.agency_id)
            facts = self.facts(session, row, now, kind)
            refused = check_deployment(active.profile if active else None, facts)
            details = {"source_kind": facts.source_kind, "entries": facts.entries, "threshold": row.threshold,
                       "policy": active.profile.name if active else None,
                       "policy_sha256": active.sha256 if active else None}  # fmt: skip
            if refused:
                self.ctx.audit(session, actor, "deployment.refused", "deployment", row.id,
                               {**details, "failed": [r for r, _ in refused], "why": [w for _, w in refused],
                                "stage": "start"}, agency_id=row.agency_id)  # fmt: skip
            else:
                run = DeploymentRun(deployment_id=row.id, agency_id=row.agency_id, source_kind=facts.source_kind,
                                    started_by=actor.user_id if isinstance(actor, Actor) else None, started=now,
                                    end_reason="", faces=0, alerts=0, entries=facts.entries,
                                    threshold=row.threshold)  # fmt: skip
                session.add(run)
                session.flush()
                row.status = "running"
                self.ctx.audit(session, actor, "deployment.started", "deployment", row.id,
                               {**details, "run_id": run.id}, agency_id=row.agency_id)  # fmt: skip
                info = _run_info(row, run, source or row.source)
        if refused:
            raise PolicyDenied(refused)
        return info

    def recheck(self, run: RunInfo) -> list[Failure]:
        """The gate again for a running deployment, now; what it refuses (recorded), or []."""
        with self.ctx.write() as session:
            row = queries.lock_deployment(session, run.deployment_id)
            if row is None:
                return [("deployment", "the deployment no longer exists")]
            active = policy_of(session, row.agency_id)
            facts = self.facts(session, row, self.clock(), run.source_kind)
            refused = check_deployment(active.profile if active else None, facts)
            if refused:
                self.ctx.audit(session, SYSTEM, "deployment.refused", "deployment", row.id,
                               {"failed": [r for r, _ in refused], "why": [w for _, w in refused],
                                "stage": "running", "run_id": run.id}, agency_id=row.agency_id)  # fmt: skip
            return refused

    def finish(self, run: RunInfo, reason: str, actor: Actor | Who | None = None, status: str = "stopped") -> None:
        """Record the end of ``run`` (faces and alerts counted) and the deployment's new status."""
        with self.ctx.write() as session:
            row = queries.lock_deployment(session, run.deployment_id)
            record = queries.run(session, run.id)
            if row is None or record is None or record.ended is not None:
                return
            record.ended, record.end_reason = self.clock(), reason[:200]
            row.status = status
            self.ctx.audit(session, actor or SYSTEM, "deployment.stopped", "deployment", row.id,
                           {"run_id": run.id, "reason": reason, "faces": record.faces, "alerts": record.alerts},
                           agency_id=row.agency_id)  # fmt: skip

    def set_status(self, deployment_id: int, status: str) -> None:
        """The deployment's status as its worker sees it (``waiting`` for a window, ``stopped``)."""
        with self.ctx.write() as session:
            row = queries.lock_deployment(session, deployment_id)
            if row is not None:
                row.status = status

    def stop_stale(self, actor: Actor | Who, deployment_id: int, reason: str) -> DeploymentInfo | None:
        """End a run that no worker of this process holds (left by a process that stopped);
        ``actor`` SYSTEM for the server's start-up sweep (then None is returned)."""
        if isinstance(actor, Actor):
            require(actor, "deployment.run")
        with self.ctx.read() as session:
            row = self._own(session, actor, deployment_id)
            open_run = queries.open_run(session, row.id)
        if open_run is not None:
            self.finish(_run_info(row, open_run, row.source), reason, actor)
        else:
            self.set_status(row.id, "stopped")
        return self.get_deployment(actor, deployment_id) if isinstance(actor, Actor) else None

    def source_of(self, deployment_id: int) -> str:
        """The deployment's source as configured (credentials included: for opening it only)."""
        with self.ctx.read() as session:
            row = queries.deployment(session, deployment_id)
            if row is None:
                raise NotFound(f"no deployment {deployment_id}")
            return row.source

    def next_window_change(self, run: RunInfo, now: datetime) -> datetime | None:
        return window_rules.next_change(window_rules.parse_windows(run.windows), now, run.timezone)

    def window_open(self, deployment_id: int) -> bool:
        """Whether one of the deployment's windows is open now."""
        with self.ctx.read() as session:
            row = queries.deployment(session, deployment_id)
            if row is None:
                return False
            windows, tz = window_rules.parse_windows(row.windows), row.timezone
        return window_rules.is_open(windows, self.clock(), tz)

    def next_opening(self, deployment_id: int) -> datetime | None:
        """When one of the deployment's windows opens next (None: open now, or never within 8 days)."""
        with self.ctx.read() as session:
            row = queries.deployment(session, deployment_id)
            if row is None:
                return None
            windows, tz = window_rules.parse_windows(row.windows), row.timezone
        now = self.clock()
        return None if window_rules.is_open(windows, now, tz) else window_rules.next_change(windows, now, tz)

    # --- helpers ------------------------------------------------------------------------

    def _clean(self, draft: DeploymentDraft) -> DeploymentDraft:
        """``draft`` checked: texts within their limits, windows and time zone readable, the
        source of a kind FaceDocket opens, at least one watchlist, a threshold in (0, 1]."""
        source = text(draft.source, "video source", required=True)
        source_kind(source)
        windows = [w.text for w in window_rules.parse_windows([text(w, "time window") for w in draft.windows])]
        timezone = text(draft.timezone or "UTC", "time zone", required=True)
        window_rules.zone(timezone)
        watchlists = list(dict.fromkeys(int(g) for g in draft.watchlists))
        if not watchlists:
            raise InvalidInput("a deployment matches at least one watchlist; name its gallery id")
        threshold = draft.threshold
        if threshold is not None and not (math.isfinite(threshold) and 0 < threshold <= 1):
            raise InvalidInput("the threshold is a score above 0 and at most 1")
        return DeploymentDraft(
            text(draft.name, "deployment name", required=True), source, text(draft.site, "site", required=True),
            text(draft.place, "place", required=True), windows, watchlists, threshold,
            text(draft.dpia_reference, "DPIA reference"), bool(draft.signage), timezone,
        )  # fmt: skip

    def _own(self, session: Session, actor: Actor | Who, deployment_id: int, lock: bool = False) -> Deployment:
        row = queries.lock_deployment(session, deployment_id) if lock else queries.deployment(session, deployment_id)
        if row is None or (actor.agency_id is not None and row.agency_id != actor.agency_id):
            raise NotFound(f"no deployment {deployment_id} in your agency")
        return row

    def _info(self, session: Session, row: Deployment) -> DeploymentInfo:
        now = self.clock()
        active = policy_of(session, row.agency_id)
        facts = self.facts(session, row, now)
        run = queries.open_run(session, row.id)
        names = account_queries.usernames(session, {i for i in (row.created_by, row.authorised_by) if i is not None})
        return DeploymentInfo(
            row.id, row.name, redact(row.source), row.source_kind, row.site, row.place, list(row.windows),
            row.timezone, list(row.watchlists), row.threshold, _floor(active), row.dpia_reference, row.signage,
            row.authorised, row.authorised_by, row.authorisation_reference, row.status, facts.window_open,
            facts.entries, run.id if run else None, deployment_checklist(active.profile if active else None, facts),
            row.created_by, names.get(row.created_by or -1, ""), names.get(row.authorised_by or -1, ""),
        )  # fmt: skip


__all__ = ["RECHECK_S", "DeploymentDraft", "DeploymentInfo", "Deployments", "RunInfo", "WatchlistFloor", "redact"]
