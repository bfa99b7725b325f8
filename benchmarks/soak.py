"""Load and soak: ``facedocket serve`` under concurrent searches and enrolment.

Prepares a data directory (a gallery of real photos, one approved request per search
client), starts ``facedocket serve`` on 127.0.0.1 (SQLite, or a throwaway PostgreSQL
server), and drives it for ``--duration`` seconds: ``--clients`` clients each searching
their request over and over, ``--enrollers`` clients uploading photos to enrol. It records
requests, errors by status, p50/p95/p99 latency per kind, the server's memory over time
and the load average; then stops the server and checks that the audit chain verifies and
that every gallery's index file agrees with the database (``service.indexes.verify``).

    python benchmarks/soak.py --db sqlite --clients 50 --enrollers 2 --duration 600 \\
        --faces ../shared/faces --out benchmarks/results

The machine is shared with other work: every result records the load average; latency
figures measured under load are upper bounds, to be rerun on a quiet machine.
"""

# ruff: noqa: E402  (the machine description and the test helpers are imported from their folders)
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests"))

import httpx
from machine import describe
from pg_testserver import PostgresServer, free_port
from policy_texts import PERMISSIVE

import facedocket
from facedocket.config import Settings
from facedocket.errors import FaceDocketError
from facedocket.service import EnrolItem, RequestDraft, open_service
from facedocket.service.search import EMPTY_LABEL

API = "/api/v1"


@dataclass
class World:
    """What the load needs: tokens, the gallery, the requests, the photos left to enrol."""

    examiner: str
    admin: str
    gallery: int
    requests: list[int]
    to_enrol: list[tuple[str, Path]]


@dataclass
class Tally:
    """Latencies (with when they ended) and statuses per kind of request: ``search`` (a
    request searched again), ``first_search`` (each client's first search of its request:
    the probe's faces are computed then) and ``enrol``."""

    latencies: defaultdict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    statuses: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def add(self, kind: str, seconds: float, status: int) -> None:
        self.latencies[kind].append((time.monotonic() - self.started, seconds))
        self.statuses[kind][status] += 1

    def summary(self, duration: float, window: float = 60.0) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for kind, values in self.latencies.items():
            ordered = sorted(seconds for _t, seconds in values)
            result[kind] = {
                "requests": len(values),
                "per_second": round(len(values) / duration, 2),
                "statuses": dict(sorted(self.statuses[kind].items())),
                "errors": sum(n for status, n in self.statuses[kind].items() if status >= 400),
                **_percentiles(ordered),
            }
            if kind == "search":  # the same figures per window of the run: does it drift?
                windows: defaultdict[int, list[float]] = defaultdict(list)
                for t, seconds in values:
                    windows[int(t // window)].append(seconds)
                result[kind]["windows"] = [
                    {"from_s": int(w * window), "requests": len(v), **_percentiles(sorted(v))}
                    for w, v in sorted(windows.items())
                ]
        result["transport_errors"] = dict(self.errors)
        return result


def _percentiles(ordered: list[float]) -> dict[str, float | None]:
    return {
        "p50_s": _pct(ordered, 50), "p95_s": _pct(ordered, 95), "p99_s": _pct(ordered, 99),
        "max_s": round(ordered[-1], 3) if ordered else None,
        "mean_s": round(statistics.fmean(ordered), 3) if ordered else None,
    }  # fmt: skip


def _pct(ordered: list[float], p: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[index], 3)


def prepare(settings: Settings, faces: Path, gallery_size: int, requests: int) -> World:
    """A gallery of ``gallery_size`` people (their first photo), ``requests`` approved
    requests whose probes are other photos of enrolled people, the remaining photos to enrol."""
    people = sorted(p for p in (faces / "dev").iterdir() if p.is_dir())
    with_two = [p for p in people if len(list(p.glob("*.jpg"))) >= 2]
    enrolled, rest = with_two[:gallery_size], [p for p in people if p not in with_two[:gallery_size]]
    service = open_service(settings)
    try:
        token = service.accounts.bootstrap("State Police", "soak-admin")
        admin = service.accounts.authenticate(token.secret)
        service.policy.activate_policy_text(admin, PERMISSIVE)
        actors, secrets = {}, {}
        for role in ("requester", "examiner", "supervisor"):
            _info, activation = service.accounts.create_user(admin, f"soak-{role}", role)
            secret = service.accounts.create_token(
                service.accounts.authenticate(activation.secret), None, "soak"
            ).secret
            actors[role], secrets[role] = service.accounts.authenticate(secret), secret
        gallery = service.galleries.create_gallery(admin, "soak booking photos", "dev set", "criminal investigations")
        items = [EnrolItem(p.name, str(p / "1.jpg")) for p in enrolled]
        report = service.enrolment.enroll(admin, gallery.id, items)
        print(f"gallery {gallery.id}: {dict(report.counts)} in {report.seconds:.0f} s", flush=True)
        request_ids = []
        probes = _probes(service, enrolled, requests)
        for number in range(requests):
            person = probes[number % len(probes)]
            case = service.requests.create_case(actors["requester"], f"SOAK-{number}", "robbery", "soak test")
            draft = RequestDraft(case.id, "warrant", "soak test", "search warrant", f"SW-{number}", "Court",
                                 "2026-01-05", "", [gallery.id], "still-image", None)  # fmt: skip
            filed = service.requests.file_request(actors["requester"], draft, (person / "2.jpg").read_bytes(), True)
            service.requests.decide_request(actors["supervisor"], filed.id, True, "the warrant covers it")
            request_ids.append(filed.id)
        to_enrol = [(p.name, photo) for p in rest for photo in sorted(p.glob("*.jpg"))]
        to_enrol += [(p.name, photo) for p in enrolled for photo in sorted(p.glob("*.jpg"))[2:]]
        return World(secrets["examiner"], token.secret, gallery.id, request_ids, to_enrol)
    finally:
        service.close()


def _probes(service: Any, enrolled: list[Path], wanted: int) -> list[Path]:
    """Enrolled people whose second photo shows one face (a probe a search can use)."""
    found = []
    for person in enrolled:
        try:
            service.pipeline.template(service.pipeline.load(person / "2.jpg"))
        except FaceDocketError:
            continue
        found.append(person)
        if len(found) >= wanted:
            break
    return found


def start_server(home: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from facedocket.cli import main; main()", "--home", str(home), "serve",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped at start: {(home / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{API}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise SystemExit("the server did not answer /health within 120 s")


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def search_client(client: httpx.AsyncClient, world: World, request_id: int, until: float, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {world.examiner}"}
    first = True
    while time.monotonic() < until:
        start = time.perf_counter()
        try:
            response = await client.post(f"{API}/requests/{request_id}/searches", json={}, headers=headers)
        except httpx.HTTPError as exc:
            tally.errors[f"search {type(exc).__name__}"] += 1
            continue
        seconds = time.perf_counter() - start
        tally.add("first_search" if first else "search", seconds, response.status_code)
        if first and response.status_code == 201 and response.json()["summary"] == EMPTY_LABEL:
            tally.errors["probe person not found"] += 1
        first = False


async def enrol_client(client: httpx.AsyncClient, world: World, until: float, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {world.admin}"}
    while time.monotonic() < until and world.to_enrol:
        reference, photo = world.to_enrol.pop()
        files = {"image": (photo.name, photo.read_bytes(), "image/jpeg")}
        start = time.perf_counter()
        try:
            response = await client.post(f"{API}/galleries/{world.gallery}/subjects", data={"reference": reference},
                                         files=files, headers=headers)  # fmt: skip
        except httpx.HTTPError as exc:
            tally.errors[f"enrol {type(exc).__name__}"] += 1
            continue
        tally.add("enrol", time.perf_counter() - start, response.status_code)


async def sample(pid: int, until: float, every: float, samples: list[dict[str, Any]], started: float) -> None:
    while time.monotonic() < until:
        samples.append({"t_s": round(time.monotonic() - started, 1), "rss_mb": rss_mb(pid),
                        "load_average": [round(x, 2) for x in os.getloadavg()]})  # fmt: skip
        await asyncio.sleep(every)


async def drive(port: int, world: World, args: argparse.Namespace, pid: int) -> tuple[Tally, list[dict[str, Any]]]:
    samples: list[dict[str, Any]] = []
    # connections idle for 4 s are not reused: the server closes them after 5 s (uvicorn's
    # keep-alive), and a request sent on one it is closing fails with a ReadError
    limits = httpx.Limits(max_connections=args.clients + args.enrollers + 4, keepalive_expiry=4.0)
    timeout = httpx.Timeout(120.0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=timeout) as client:
        tally = Tally()
        started = tally.started
        until = started + args.duration
        tasks = [search_client(client, world, world.requests[i], until, tally) for i in range(args.clients)]
        tasks += [enrol_client(client, world, until, tally) for _ in range(args.enrollers)]
        tasks.append(sample(pid, until, args.sample_every, samples, started))
        await asyncio.gather(*tasks)
    return tally, samples


def check_afterwards(settings: Settings) -> dict[str, Any]:
    """The audit chain and every gallery's index against the database, from a new process's view."""
    service = open_service(settings)
    try:
        admin = service.accounts.authenticate(settings.home.joinpath("admin-token").read_text().strip())
        chain = service.audit.verify_audit(admin)
        galleries = service.galleries.list_galleries(admin)
        indexes = {str(g.id): service.indexes.verify(g.id) for g in galleries}
        return {"audit_chain": chain.as_dict(), "indexes_agree": indexes,
                "templates": {str(g.id): g.templates for g in galleries}}  # fmt: skip
    finally:
        service.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="facedocket-soak-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEDOCKET_")}
    env |= {"FACEDOCKET_HOME": str(home), "FACEDOCKET_AUTH_FAILURE_LIMIT": "1000"}
    postgres = None
    if args.db == "postgresql":
        postgres = PostgresServer().start()
        env["FACEDOCKET_DATABASE_URL"] = postgres.create_database("soak")
    settings = Settings(home=home, database_url=env.get("FACEDOCKET_DATABASE_URL", ""))
    try:
        world = prepare(settings, args.faces, args.gallery, args.clients)
        home.joinpath("admin-token").write_text(world.admin)
        port = free_port()
        server = start_server(home, port, env)
        load_before = [round(x, 2) for x in os.getloadavg()]
        print(f"serving on 127.0.0.1:{port} (pid {server.pid}); load {load_before}", flush=True)
        tally, samples = asyncio.run(drive(port, world, args, server.pid))
        server.send_signal(signal.SIGINT)  # a graceful stop: index files written, refusals recorded
        server.wait(timeout=120)
        after = check_afterwards(settings)
    finally:
        if postgres is not None:
            postgres.stop()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    rss = [s["rss_mb"] for s in samples if s["rss_mb"] is not None]
    return {
        "benchmark": "soak",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "tag": args.tag,
        "facedocket_source": str(Path(facedocket.__file__).resolve().parent),
        "machine": describe(load_before=load_before, note="shared machine: rerun on a quiet one"),
        "config": {
            "db": args.db,
            "clients": args.clients,
            "enrollers": args.enrollers,
            "duration_s": args.duration,
            "gallery": args.gallery,
            "host": "127.0.0.1",
        },
        "results": tally.summary(args.duration),
        "memory": {
            "rss_mb_first": rss[0] if rss else None,
            "rss_mb_max": max(rss, default=None),
            "rss_mb_last": rss[-1] if rss else None,
            "samples": samples,
        },
        "afterwards": after,
    }


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--clients", type=int, default=50, help="Search clients, each with its own request.")
    parser.add_argument("--enrollers", type=int, default=2, help="Clients uploading photos to enrol.")
    parser.add_argument("--duration", type=float, default=600.0, help="Seconds of load (bounded).")
    parser.add_argument("--gallery", type=int, default=300, help="People enrolled before the load.")
    parser.add_argument("--sample-every", type=float, default=5.0, help="Seconds between memory samples.")
    parser.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "faces")
    parser.add_argument("--out", type=Path, help="Write soak-<db>-<clients>.json here.")
    parser.add_argument("--tag", default="", help="Added to the result's file name.")
    parser.add_argument("--keep", action="store_true", help="Keep the data directory (and the server's log).")
    args = parser.parse_args()
    result = run(args)
    text = json.dumps(result, indent=2)
    summary = {k: v for k, v in result["results"].items()}
    print(json.dumps({"results": summary, "afterwards": result["afterwards"]["audit_chain"]["ok"],
                      "indexes": result["afterwards"]["indexes_agree"], "memory_max": result["memory"]["rss_mb_max"]},
                     indent=2))  # fmt: skip
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        name = f"soak-{args.db}-{args.clients}{'-' + args.tag if args.tag else ''}.json"
        (args.out / name).write_text(text + "\n")


if __name__ == "__main__":
    main()
