"""Watchlist matching on video through the service's deployment path: speed, alert latency,
recall and false alerts, with the watcher alone and the naive approach (detect and embed
every frame) in the same run.

Composed videos (tests/video/scenes.py): 1280x720, 25 fps, people from ../shared/faces/dev
crossing a shop backdrop, up to 5 in view, some small or blurred. Half of the people are on
a watchlist of 1,000 entries (their *other* photo; the rest of the entries are other dev
identities, none of them in the videos), enrolled and listed through the service (an
examiner adds each entry, a second supervisor approves it). Figures:

* ``realtime_factor``: seconds of video processed per second of wall time (decode included);
* ``alert_latency_p50_s``: a listed person's first frame in view to their first correct
  alert, on a simulated live clock (frame i arrives at i/fps; each frame's measured
  processing time, the alert's database write and encryption included, queues behind the
  previous one);
* ``alert_recall``: listed people in view with a correct alert / listed people in view;
* ``false_alerts_per_hour``: alerts naming the wrong entry or no listed person, per hour of
  video (repeats of an alert are merged into it);
* ``peak_rss_mb``: of the child process.

The top-level figures are the deployment's (``service.watching.watch``: the policy gate, the
watchlist from the database, alerts and crops written) at the threshold ``retail-watchlist``
requires for a list this long (``watchlists.max_false_alerts_per_face``); ``deployment``
holds them at the watchlist floor too and per threshold beside the model card's expected
false alerts per face; ``watcher`` holds the watcher alone at the search floor (FMR 1e-3).
The watcher, the naive approach and the deployment run in child processes (their own peak
RSS). The trackers (our IoU tracker, ByteTrack from ``trackers``) are compared on the
detections the watcher recorded. ``--sweep`` also tunes detection interval, detection size
and quality gate one at a time on the same videos.

    python benchmarks/video.py --data ../shared/faces/dev --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "video"))

import scenes  # noqa: E402
import video_eval  # noqa: E402
import video_service  # noqa: E402
from machine import describe  # noqa: E402

FPS, WIDTH, HEIGHT = 25, 1280, 720
MODEL = "dlib-resnet-v1"
PER_FACE = 0.01  # retail-watchlist: watchlists.max_false_alerts_per_face
SPARES = 40  # photos beyond the list's length, for those the enrolment refuses (no face, duplicates)


def build(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Render the videos and enrol the watchlist through the service; returns the job."""
    per_video = args.people // args.videos
    cast = scenes.pick_cast(args.data, per_video * args.videos, 0.5, seed=args.seed)
    people = list(cast.video_photo)
    videos = []
    for v in range(args.videos):
        group = people[v :: args.videos]
        sub = scenes.Cast({p: cast.video_photo[p] for p in group}, {p: cast.enrol_photo[p] for p in group})
        scene = scenes.street(sub, WIDTH, HEIGHT, FPS, args.seconds, 5, seed=args.seed + v, name=f"street{v}")
        path = scenes.render(scene, tmp / f"street{v}.mp4")
        videos.append({"path": str(path), "scene": video_eval.scene_to_json(scene)})
        print(f"rendered {path.name}: {len(scene.appearances)} people", file=sys.stderr)
    listed = sorted(cast.listed)
    in_videos = set(people)
    fillers = [p for p in scenes.people_with_photos(args.data, 1) if p not in in_videos]
    sources, references = [cast.enrol_photo[p] for p in listed], list(listed)
    for person in fillers:
        for n, photo in enumerate(sorted((args.data / person).glob("*.jpg"))):
            if len(sources) < args.watchlist + SPARES:
                sources.append(photo)
                references.append(f"{person}#{n}")
    home = tmp / "service"
    deployment = video_service.setup(home, sources, references, args.watchlist)
    print(
        f"watchlist: {len(deployment['labels'])} entries, {len(listed)} of them people in the videos", file=sys.stderr
    )
    return {"videos": videos, "listed": listed, **deployment}


def run_child(kind: str, job: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"job": job, "options": options}, f)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", kind, "--job", f.name],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    finally:
        os.unlink(f.name)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def child_main(kind: str, job_path: Path) -> None:
    spec = json.loads(job_path.read_text())
    job, options = spec["job"], spec["options"]
    import video_runs

    runs = {"watch": video_runs.watch, "naive": video_runs.naive, "deploy": video_service.deploy}
    result = runs[kind](job, options)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux keeps that across
    ``execve``, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def evaluate_watch(job: dict[str, Any], run: dict[str, Any], window: float | None = None) -> dict[str, Any]:
    per_video = [
        video_eval.evaluate(video_eval.scene_from_json(v["scene"]), job["labels"], set(job["listed"]), r, window)
        for v, r in zip(job["videos"][: len(run["videos"])], run["videos"], strict=True)
    ]
    return video_eval.combine(per_video, run)


def deployment_figures(job: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """The deployment run scored at its threshold (the watchlist floor) and at the threshold
    retail-watchlist requires for a list this long; per threshold, recall and false alerts
    beside the false alerts per face the model card expects (1 - (1 - FMR)^entries)."""
    from facedocket.governance.watchlists import false_alert_probability, needed_threshold

    entries = len(job["labels"])  # one template per entry
    at_floor = evaluate_watch(job, run)
    needed = needed_threshold(MODEL, entries, PER_FACE)
    assert needed is not None, "the model card cannot vouch for this list at the profile's limit"
    required = max(needed, run["threshold"])
    kept = [{**v, "hits": [h for h in v["hits"] if h["score"] >= required]} for v in run["videos"]]
    at_required = evaluate_watch(job, {**run, "videos": kept})
    unlisted = at_floor["people_in_view"] - at_floor["listed_in_view"]
    rows = [
        {**row, "false_alerts_per_unlisted_face": round(row["false_alerts"] / max(1, unlisted), 4),
         "card_false_alerts_per_face": round(float(false_alert_probability(MODEL, row["threshold"], entries) or 0), 4)}
        for row in at_floor["by_threshold"]
    ]  # fmt: skip
    return {
        "entries": entries, "max_false_alerts_per_face": PER_FACE, "threshold_floor": run["threshold"],
        "threshold_required": round(required, 6), "at_required": at_required, "at_floor": at_floor,
        "by_threshold": rows, "faces": [v["faces"] for v in run["videos"]],
        "run_reasons": [v["reason"] for v in run["videos"]],
    }  # fmt: skip


def write_sweep(
    out: Path, rows: list[dict[str, Any]], base: dict[str, Any], defaults: dict[str, Any], threshold: float
) -> None:
    baseline = {k: base[k] for k in (*video_eval.HEADLINE[:4], "false_alerts")}
    baseline["templates"] = base["stats"].get("templates")
    payload = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "machine": describe(),
        "note": "the watcher with one option changed at a time on the same videos",
        "defaults": defaults, "threshold": threshold, "baseline": baseline, "variants": rows,
    }  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "video_sweep.json").write_text(json.dumps(payload, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/faces/dev"), help="folder-per-identity photos")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results folder")
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each video")
    parser.add_argument("--people", type=int, default=60, help="people in the videos (half on the watchlist)")
    parser.add_argument("--watchlist", type=int, default=1000, help="watchlist entries")
    parser.add_argument("--naive-seconds", type=float, default=12.0, help="video seconds the naive approach runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sweep", action="store_true", help="also tune the options (writes video_sweep.json)")
    parser.add_argument("--child", choices=["watch", "naive", "deploy"], help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.job)
        return
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="facedocket-video-bench-") as tmp:
        job = build(args, Path(tmp))
        from facedocket.video.watch import WatchOptions

        defaults = asdict(WatchOptions())
        print("watcher (defaults) ...", file=sys.stderr)
        run = {**run_child("watch", job, defaults), "detect_every": defaults["detect_every"]}
        main_figures = evaluate_watch(job, run)
        print("naive (every frame) ...", file=sys.stderr)
        naive_run = run_child("naive", job, {"seconds": args.naive_seconds})
        naive = evaluate_watch(job, naive_run, window=args.naive_seconds)
        same_window = evaluate_watch(job, {**run, "videos": run["videos"][:1]}, window=args.naive_seconds)
        for key in ("realtime_factor", "wall_s"):  # the watcher's wall time covers the whole video
            same_window.pop(key)
        trackers = video_eval.compare_trackers(job, run)
        print("deployment (the service path) ...", file=sys.stderr)
        deployment = deployment_figures(job, run_child("deploy", job, {}))
        sweep = video_eval.sweep(job, defaults, run_child, evaluate_watch) if args.sweep else None
        if sweep is not None:
            write_sweep(args.out, sweep, main_figures, defaults, run["threshold"])
    required = deployment["at_required"]
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": describe(),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "video": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "videos": args.videos, "seconds_each": args.seconds,
                  "people": args.people, "watchlist_entries": len(job["labels"]),
                  "listed_in_videos": len(job["listed"])},
        "options": defaults,
        "path": "deployment: service.watching.watch under retail-watchlist, at the threshold the profile requires "
                "for this list (watchlists.max_false_alerts_per_face 0.01)",
        "threshold": deployment["threshold_required"],
        **{k: required[k] for k in video_eval.HEADLINE},
        "deployment": deployment,
        "watcher": {"threshold": run["threshold"], **{k: main_figures[k] for k in video_eval.HEADLINE},
                    "details": main_figures},
        "naive": {**naive, "window_s": args.naive_seconds},
        "watcher_same_window": same_window,
        "naive_realtime_ratio": round(main_figures["realtime_factor"] / naive["realtime_factor"], 2),
        "trackers": trackers,
        "wall_s": round(time.time() - started, 1),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "video.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("machine", "threshold", *video_eval.HEADLINE)}, indent=2))


if __name__ == "__main__":
    main()
