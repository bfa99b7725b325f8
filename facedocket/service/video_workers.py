"""Background workers: deployments matching inside ``facedocket serve``, started and stopped
through the API.

Each started deployment gets a thread that runs :meth:`Watching.watch` and keeps it going:

* a time window closes (the gate refuses only for ``deployment.windows``): the worker waits
  (``waiting``) until the next window opens and starts a new run, through the gate again;
* the gate refuses for any other rule, the stop is asked for, or a file ends: it stops;
* the run dies on an error (a decoder crash, a live source gone past its reconnect
  attempts, a bug): the worker records ``deployment.worker_restarted`` with the error and
  starts it again after a back-off (``restart_backoff_s``, doubled each time up to
  ``max_backoff_s``; after ``max_restarts`` in a row it gives up, recorded).

A live source that drops is reconnected by the reader itself (``video/source.py``), with
its own back-off; the worker only sees that as ``deployment.source_dropped`` /
``source_reconnected`` events. On shutdown every worker is stopped; a deployment left
running by a process that ended without stopping it is stopped (recorded) when the next
server starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from facedocket.errors import Conflict, PolicyDenied
from facedocket.governance.permissions import Actor, require
from facedocket.service.context import SYSTEM, Context
from facedocket.service.deployments import DeploymentInfo, Deployments, RunInfo
from facedocket.service.watching import RunSummary, Watching
from facedocket.store.queries import deployments as queries
from facedocket.video.events import Hit
from facedocket.video.source import SourceDropped, SourceItem, SourceReconnected

log = logging.getLogger("facedocket.video")

ReaderFactory = Callable[[str], Iterable[SourceItem]]
"""Opens a deployment's source (the seam to cameras and the network; default: the reader)."""

WINDOW_RULE = "deployment.windows"


@dataclass(frozen=True)
class WorkerStatus:
    """What a worker is doing: ``matching``, ``waiting`` (for a window), ``restarting`` or
    ``stopped``; its current run, restarts, last error, and the source's state."""

    deployment_id: int
    state: str
    run_id: int | None = None
    started: datetime | None = None
    restarts: int = 0
    last_error: str = ""
    source: str = "connecting"
    frames: int = 0
    alerts: int = 0


class _Worker:
    def __init__(self, deployment_id: int, actor: Actor) -> None:
        self.deployment_id, self.actor = deployment_id, actor
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.status = WorkerStatus(deployment_id, "starting")
        self.stop_reason = ""

    def mark(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)


class VideoWorkers:
    """The background workers of one service (see the module docstring)."""

    def __init__(
        self,
        ctx: Context,
        deployments: Deployments,
        watching: Watching,
        restart_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        max_restarts: int | None = 20,
        open_reader: ReaderFactory | None = None,
        window_poll_s: float = 60.0,
    ) -> None:
        self.ctx, self.deployments, self.watching = ctx, deployments, watching
        self.restart_backoff_s, self.max_backoff_s, self.max_restarts = restart_backoff_s, max_backoff_s, max_restarts
        self.open_reader = open_reader
        self.window_poll_s = window_poll_s
        self._workers: dict[int, _Worker] = {}
        self._lock = threading.Lock()

    # --- start, stop, status ------------------------------------------------------------

    def start(self, actor: Actor, deployment_id: int) -> DeploymentInfo:
        """Start matching in the background. The gate runs before this returns: a refusal is
        raised (PolicyDenied) and no worker starts, unless the only rule it breaks is that no
        time window is open; then the worker waits for the next window (``waiting``)."""
        require(actor, "deployment.run")
        with self._lock:
            if self._alive(deployment_id):
                raise Conflict(f"deployment {deployment_id} is running already; stop it first")
            worker = _Worker(deployment_id, actor)
            self._workers[deployment_id] = worker
        first = None
        try:
            first = self.deployments.start(actor, deployment_id)
        except PolicyDenied as refused:
            if not refused.failures or any(rule != WINDOW_RULE for rule, _ in refused.failures):
                with self._lock:
                    self._workers.pop(deployment_id, None)
                raise
            self.deployments.set_status(deployment_id, "waiting")
            worker.mark(state="waiting")
        except BaseException:
            with self._lock:
                self._workers.pop(deployment_id, None)
            raise
        worker.thread = threading.Thread(target=self._main, args=(worker, first), daemon=True,
                                         name=f"facedocket-deployment-{deployment_id}")  # fmt: skip
        worker.thread.start()
        return self.deployments.get_deployment(actor, deployment_id)

    def stop(self, actor: Actor, deployment_id: int, timeout_s: float = 30.0) -> DeploymentInfo:
        """Stop a deployment's worker (or a run left open by a process that ended)."""
        require(actor, "deployment.run")
        self.deployments.get_deployment(actor, deployment_id)  # NotFound for another agency's
        with self._lock:
            worker = self._workers.get(deployment_id)
        if worker is None or worker.thread is None or not worker.thread.is_alive():
            self.deployments.stop_stale(actor, deployment_id, f"stopped by {actor.username}")
            return self.deployments.get_deployment(actor, deployment_id)
        worker.stop_reason = f"stopped by {actor.username}"
        worker.stop.set()
        worker.thread.join(timeout_s)
        return self.deployments.get_deployment(actor, deployment_id)

    def status(self, deployment_id: int) -> WorkerStatus | None:
        with self._lock:
            worker = self._workers.get(deployment_id)
        return worker.status if worker is not None else None

    def stop_all(self, timeout_s: float = 30.0) -> None:
        """Stop every worker (the server is shutting down)."""
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.stop_reason = "the server stopped"
            worker.stop.set()
        for worker in workers:
            if worker.thread is not None:
                worker.thread.join(timeout_s)

    def close_orphans(self) -> list[int]:
        """Stop (recorded) the runs that a process which ended left open; their ids."""
        with self.ctx.read() as session:
            rows = [d.id for d in queries.with_status(session, ("running", "waiting"))]
        closed = []
        for deployment_id in rows:
            if self._alive(deployment_id):
                continue
            with self.ctx.read() as session:
                row = queries.deployment(session, deployment_id)
                agency = row.agency_id if row else None
            if agency is None:
                continue
            self.deployments.stop_stale(SYSTEM, deployment_id, "the process running it ended")
            closed.append(deployment_id)
        return closed

    def _alive(self, deployment_id: int) -> bool:
        worker = self._workers.get(deployment_id)
        return worker is not None and worker.thread is not None and worker.thread.is_alive()

    # --- the worker's thread ------------------------------------------------------------

    def _main(self, worker: _Worker, first: RunInfo | None) -> None:
        delay, restarts, run = self.restart_backoff_s, 0, first
        waiting = first is None
        try:
            while not worker.stop.is_set():
                if waiting and not self._wait_for_window(worker, [(WINDOW_RULE, "")]):
                    return
                waiting = False
                try:
                    summary = self._run(worker, run)
                    run = None
                except PolicyDenied as refused:
                    run = None
                    if not self._wait_for_window(worker, refused.failures):
                        return
                    continue
                except Exception as exc:  # the run died: say so, wait, start it again
                    run = None
                    restarts += 1
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    if self.max_restarts is not None and restarts > self.max_restarts:
                        self._record(worker, {"error": error, "restarts": restarts - 1, "gave_up": True})
                        worker.mark(state="stopped", last_error=error)
                        return
                    self._record(worker, {"error": error, "restarts": restarts, "retry_in_s": delay})
                    log.warning("deployment %s: worker died (%s); restarting in %s s", worker.deployment_id, error,
                                delay)  # fmt: skip
                    worker.mark(state="restarting", restarts=restarts, last_error=error)
                    worker.stop.wait(delay)
                    delay = min(delay * 2, self.max_backoff_s)
                    continue
                delay, restarts = self.restart_backoff_s, 0
                if summary.refused and all(rule == WINDOW_RULE for rule, _ in summary.refused):
                    if not self._wait_for_window(worker, summary.refused):
                        return
                    continue
                return  # stopped, refused for good, or a file that ended
        finally:
            worker.mark(state="stopped")
            self.deployments.set_status(worker.deployment_id, "stopped")

    def _run(self, worker: _Worker, started: RunInfo | None) -> RunSummary:
        """One run: the first was started (gated) by :meth:`start`; later ones start here."""
        actor = worker.actor

        def seen(event: Any) -> None:
            status = worker.status
            if isinstance(event, Hit):
                worker.mark(alerts=status.alerts + 1)
            elif isinstance(event, SourceDropped):
                worker.mark(source=f"dropped: {event.error}")
            elif isinstance(event, SourceReconnected):
                worker.mark(source="connected")

        deployment = self.deployments.get_deployment(actor, worker.deployment_id)
        try:
            reader = self.open_reader(self.deployments.source_of(deployment.id)) if self.open_reader else None
        except BaseException as exc:
            if started is not None:  # the run the gate began ends with the error
                self.deployments.finish(started, f"error: {type(exc).__name__}: {exc}"[:200], actor)
            raise
        worker.mark(state="matching", source="connecting")
        summary = self.watching.watch(actor, deployment.id, reader=reader, stop=worker.stop, on_event=seen,
                                      run=started, stop_reason=lambda: worker.stop_reason)  # fmt: skip
        worker.mark(run_id=summary.run_id, frames=summary.frames)
        return summary

    def _wait_for_window(self, worker: _Worker, failures: list[tuple[str, str]]) -> bool:
        """Wait until a window is open if the gate refused only because none is; False when
        the refusal is for good (or the stop came). The gate runs again once one opens."""
        if not failures or any(rule != WINDOW_RULE for rule, _ in failures):
            worker.mark(state="stopped", last_error="; ".join(f"{r}: {w}" for r, w in failures))
            return False
        self.deployments.set_status(worker.deployment_id, "waiting")
        worker.mark(state="waiting")
        while not worker.stop.is_set():
            opening = self.deployments.next_opening(worker.deployment_id)
            if opening is None and self.deployments.window_open(worker.deployment_id):
                return True
            wait = self.window_poll_s if opening is None else (opening - self.ctx.clock()).total_seconds()
            worker.stop.wait(max(0.01, min(wait, self.window_poll_s)))
        return False

    def _record(self, worker: _Worker, details: dict[str, Any]) -> None:
        with self.ctx.read() as session:
            row = queries.deployment(session, worker.deployment_id)
            agency = row.agency_id if row else None
        self.ctx.record(SYSTEM, "deployment.worker_restarted", "deployment", worker.deployment_id, details,
                        agency_id=agency)  # fmt: skip


__all__ = ["ReaderFactory", "VideoWorkers", "WorkerStatus"]
