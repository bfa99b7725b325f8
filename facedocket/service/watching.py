"""Watching: one deployment's video through the watcher, its hits into alerts, its faces into
hourly counts, under the policy gate.

:meth:`Watching.watch` starts a run (the gate, :meth:`Deployments.start`), builds the
watchlist from the active, unexpired entries of the deployment's watchlists, and feeds the
source through :class:`facedocket.video.watch.Watcher`. While it runs it checks the gate
again at every opening or closing of a time window and every
:data:`~facedocket.service.deployments.RECHECK_S` seconds, and rebuilds the watchlist then
(an entry that expired or was removed stops matching; one approved starts). It stops when
the source ends, when ``stop`` is set, when the gate refuses, or on an error; the stop is
recorded with its reason.

What it writes: an alert for each hit (merged into an earlier one for a repeat), the faces
counted per deployment and hour, and audit events. Nothing of a face that did not match
reaches it: the watcher hands on only counts for those (docs/video.md).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from facedocket.errors import FaceDocketError
from facedocket.governance.permissions import Actor
from facedocket.service.alerts import Alerts, HitContext
from facedocket.service.context import SYSTEM, Area, Context, Who
from facedocket.service.deployments import RECHECK_S, Deployments, RunInfo
from facedocket.store.queries import deployments as deployment_queries
from facedocket.store.queries import watchlists as watchlist_queries
from facedocket.types import Template
from facedocket.video.events import FacesCounted, Hit
from facedocket.video.source import SourceDropped, SourceItem, SourceOptions, SourceReconnected, VideoReader
from facedocket.video.watch import Watcher, WatchOptions
from facedocket.video.watchlist import Watchlist
from facedocket.vision.models import WATCHLIST_MODEL_ID

MIN_RATE_WINDOW_S = 60.0
"""Faces per hour (for an alert's expected false alerts) are the run's faces over at least
this many seconds of video, so the first face of a run does not count as thousands an hour."""


@dataclass
class RunSummary:
    """How a run went: why it ended, what it saw (faces counted, alerts raised)."""

    run_id: int | None
    deployment_id: int
    reason: str = ""
    faces: int = 0
    alerts: list[int] = field(default_factory=list)
    repeats: int = 0
    drops: int = 0
    frames: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _State:
    run: RunInfo
    watcher: Watcher
    where: HitContext
    summary: RunSummary
    flushed: dict[datetime, int] = field(default_factory=dict)
    alert_of_hit: dict[int, int] = field(default_factory=dict)
    last_for_entry: dict[int, tuple[int, float]] = field(default_factory=dict)
    next_check: datetime | None = None
    refusal: str = ""


class Watching(Area):
    """Runs deployments (see the module docstring)."""

    def __init__(self, ctx: Context, deployments: Deployments, alerts: Alerts) -> None:
        super().__init__(ctx)
        self.deployments, self.alerts = deployments, alerts

    def watch(
        self,
        actor: Actor | Who,
        deployment_id: int,
        source: str | None = None,
        *,
        reader: Iterable[SourceItem] | None = None,
        stop: threading.Event | None = None,
        on_event: Callable[[Any], None] | None = None,
        options: WatchOptions | None = None,
        source_options: SourceOptions | None = None,
        run: RunInfo | None = None,
        stop_reason: Callable[[], str] | None = None,
    ) -> RunSummary:
        """Run a deployment on its source (or ``source``, a file or URL of the same
        deployment) until the source ends, ``stop`` is set or the gate refuses. ``reader`` is
        the seam to the network and to time: frames to use instead of opening the source.
        ``on_event`` sees every watcher event (for progress). Raises PolicyDenied when the gate
        refuses the start; any error while running ends the run (recorded) and is raised.
        ``run``: a run :meth:`Deployments.start` began already (the background workers gate
        the first start before they return); ``stop_reason`` says why ``stop`` was set."""
        run = run or self.deployments.start(actor, deployment_id, source)
        summary = RunSummary(run.id, deployment_id)
        state: _State | None = None
        try:
            items = reader if reader is not None else VideoReader(run.source, source_options)
            state = self._state(run, options, summary)
            reason = self._loop(state, items, stop or threading.Event(), on_event)
        except BaseException as exc:
            why = str(exc) if isinstance(exc, FaceDocketError) else f"{type(exc).__name__}: {exc}"
            summary.reason = f"error: {why}"[:200] if not isinstance(exc, KeyboardInterrupt) else "interrupted"
            self._flush_counts_safely(state)
            self.deployments.finish(run, summary.reason, actor)
            raise
        summary.reason = (stop_reason() or reason) if reason == "stopped" and stop_reason is not None else reason
        self._flush_counts(state)
        self.deployments.finish(run, summary.reason, actor)
        return summary

    # --- the loop ------------------------------------------------------------------------

    def _loop(self, state: _State, items: Iterable[SourceItem], stop: threading.Event,
              on_event: Callable[[Any], None] | None) -> str:  # fmt: skip
        state.next_check = self._next_check(state.run)
        for event in state.watcher.run(self._frames(state, items, stop)):
            if on_event is not None:
                on_event(event)
            if isinstance(event, Hit):
                if not state.refusal:  # the tracks the watcher closes after a refusal raise nothing
                    self._on_hit(state, event)
            elif isinstance(event, FacesCounted):
                self._flush_counts(state)
            elif isinstance(event, (SourceDropped, SourceReconnected)):
                self._on_source(state, event)
        if state.refusal:
            return state.refusal
        return "stopped" if stop.is_set() else "the source ended"

    def _frames(self, state: _State, items: Iterable[SourceItem], stop: threading.Event) -> Iterable[SourceItem]:
        """The source's items until it ends, the stop is asked for, or the gate (checked again
        at each window change and every RECHECK_S, between two frames) refuses."""
        for item in items:
            if stop.is_set():
                return
            if state.next_check is not None and self.clock() >= state.next_check:
                state.refusal = self._recheck(state)
                if state.refusal:
                    return
            state.summary.frames += 1
            yield item

    def _recheck(self, state: _State) -> str:
        """The gate again; a refusal's words, or "" (the watchlist rebuilt, the next check set)."""
        self._flush_counts(state)
        refused = self.deployments.recheck(state.run)
        if refused:
            state.summary.refused = refused
            return "the policy refused: " + "; ".join(f"{rule}: {why}" for rule, why in refused)
        watchlist, where = self._watchlist(state.run, state.summary, state.where.faces_per_hour)
        state.watcher.watchlist, state.where = watchlist, where
        state.next_check = self._next_check(state.run)
        return ""

    def _next_check(self, run: RunInfo) -> datetime:
        now = self.clock()
        regular = now + timedelta(seconds=RECHECK_S)
        change = self.deployments.next_window_change(run, now)
        return min(regular, change) if change is not None else regular

    # --- hits, counts, source events ------------------------------------------------------

    def _on_hit(self, state: _State, hit: Hit) -> None:
        entry = state.where.entry_of[hit.entry_id]
        earlier = state.alert_of_hit.get(hit.repeat_of) if hit.repeat_of is not None else None
        last = state.last_for_entry.get(entry)
        if earlier is None and last is not None and hit.time - last[1] <= state.watcher.options.merge_window_s:
            earlier = last[0]  # the same entry again within the merge window: the same person
        if earlier is not None:
            self.alerts.repeat(earlier, hit)
            state.alert_of_hit[hit.hit_id] = earlier
            state.last_for_entry[entry] = (earlier, hit.time)
            state.summary.repeats += 1
            return
        state.where = _with_rate(state.where, state.watcher, hit.time)
        info = self.alerts.raise_alert(hit, state.where)
        state.alert_of_hit[hit.hit_id] = info.id
        state.last_for_entry[entry] = (info.id, hit.time)
        state.summary.alerts.append(info.id)

    def _flush_counts(self, state: _State) -> None:
        """Write the faces counted since the last flush (per hour) into the database."""
        deltas = {h: n - state.flushed.get(h, 0) for h, n in state.watcher.counts.by_hour.items()}
        deltas = {h: n for h, n in deltas.items() if n > 0}
        if not deltas:
            return
        with self.ctx.write() as session:
            for hour, n in sorted(deltas.items()):
                deployment_queries.add_faces(session, state.run.deployment_id, state.run.agency_id, hour, n)
            record = deployment_queries.run(session, state.run.id)
            if record is not None:
                record.faces += sum(deltas.values())
        for hour, n in deltas.items():
            state.flushed[hour] = state.flushed.get(hour, 0) + n
        state.summary.faces += sum(deltas.values())

    def _flush_counts_safely(self, state: _State | None) -> None:
        if state is None:
            return
        with contextlib.suppress(Exception):  # the run is failing already; its error is what gets raised
            self._flush_counts(state)

    def _on_source(self, state: _State, event: SourceDropped | SourceReconnected) -> None:
        if isinstance(event, SourceDropped):
            state.summary.drops += 1
            action, details = "deployment.source_dropped", {"error": event.error, "attempt": event.attempt,
                                                            "retry_in_s": event.retry_in_s}  # fmt: skip
        else:
            action, details = "deployment.source_reconnected", {"attempts": event.attempts,
                                                                "outage_s": round(event.outage_s, 2)}  # fmt: skip
        self.ctx.record(SYSTEM, action, "deployment", state.run.deployment_id, {"run_id": state.run.id, **details},
                        agency_id=state.run.agency_id)  # fmt: skip

    # --- the watchlist --------------------------------------------------------------------

    def _state(self, run: RunInfo, options: WatchOptions | None, summary: RunSummary) -> _State:
        watchlist, where = self._watchlist(run, summary, 0.0)
        watcher = Watcher(self.ctx.pipeline.for_model(WATCHLIST_MODEL_ID), watchlist, options, origin=run.started)
        return _State(run, watcher, where, summary)

    def _watchlist(self, run: RunInfo, summary: RunSummary, faces_per_hour: float) -> tuple[Watchlist, HitContext]:
        """The run's watchlist now: every template of an active, unexpired entry (ids are
        template ids; ``entry_of`` maps them to entries)."""
        with self.ctx.read() as session:
            rows = watchlist_queries.matchable(session, run.watchlists, self.clock())
        rows = [r for r in rows if r[4] == WATCHLIST_MODEL_ID]
        templates = [Template(np.frombuffer(v, dtype=np.float32).copy(), m) for _t, _e, _g, v, m in rows]
        watchlist = Watchlist([t for t, *_ in rows], templates, run.threshold)
        entries = len({e for _t, e, *_ in rows})
        where = HitContext(run.id, run.deployment_id, run.agency_id, run.threshold, WATCHLIST_MODEL_ID, entries,
                           {t: e for t, e, *_ in rows}, {t: g for t, _e, g, *_ in rows}, faces_per_hour)  # fmt: skip
        return watchlist, where


def _with_rate(where: HitContext, watcher: Watcher, now: float) -> HitContext:
    """``where`` with the faces per hour this run has seen up to video time ``now``."""
    faces = sum(watcher.counts.by_hour.values())
    rate = faces * 3600.0 / max(now, MIN_RATE_WINDOW_S)
    return HitContext(where.run_id, where.deployment_id, where.agency_id, where.threshold, where.model_id,
                      where.entries, where.entry_of, where.gallery_of, rate)  # fmt: skip


__all__ = ["MIN_RATE_WINDOW_S", "RunSummary", "Watching"]
