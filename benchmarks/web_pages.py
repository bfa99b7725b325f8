"""Server time of every web page with a gallery of 100,000 subjects (target: under 200 ms each).

The gallery: 100,000 synthetic subjects, each with one template (a random unit vector) and
one kept face crop (a small encrypted JPEG), inserted straight into the database; beside them
five real people enrolled from photos, so that a search lists real candidates with real
photos. Then requests in every state (filed, approved, searched, reviewed, closed, an
emergency one) made through the service, and each role signed in through the sign-in form.

Each page is asked for ``--repeat`` times in-process (an ASGI client: no network), after one
warm-up; the result is its median and 95th percentile server time. Photos are separate,
lazily loaded requests (the review page names them, ``loading="lazy"``), so a page's time is
the HTML's. The anchor, in the same run, is ``GET /api/v1/health``: the framework's floor.

    python benchmarks/web_pages.py --faces ../shared/faces --out benchmarks/results
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

from facedocket.api import create_app
from facedocket.config import Settings
from facedocket.service import EnrolItem, RequestDraft, Service, open_service
from facedocket.store.tables import Gallery, Subject, TemplateRow
from facedocket.vision.models import TEMPLATE_MODEL_ID

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TARGET_MS = 200.0
REAL = {"Abdullah_Gul": [1, 2, 3], "Adrien_Brody": [1, 3], "Amelia_Vega": [1, 2, 3], "Ai_Sugiyama": [1, 3],
        "Aaron_Peirsol": [1, 2]}  # fmt: skip
PASSWORD = "benchmark harbour lantern {}"


def synthetic(service: Service, gallery_id: int, agency_id: int, subjects: int, chunk: int = 10_000) -> None:
    """``subjects`` subjects, each with a template and a kept (encrypted) face crop, inserted directly."""
    rng = np.random.default_rng(0)
    crop = io.BytesIO()
    PILImage.new("RGB", (32, 32), (128, 110, 100)).save(crop, "JPEG", quality=70)
    files = service.ctx.files
    now = datetime.now(UTC)
    with service.ctx.write() as session:
        first = (session.scalar(select(Subject.id).order_by(Subject.id.desc()).limit(1)) or 0) + 1
    for start in range(0, subjects, chunk):
        ids = range(first + start, first + min(start + chunk, subjects))
        vectors = rng.standard_normal((len(ids), 128)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with service.ctx.write() as session:
            session.execute(insert(Subject), [{"id": i, "gallery_id": gallery_id, "reference": f"S{i:07d}",
                                               "attributes": {}, "created": now, "last_interaction": now}
                                              for i in ids])  # fmt: skip
            session.execute(insert(TemplateRow), [{"gallery_id": gallery_id, "subject_id": i, "vector": v.tobytes(),
                                                   "model_id": TEMPLATE_MODEL_ID, "quality": 0.8,
                                                   "source_sha256": f"{i:064x}", "box": [], "created": now}
                                                  for i, v in zip(ids, vectors, strict=True)])  # fmt: skip
            template = session.execute(select(TemplateRow.id, TemplateRow.subject_id).where(
                TemplateRow.subject_id.in_(list(ids)))).all()  # fmt: skip
            for template_id, subject_id in template:
                files.seal(session, agency_id, "enrolment-crop", crop.getvalue(), media_type="image/jpeg",
                           gallery_id=gallery_id, subject_id=subject_id, template_id=template_id,
                           meta={"width": 32, "height": 32})  # fmt: skip
            gallery = session.get(Gallery, gallery_id)
            assert gallery is not None
            gallery.generation += 1
        print(f"  {min(start + chunk, subjects):,} synthetic subjects", file=sys.stderr)


def world(service: Service, faces: Path, subjects: int, requests: int) -> dict[str, Any]:
    """The agency, its people, the gallery and requests in every state (see the docstring)."""
    admin = service.accounts.authenticate(service.accounts.bootstrap("State Police", "admin").secret)
    service.policy.activate_policy(admin, "massachusetts-2020")
    people = {}
    for role in ("requester", "supervisor", "examiner", "auditor", "admin"):
        if role != "admin":
            service.accounts.create_user(admin, role, role)
        user_id = next(u.id for u in service.accounts.list_users(admin) if u.username == role)
        first = service.signin.sign_in(role, service.signin.set_password(admin, user_id))
        service.signin.change_password(first.secret, "", PASSWORD.format(user_id))
        people[role] = (PASSWORD.format(user_id), first.actor)
    gallery = service.galleries.create_gallery(admin, "booking", "county booking photos", "criminal investigations")
    items = [EnrolItem(p, str(faces / "dev" / p / f"{n}.jpg")) for p, ns in REAL.items() for n in ns]
    service.enrolment.enroll(admin, gallery.id, items)
    synthetic(service, gallery.id, admin.agency_id, subjects)
    start = time.perf_counter()
    service.galleries.rebuild_index(admin, gallery.id)
    print(f"  index rebuilt in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    actors = {role: service.signin.sign_in(role, password).actor for role, (password, _a) in people.items()}
    ids = _requests(service, actors, gallery.id, faces, requests)
    return {"people": people, "gallery": gallery.id, "requests": ids}


def _requests(service: Service, actors: dict[str, Any], gallery_id: int, faces: Path, count: int) -> dict[str, int]:
    probe = (faces / "dev" / "Amelia_Vega" / "7.jpg").read_bytes()
    ids: dict[str, int] = {}
    for n in range(count):
        case = service.requests.create_case(actors["requester"], f"B-{n:04d}", "robbery", "benchmark")
        basis = "emergency" if n == 1 else "court-order"
        draft = RequestDraft(case.id, basis, "benchmark request", "court order", f"CO-{n}", "Suffolk Superior Court",
                             "2026-11-20", galleries=[gallery_id])  # fmt: skip
        request = service.requests.file_request(actors["requester"], draft, probe, submit=True)
        if n % 3 == 0 and basis != "emergency":
            continue  # waits for approval
        if basis != "emergency":
            service.requests.decide_request(actors["supervisor"], request.id, True, "order checked")
        if n % 3 == 1:
            result = service.searches.search(actors["examiner"], request.id)
            ids.setdefault("searched", request.id)
            if n % 2 and basis != "emergency" and result.candidates:
                for c in result.candidates:
                    service.review.review_candidate(actors["examiner"], request.id, c.id, "not-a-match", "benchmark")
                service.review.conclude_request(actors["examiner"], request.id)
                service.requests.close_request(actors["requester"], request.id)
                ids.setdefault("closed", request.id)
        ids.setdefault("latest", request.id)
    return ids


def sign_in(client: TestClient, username: str, password: str) -> None:
    client.cookies.clear()
    form = client.get("/signin").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token, "no CSRF token on the sign-in form"
    answer = client.post("/signin", data={"csrf": token.group(1), "username": username, "password": password})
    assert answer.status_code == 200 and username in answer.text, answer.text[:300]


def timed(client: TestClient, path: str, repeat: int) -> dict[str, float]:
    client.get(path)  # warm-up (templates compiled, caches filled)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[-300:])
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "max_ms": round(times[-1], 2)}  # fmt: skip


def pages(made: dict[str, Any]) -> dict[str, list[str]]:
    """Each role's pages, by the role that sees them."""
    g, r = made["gallery"], made["requests"]
    return {
        "requester": ["/", "/requests", "/requests/new", f"/requests/{r['closed']}", "/policy", "/me"],
        "supervisor": ["/inbox", f"/requests/{r['latest']}"],
        "examiner": ["/review", f"/requests/{r['searched']}", f"/requests/{r['searched']}/review"],
        "auditor": ["/audit", "/evaluations", "/reports"],
        "admin": ["/admin/users", "/galleries", f"/galleries/{g}", f"/galleries/{g}?offset=99950"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, default=Path("../shared/faces"), help="the shared photos")
    parser.add_argument("--subjects", type=int, default=100_000, help="synthetic subjects in the gallery")
    parser.add_argument("--requests", type=int, default=30, help="requests made through the service")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        service = open_service(settings)
        start = time.perf_counter()
        made = world(service, args.faces, args.subjects, args.requests)
        print(f"world made in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        client = TestClient(create_app(settings, service))
        anchor = timed(client, "/api/v1/health", args.repeat)
        results: dict[str, dict[str, Any]] = {}
        for role, paths in pages(made).items():
            sign_in(client, role, made["people"][role][0])
            for path in paths:
                results[path] = {"role": role, **timed(client, path, args.repeat)}
                results[path]["x_anchor"] = round(results[path]["median_ms"] / anchor["median_ms"], 1)
                print(f"{role:10s} {path:40s} {results[path]['median_ms']:8.1f} ms (p95 "
                      f"{results[path]['p95_ms']:.1f})", file=sys.stderr)  # fmt: skip
        service.close()
    slowest = max(results.values(), key=lambda r: r["median_ms"])
    out = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": describe(),
        "gallery_subjects": args.subjects + len(REAL),
        "requests": args.requests,
        "repeat": args.repeat,
        "target_ms": TARGET_MS,
        "anchor": {"path": "/api/v1/health", **anchor},
        "pages": results,
        "all_under_target": all(r["median_ms"] < TARGET_MS for r in results.values()),
        "slowest_median_ms": slowest["median_ms"],
        "note": "server time in-process (ASGI client, no network), median of the timed requests; photos load "
        "lazily in their own requests and are not part of a page's time. Rerun on a quiet machine.",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "web_pages.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("all_under_target", "slowest_median_ms", "machine")}, indent=2))


if __name__ == "__main__":
    main()
