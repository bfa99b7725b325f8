"""Fuzz the image decoder and the face pipeline with hostile images made from real photos.

Hypothesis draws each case from ``tests/vision/image_corpus.py`` (byte flips, truncations,
format mixes, EXIF abuse, odd modes and depths, huge declared sizes, polyglots,
animations, scan bombs and marker floods, large images), decodes it with the default
limits and, when it decodes, runs the whole face pipeline on it (detection, alignment,
quality, templates). Each case ends in one of:

* refused: :class:`~facedocket.errors.InvalidImage`, a clean one-line refusal;
* analysed: decoded and searched for faces;
* other exception: anything else (must be 0).

and is also counted when it took over 5 s of CPU (this process's CPU time, all its
threads, so that other work on a shared machine does not inflate it; the longest wall
times are recorded too) or its peak memory (the kernel's resident high-water mark, reset
before each case) grew by over 800 MB (both must be 0).

    python benchmarks/fuzz_decoder.py --examples 10000 --out benchmarks/results
"""

# ruff: noqa: E402  (the test corpus and the machine description are imported from their folders)
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO / "tests" / "vision"))

from hypothesis import HealthCheck, Phase, given, seed, settings
from image_corpus import Case, hostile_images, seed_photos
from machine import describe
from peak_memory import peak, reset_peak

from facedocket.errors import InvalidImage
from facedocket.vision.images import DEFAULT_LIMITS, decode
from facedocket.vision.pipeline import FacePipeline, PipelineOptions

SLOW_S = 5.0
BIG_BYTES = 800 * 10**6


class Tally:
    """Counts per outcome and per kind of case, and the worst cases seen."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.by_kind: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.failures: list[dict[str, object]] = []
        self.slowest: list[tuple[float, str]] = []
        self.slowest_wall: list[tuple[float, str]] = []
        self.biggest: list[tuple[int, str]] = []

    def add(self, case: Case, outcome: str, seconds: float, grew: int, error: str = "", wall: float = 0.0) -> None:
        kind = case.kind
        for label in (
            outcome,
            *(["over 5 s"] if seconds > SLOW_S else []),
            *(["over 800 MB"] if grew > BIG_BYTES else []),
        ):
            self.outcomes[label] += 1
            self.by_kind[kind][label] += 1
        if outcome == "other exception" or seconds > SLOW_S or grew > BIG_BYTES:
            self.failures.append(
                {
                    "kind": case.kind,
                    "detail": case.detail,
                    "outcome": outcome,
                    "cpu_s": round(seconds, 2),
                    "wall_s": round(wall, 2),
                    "peak_mb": grew // 10**6,
                    "error": error,
                    "bytes": len(case.data),
                }
            )
        label = f"{case.kind}: {case.detail}"
        self.slowest = sorted([*self.slowest, (seconds, label)], reverse=True)[:5]
        self.slowest_wall = sorted([*self.slowest_wall, (wall, label)], reverse=True)[:5]
        self.biggest = sorted([*self.biggest, (grew, label)], reverse=True)[:5]


def run_case(pipeline: FacePipeline, case: Case, tally: Tally) -> None:
    """Decode one case and analyse it; record its outcome, CPU time and peak memory."""
    base = reset_peak()
    start, wall = time.process_time(), time.perf_counter()
    error = ""
    try:
        image = decode(case.data, DEFAULT_LIMITS, "fuzz case")
        pipeline.analyse(image)
        outcome = "analysed"
    except InvalidImage:
        outcome = "refused"
    except Exception as e:  # counting these is the point
        outcome, error = "other exception", "".join(traceback.format_exception_only(e)).strip()[:300]
    tally.add(case, outcome, time.process_time() - start, peak() - base, error, time.perf_counter() - wall)


def _commit() -> str:
    """The repository's commit, with ``+changes`` when the work tree differs from it."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "facedocket"], capture_output=True, text=True
    )
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "faces", help="the shared photos")
    parser.add_argument("--examples", type=int, default=10_000, help="how many cases to run")
    parser.add_argument("--seed", type=int, default=20_251_201, help="Hypothesis seed (the same seed, the same cases)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results folder")
    args = parser.parse_args()
    photos = seed_photos(args.faces)
    pipeline = FacePipeline(PipelineOptions(threads=1))
    tally = Tally()
    started = time.perf_counter()

    @seed(args.seed)
    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_images(photos))
    def fuzz(case: Case) -> None:
        run_case(pipeline, case, tally)
        done = sum(tally.outcomes[k] for k in ("refused", "analysed", "other exception"))
        if done % 500 == 0:
            print(f"{done} cases: {dict(tally.outcomes)}", file=sys.stderr)

    fuzz()
    cases = sum(tally.outcomes[k] for k in ("refused", "analysed", "other exception"))
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": describe(),
        "commit": _commit(),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "seed": args.seed,
        "photos": len(photos),
        "cases": cases,
        "wall_s": round(time.perf_counter() - started, 1),
        "counts": {k: tally.outcomes[k] for k in ("refused", "analysed", "other exception", "over 5 s", "over 800 MB")},
        "by_kind": {k: dict(v) for k, v in sorted(tally.by_kind.items())},
        "failures": tally.failures[:50],
        "slowest_cpu_s": [[round(s, 2), k] for s, k in tally.slowest],
        "slowest_wall_s": [[round(s, 2), k] for s, k in tally.slowest_wall],
        "largest_peak_mb": [[g // 10**6, k] for g, k in tally.biggest],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fuzz_decoder.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["counts"]))
    bad = result["counts"]
    sys.exit(1 if bad["other exception"] or bad["over 5 s"] or bad["over 800 MB"] else 0)


if __name__ == "__main__":
    main()
