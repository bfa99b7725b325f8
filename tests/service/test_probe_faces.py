"""The faces of probe photos are computed once and kept a while (issue 11, item 5: the
probe's template was recomputed at every search, two thirds of the server's work under
load), and a purge or a retention run forgets them."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

from facedocket.service.probes import AnalysedProbe, ProbeCache

from .support import ENROLLED, World, approved_request, items_for, probe


def _enrolled(world: World) -> None:
    world.service.enrolment.enroll(world.admin, world.gallery.id, items_for({"Abdullah_Gul": ENROLLED["Abdullah_Gul"]}))


def test_a_request_searched_again_does_not_analyse_its_probe_again(world: World) -> None:
    """Filing the request analyses its probe (it is decoded then anyway); no search after it does."""
    service, op = world.service, world.operator
    _enrolled(world)
    request = approved_request(service, op, probe("Abdullah_Gul"), [world.gallery.id])
    misses = service.ctx.probes.misses  # filing analysed the probe already
    first = service.searches.search(op.examiner, request)
    again = [service.searches.search(op.examiner, request, k=k) for k in (1, 3, 5)]
    assert service.ctx.probes.misses == misses and service.ctx.probes.hits >= 4
    assert all(r.candidates[0].subject_reference == "Abdullah_Gul" for r in [first, *again])
    assert {r.candidates[0].score for r in [first, *again]} == {first.candidates[0].score}


def test_a_purge_forgets_the_probe(world: World) -> None:
    service, op = world.service, world.operator
    _enrolled(world)
    data = probe("Abdullah_Gul")
    request = approved_request(service, op, data, [world.gallery.id], legal_basis="emergency")
    service.searches.search(op.examiner, request)  # an emergency search before approval
    key = (hashlib.sha256(data).hexdigest(), world.gallery.model_id)
    assert service.ctx.probes._fresh(key) is not None
    service.requests.decide_request(op.supervisor, request, False, "no emergency after all")  # denied: purged
    assert service.ctx.probes._fresh(key) is None


NOTHING = AnalysedProbe(0, 0, ())


def test_another_model_is_another_entry_and_a_purge_forgets_every_model() -> None:
    probes = ProbeCache(size=10, ttl=timedelta(minutes=15), clock=Clock())
    made: list[str] = []
    for key in (("p", "dlib"), ("p", "sface"), ("p", "dlib"), ("q", "dlib")):
        probes.get(key, lambda k=key: made.append(k[1]) or NOTHING)  # type: ignore[func-returns-value]
    assert made == ["dlib", "sface", "dlib"]
    probes.forget("p")
    assert len(probes) == 1 and probes._fresh(("q", "dlib")) is not None


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_kept_for_a_while_and_at_most_size_photos() -> None:
    clock = Clock()
    probes = ProbeCache(size=2, ttl=timedelta(minutes=15), clock=clock)
    made: list[str] = []

    def make(name: str) -> AnalysedProbe:
        made.append(name)
        return NOTHING

    for name in ("a", "b", "a", "c", "a", "b"):
        probes.get((name, "m"), lambda n=name: make(n))
    assert made == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came
    clock.now += timedelta(minutes=16)
    probes.get(("a", "m"), lambda: make("a"))
    assert made[-1] == "a" and len(probes) <= 2
    assert ProbeCache(size=0, ttl=timedelta(minutes=15), clock=clock).get(("x", "m"), lambda: make("x")) == NOTHING
    assert made[-1] == "x"


def test_concurrent_searches_of_one_probe_analyse_it_once() -> None:
    probes = ProbeCache(size=10, ttl=timedelta(minutes=15), clock=Clock())
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow() -> AnalysedProbe:
        calls.append(1)
        started.set()
        release.wait(5)
        return NOTHING

    threads = [threading.Thread(target=probes.get, args=(("p", "m"), slow)) for _ in range(8)]
    for thread in threads:
        thread.start()
    started.wait(5)
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1 and probes.hits == 7
