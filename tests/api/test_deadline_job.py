"""The deadline job of `facedocket serve`: while the app runs, emergency requests whose
approval deadline has passed are expired and purged even when nobody touches them."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from facedocket.api import DeadlineJob

from .helpers import Api

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _expired(api: Api) -> list[str]:
    """Objects of request.expired events, read without going through anything that expires."""
    admin = api.service.accounts.authenticate(api.operator)
    return [
        e["object_id"] for e in [e.as_dict() for e in api.service.audit.list_audit(admin, action="request.expired")]
    ]


def test_the_app_expires_overdue_requests_on_its_own(
    make_api: Callable[..., Api], photo: Callable[[str, int], Path]
) -> None:
    api = make_api(expiry_interval_s=0.05)
    staff = api.staff(api.operator, "sp", "requester", "examiner")
    gallery = api.gallery(api.operator, "booking")
    assert api.enrol(staff["examiner"], gallery, "Aaron_Peirsol", photo("Aaron_Peirsol", 1)).status_code == 201
    emergency = {"legal_basis": "emergency", "justification": "a child is missing"}
    filed = api.file(staff["requester"], photo("Aaron_Peirsol", 3), [gallery], "kidnapping", **emergency)
    request = filed.json()["id"]
    assert api.search(staff["examiner"], request).status_code == 201
    api.clock.advance(hours=49)
    assert _expired(api) == []

    with TestClient(api.app):  # runs the lifespan: the job starts, and stops on the way out
        deadline = time.monotonic() + 20
        while not _expired(api) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _expired(api) == [str(request)]
    assert not [t for t in threading.enumerate() if t.name == "facedocket-deadlines"]
    status = api.ok("GET", f"/requests/{request}", staff["requester"])
    assert (status["status"], status["approval"]) == ("expired", "expired") and status["purged"]


class _Counting:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.requests = self  # stands in for the service's requests area

    def expire_overdue(self) -> list[int]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("database away")
        return []


def test_the_job_keeps_going_after_a_failure_and_stops() -> None:
    service = _Counting(fail=True)
    job = DeadlineJob(service, 0.01)  # type: ignore[arg-type]
    job.start()
    deadline = time.monotonic() + 10
    while service.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    job.stop()
    assert service.calls >= 3 and job.runs == 0  # every run failed, and it ran again
    calls = service.calls
    time.sleep(0.05)
    assert service.calls == calls


def test_interval_zero_turns_the_job_off() -> None:
    service = _Counting()
    job = DeadlineJob(service, 0)  # type: ignore[arg-type]
    job.start()
    time.sleep(0.05)
    job.stop()
    assert service.calls == 0
