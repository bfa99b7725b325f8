"""Scoring benchmarks/video.py's runs against the scenes' ground truth, comparing trackers
and sweeping the watcher's options."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scenes

from facedocket.types import Box
from facedocket.video.tracking import IouTracker
from facedocket.vision.models import model_card

HEADLINE = ("realtime_factor", "alert_latency_p50_s", "alert_recall", "false_alerts_per_hour", "peak_rss_mb")


def scene_to_json(scene: scenes.Scene) -> dict[str, Any]:
    return {
        "width": scene.width, "height": scene.height, "fps": scene.fps, "duration": scene.duration,
        "seed": scene.seed, "name": scene.name,
        "appearances": [{**a.__dict__, "photo": str(a.photo)} for a in scene.appearances],
    }  # fmt: skip


def scene_from_json(data: dict[str, Any]) -> scenes.Scene:
    apps = tuple(
        scenes.Appearance(**{**a, "photo": Path(a["photo"]), "start": tuple(a["start"]), "end": tuple(a["end"])})
        for a in data["appearances"]
    )
    return scenes.Scene(data["width"], data["height"], data["fps"], data["duration"], apps, data["seed"], data["name"])


def person_at(scene: scenes.Scene, box: list[float], t: float) -> scenes.Appearance | None:
    """The appearance whose sprite holds the centre of ``box`` at ``t`` (nearest centre)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    best, best_d = None, float("inf")
    for a in scene.appearances:
        if not a.enter <= t < a.leave:
            continue
        left, top, right, bottom = a.sprite_box(t)
        if left <= cx <= right and top <= cy <= bottom:
            ax, ay = a.centre(t)
            d = (ax - cx) ** 2 + (ay - cy) ** 2
            if d < best_d:
                best, best_d = a, d
    return best


def live_finish(costs: list[float], fps: int) -> list[float]:
    """When each frame's processing ends if frame i arrives at i/fps and frames queue."""
    finish, done = [], 0.0
    for i, cost in enumerate(costs):
        done = max(i / fps, done) + cost
        finish.append(done)
    return finish


def evaluate(
    scene: scenes.Scene, labels: list[str], listed: set[str], run: dict[str, Any], window: float | None
) -> dict[str, Any]:
    """Recall, latency and false alerts of one video's hits."""
    end = scene.duration if window is None else min(window, scene.duration)
    seen = {a.identity: scene.first_seen(a) for a in scene.appearances}
    in_view = {p for p, t in seen.items() if t is not None and t < end}
    listed_in_view = in_view & listed
    finish = live_finish(run["costs"], scene.fps)
    first_correct: dict[str, float] = {}
    false_alerts, alerts, wrong_hits = 0, 0, []
    best_correct: dict[str, float] = {}
    for h in run["hits"]:
        if h["time"] >= end:
            continue
        person = person_at(scene, h["box"], h["best_time"])
        who = person.identity if person else None
        alerts += h["repeat_of"] is None
        if who is not None and labels[h["entry"]] == who:
            frame = min(round(h["time"] * scene.fps), len(finish) - 1)
            first_seen = seen[who] or 0.0
            first_correct[who] = min(first_correct.get(who, float("inf")), finish[frame] - first_seen)
            best_correct[who] = max(best_correct.get(who, 0.0), h["score"])
        elif h["repeat_of"] is None:
            false_alerts += 1
            wrong_hits.append({"person": who, "listed": who in listed, "entry_person": labels[h["entry"]],
                               "score": h["score"]})  # fmt: skip
    return {
        "video_s": end, "wall_s": run["wall_s"], "listed_in_view": len(listed_in_view),
        "people_in_view": len(in_view), "found": len(set(first_correct) & listed_in_view),
        "latencies": [first_correct[p] for p in sorted(first_correct)], "alerts": alerts,
        "false_alerts": false_alerts, "wrong_hits": wrong_hits, "tracks": len(run["tracks"]),
        "missed": sorted(listed_in_view - set(first_correct)),
        "correct_scores": [best_correct[p] for p in sorted(set(best_correct) & listed_in_view)],
    }  # fmt: skip


def combine(per_video: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    video_s = sum(v["video_s"] for v in per_video)
    wall_s = sum(v["wall_s"] for v in per_video)
    latencies = sorted(x for v in per_video for x in v["latencies"])
    listed = sum(v["listed_in_view"] for v in per_video)
    false = sum(v["false_alerts"] for v in per_video)
    unlisted = sum(v["people_in_view"] - v["listed_in_view"] for v in per_video)
    stats: dict[str, float] = {}
    for video in run["videos"]:
        for k, value in video["stats"].items():
            stats[k] = round(stats.get(k, 0) + value, 3)
    return {
        "realtime_factor": round(video_s / wall_s, 3),
        "alert_latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "alert_latency_p90_s": round(float(np.percentile(latencies, 90)), 3) if latencies else None,
        "alert_recall": round(sum(v["found"] for v in per_video) / listed, 4) if listed else None,
        "false_alerts_per_hour": round(false / (video_s / 3600), 2),
        "false_alerts": false,
        "alerts": sum(v["alerts"] for v in per_video),
        "peak_rss_mb": run["peak_rss_mb"],
        "video_s": round(video_s, 2),
        "wall_s": round(wall_s, 2),
        "listed_in_view": listed,
        "people_in_view": sum(v["people_in_view"] for v in per_video),
        "tracks": sum(v["tracks"] for v in per_video),
        "missed": [p for v in per_video for p in v["missed"]],
        "wrong_hits": [w for v in per_video for w in v["wrong_hits"]],
        "stats": stats,
        "faces_per_hour": round(sum(v["people_in_view"] for v in per_video) / (video_s / 3600)),
        "false_alerts_per_unlisted_face": round(false / max(1, unlisted), 4),
        "by_threshold": by_threshold(per_video, run, video_s, listed),
    }


def by_threshold(
    per_video: list[dict[str, Any]], run: dict[str, Any], video_s: float, listed: int
) -> list[dict[str, Any]]:
    """Recall and false alerts at the model card's stricter thresholds, from the same run's
    hits filtered by score (exact with one template per track: a track's best score decides)."""
    rows = []
    card = model_card("dlib-resnet-v1")
    assert card.calibration is not None
    for row in card.calibration.fmr_table:
        t = float(row["threshold"])
        if t < run["threshold"] - 1e-9:
            continue
        found = sum(s >= t for v in per_video for s in v["correct_scores"])
        false = sum(w["score"] >= t for v in per_video for w in v["wrong_hits"])
        rows.append({"fmr": row["fmr"], "threshold": t, "alert_recall": round(found / max(1, listed), 4),
                     "false_alerts": false, "false_alerts_per_hour": round(false / (video_s / 3600), 1)})  # fmt: skip
    return rows


# --- trackers -------------------------------------------------------------------------------


class _ByteTrack:
    """``trackers``' ByteTrack behind our Tracker protocol (its -1 means: no track yet)."""

    def __init__(self, detections_per_second: float, lost_s: float) -> None:
        from trackers import ByteTrackTracker

        self.inner = ByteTrackTracker(
            frame_rate=detections_per_second, lost_track_buffer=round(lost_s * 30), minimum_consecutive_frames=1
        )

    def update(self, boxes: list[Box], scores: list[float], time: float) -> list[int]:
        import supervision as sv

        xyxy = np.array([[b.left, b.top, b.right, b.bottom] for b in boxes], dtype=np.float32).reshape(-1, 4)
        dets = sv.Detections(xyxy=xyxy, confidence=np.array(scores, dtype=np.float32))
        out = self.inner.update(dets)
        ids = [-1] * len(boxes)
        for box, tid in zip(out.xyxy, out.tracker_id, strict=True):
            k = int(np.argmin(np.abs(xyxy - box).sum(axis=1)))
            ids[k] = int(tid)
        return ids


def _score_tracker(scene: scenes.Scene, log: list[dict[str, Any]], tracker: Any) -> dict[str, Any]:
    last_id: dict[str, int] = {}
    ids_of: dict[str, set[int]] = {}
    people_of: dict[int, set[str]] = {}
    switches = unassigned = 0
    spent = 0.0
    for step in log:
        boxes = [Box(*b) for b in step["boxes"]]
        started = time.perf_counter()
        ids = tracker.update(boxes, step["scores"], step["time"])
        spent += time.perf_counter() - started
        for box, tid in zip(step["boxes"], ids, strict=True):
            person = person_at(scene, box, step["time"])
            if tid < 0:
                unassigned += 1
                continue
            if person is None:
                continue
            who = person.identity
            switches += who in last_id and last_id[who] != tid
            last_id[who] = tid
            ids_of.setdefault(who, set()).add(tid)
            people_of.setdefault(tid, set()).add(who)
    return {
        "id_switches": switches,
        "fragments": sum(len(v) - 1 for v in ids_of.values()),
        "impure_tracks": sum(len(v) > 1 for v in people_of.values()),
        "unassigned_detections": unassigned,
        "tracks": len(people_of),
        "people": len(ids_of),
        "us_per_update": round(spent / max(1, len(log)) * 1e6, 1),
    }


def compare_trackers(job: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """Both trackers on the detections the watcher recorded, summed over the videos."""
    every = run.get("detect_every", 5)
    totals: dict[str, dict[str, float]] = {}
    for video, result in zip(job["videos"], run["videos"], strict=True):
        scene = scene_from_json(video["scene"])
        makers: dict[str, Callable[[], Any]] = {
            "iou": IouTracker,
            "iou_no_distance_pass": lambda: IouTracker(max_jump=0.0),
            "bytetrack": lambda fps=scene.fps: _ByteTrack(fps / every, 1.0),
        }
        for name, make in makers.items():
            scored = _score_tracker(scene, result["detections"], make())
            bucket = totals.setdefault(name, {})
            for k, v in scored.items():
                bucket[k] = bucket.get(k, 0) + v
    for bucket in totals.values():
        bucket["us_per_update"] = round(bucket["us_per_update"] / len(job["videos"]), 1)
    return totals


# --- sweep -----------------------------------------------------------------------------------

VARIANTS: list[dict[str, Any]] = [
    {"detect_every": 3},
    {"detect_every": 8},
    {"detect_side": 480},
    {"detect_side": 960},
    {"min_quality": 0.3},
    {"min_quality": 0.7},
    {"floor_quality": 0.1},
    {"max_templates": 2, "retry_margin": 0.05},
    {"patience_s": 1.2},
]


def sweep(
    job: dict[str, Any], defaults: dict[str, Any], run_child: Callable[..., dict[str, Any]],
    evaluate: Callable[..., dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    """The watcher with one option changed at a time, on the same videos."""
    rows = []
    for change in VARIANTS:
        run = run_child("watch", job, {**defaults, **change})
        figures = evaluate(job, run)
        rows.append({"change": change, **{k: figures[k] for k in HEADLINE}, "false_alerts": figures["false_alerts"],
                     "templates": figures["stats"].get("templates")})  # fmt: skip
    return rows
