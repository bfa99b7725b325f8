"""Enrolment uploads running in the background, so the page can show live progress.

A job runs ``service.enrolment.enroll`` on a thread as the person who started it; the page
asks for its progress every second (htmx) until it ends. Jobs live in the server's memory:
the enrolment itself is in the database batch by batch, so a restart loses only the progress
display (running the upload again skips what was enrolled).
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field

from facedocket.errors import FaceDocketError, NotFound
from facedocket.governance.permissions import Actor
from facedocket.service import EnrolItem, Service

MAX_JOBS = 200


@dataclass
class EnrolmentJob:
    id: str
    gallery_id: int
    user_id: int
    total: int
    done: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    error: str = ""
    finished: bool = False

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.done / self.total)


class Jobs:
    """The enrolment jobs of one server (see the module docstring)."""

    def __init__(self) -> None:
        self._jobs: dict[str, EnrolmentJob] = {}
        self._lock = threading.Lock()

    def start(self, service: Service, actor: Actor, gallery_id: int, items: list[EnrolItem]) -> EnrolmentJob:
        job = EnrolmentJob(secrets.token_urlsafe(12), gallery_id, actor.user_id, len(items))
        with self._lock:
            if len(self._jobs) >= MAX_JOBS:  # forget the oldest finished ones
                for old in [j for j in self._jobs.values() if j.finished][: MAX_JOBS // 2]:
                    del self._jobs[old.id]
            self._jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(service, actor, job, items), daemon=True,
                                  name=f"enrolment-{job.id}")  # fmt: skip
        thread.start()
        return job

    def _run(self, service: Service, actor: Actor, job: EnrolmentJob, items: list[EnrolItem]) -> None:
        def advance(n: int) -> None:
            job.done += n

        try:
            report = service.enrolment.enroll(actor, job.gallery_id, items, progress=advance, batch_size=16)
            job.counts = report.counts
        except FaceDocketError as error:
            job.error = str(error)
        except Exception as error:  # the thread must end with a state the page can show
            job.error = f"enrolment failed: {type(error).__name__}; the server log has the details"
            raise
        finally:
            job.done = job.total if not job.error else job.done
            job.finished = True

    def get(self, actor: Actor, job_id: str) -> EnrolmentJob:
        """A job the actor started; NotFound for anyone else's."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.user_id != actor.user_id:
            raise NotFound("no such enrolment upload (it may have ended before the server restarted)")
        return job
