"""The deployment path of benchmarks/video.py: the watchlist enrolled and put on the list
through the service (a retail agency, entries approved by a second person), and the videos
run through ``service.watching.watch`` — the policy gate, the watchlist read from the
database, alerts written with their encrypted crops, faces counted — in a child process.

The deployment runs under ``retail-watchlist`` with one change, made for the measurement:
``watchlists.max_false_alerts_per_face`` is left out, so that a 1,000-entry list may match at
the watchlist floor (FMR 1e-4) and the run's alerts show recall and false alerts at every
stricter threshold (one template per track: a track's score decides at any threshold).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from facedocket.config import Settings
from facedocket.governance.policy import PROFILES_DIR
from facedocket.service import DeploymentDraft, EnrolItem, EntryDraft, open_service
from facedocket.store.tables import Subject, TemplateRow
from facedocket.video.source import VideoReader

PROFILE = "retail-watchlist-bench"


def bench_profile() -> str:
    """retail-watchlist without the false-alerts-per-face limit (see the module docstring)."""
    text = (PROFILES_DIR / "retail-watchlist.toml").read_text(encoding="utf-8")
    text = text.replace('name = "retail-watchlist"', f'name = "{PROFILE}"')
    return text.replace("\nmax_false_alerts_per_face = 0.01\n", "\n")


def setup(home: Path, sources: list[Path], references: list[str], entries: int) -> dict[str, Any]:
    """Enrol ``sources`` under ``references`` into a watchlist, put the first ``entries``
    subjects enrolled on the list (added by an examiner, approved by a supervisor; the
    sources hold spares for photos the enrolment refuses), describe and authorise a
    deployment. Writes the listed templates to ``home/watchlist.npz`` for the watcher-only
    run. Returns the job part: home, the examiner's token, the deployment id, the labels."""
    service = open_service(Settings(home=home))
    token = service.accounts.bootstrap("Bench Stores", "admin")
    admin = service.accounts.authenticate(token.secret)
    service.policy.activate_policy_text(admin, bench_profile())
    secrets = {}
    for name, role in (("sup", "supervisor"), ("manager", "supervisor"), ("guard", "examiner")):
        _info, activation = service.accounts.create_user(admin, name, role)
        own = service.accounts.create_token(service.accounts.authenticate(activation.secret), name="bench")
        secrets[name] = own.secret
    sup, manager, guard = (service.accounts.authenticate(secrets[n]) for n in ("sup", "manager", "guard"))
    watchlist = service.watchlists.create_watchlist(sup, "bench", "LFW development photos").id
    started = time.perf_counter()
    items = [EnrolItem(ref, str(path)) for ref, path in zip(references, sources, strict=True)]
    report = service.enrolment.enroll(guard, watchlist, items)
    enrolled = [o.subject for o in report.outcomes if o.outcome == "enrolled"][:entries]
    print(f"enrolled {report.counts['enrolled']} of {len(items)} photos in {time.perf_counter() - started:.0f} s; "
          f"{len(enrolled)} listed", file=sys.stderr)  # fmt: skip
    for reference in enrolled:
        entry = service.watchlists.add_entry(
            guard, watchlist, EntryDraft(reference, "repeated-theft", "BENCH-1", "bench")
        )
        service.watchlists.approve_entry(manager, entry.id)
    draft = DeploymentDraft("bench", "bench.mp4", "benchmark", "composed videos", ["daily 00:00-24:00"], [watchlist],
                            dpia_reference="DPIA-bench", signage=True)  # fmt: skip
    deployment = service.deployments.create_deployment(sup, draft)
    service.deployments.authorise(manager, deployment.id, "AUTH-bench")
    with service.sessions() as session:
        rows = session.execute(
            select(TemplateRow.vector, Subject.reference)
            .join(Subject, Subject.id == TemplateRow.subject_id)
            .where(TemplateRow.gallery_id == watchlist, Subject.reference.in_(enrolled))
            .order_by(TemplateRow.id)
        ).all()
    labels = [label(r) for _v, r in rows]
    vectors = np.stack([np.frombuffer(v, dtype=np.float32) for v, _r in rows])
    np.savez(home / "watchlist.npz", vectors=vectors, labels=np.array(labels))
    service.close()
    return {"home": str(home), "secret": secrets["guard"], "deployment": deployment.id,
            "watchlist": str(home / "watchlist.npz"), "labels": labels, "threshold": deployment.threshold}  # fmt: skip


def label(reference: str) -> str:
    """The person a subject reference names (fillers are ``person#n``, one per photo)."""
    return reference.split("#", 1)[0]


def deploy(job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Each video through the deployment (one run each), frames stamped as the watcher-only
    run stamps them; the alerts read back from the database as hits."""
    from video_runs import _costs, _stamped, _warm

    service = open_service(Settings(home=Path(job["home"])))
    actor = service.accounts.authenticate(job["secret"])
    _warm(service.pipeline)
    first_label = {name: i for i, name in reversed(list(enumerate(job["labels"])))}
    videos, after = [], 0
    for video in job["videos"]:
        stamps: list[float] = []
        start = time.perf_counter()
        summary = service.watching.watch(
            actor, job["deployment"], video["path"], reader=_stamped(VideoReader(video["path"]), stamps)
        )
        end = time.perf_counter()
        alerts = service.alerts.list_alerts(actor, deployment_id=job["deployment"], after=after, limit=1000)
        after = max([a.id for a in alerts], default=after)
        hits = [{
            "hit_id": a.id, "track": a.track_id, "entry": first_label[label(a.reference or "")], "score": a.score,
            "time": a.video_time, "first_seen": a.video_time - a.latency_s, "box": a.box, "best_time": a.frame_time,
            "repeat_of": None, "repeats": a.repeats,
        } for a in alerts]  # fmt: skip
        videos.append({"wall_s": end - start, "frames": len(stamps), "costs": _costs(start, stamps, end), "hits": hits,
                       "tracks": [], "stats": {}, "faces": summary.faces, "reason": summary.reason})  # fmt: skip
    service.close()
    return {"videos": videos, "threshold": job["threshold"]}


__all__ = ["PROFILE", "bench_profile", "deploy", "label", "setup"]
