"""Index benchmark: exact and HNSW search over synthetic face-like galleries.

For each gallery size it builds both index kinds from the same templates and measures
build time, memory per template, single-threaded search latency (p50/p99 per query over
``--passes`` timed passes through the probes, and each pass's p50), recall@10 of HNSW
against exact search, and the share of mated probes whose identity is in the top 10.
Results go to ``<out>/index_search.json`` with the machine described (and its memory
latency: nanoseconds per random 128-byte read, at the start and the end of the run), and
each run adds a line to ``<out>/index_search_history.jsonl``.

    python benchmarks/index.py --sizes 10000,100000 --out benchmarks/results
    python benchmarks/index.py --sizes 1000000 --real templates.npz   # `facedocket embed --out`
    python benchmarks/index.py --sizes 1000000 --ef-search 192,256 --cache .cache/index-bench

With ``--cache DIR`` each HNSW graph is saved after its build (keyed by the data and the
graph settings) and loaded on the next run instead of rebuilt, with its original build
time and memory growth (a 1M graph takes about 15 minutes to build on 2 cores and about
4 seconds to load). ``make bench`` builds afresh.

Synthetic templates (``--geometry``):

* ``face`` (default), calibrated on dlib templates of the dev photos after L2
  normalisation, which all lie in a narrow cone (norm of their mean 0.91; participation
  ratio of the spectrum about 31): same-person cosine median 0.96, different-person
  median 0.84. Identity centres are ``normalise(mu + 0.378 * u)`` with ``mu`` a fixed unit
  vector and ``u`` Gaussian with a power-law spectrum (``lambda_i ~ i^-0.8``, sum 1,
  participation ratio 35); each template is ``normalise(centre + 0.204 * v)`` with ``v``
  drawn like ``u``. Measured figures land in the JSON under ``data``.
* ``sphere``: identity centres uniform on the unit sphere, template noise N(0, I/128)
  scaled by 0.577 so that same-person cosine is about 0.75 and different-person about
  0 +- 0.09. This is the harder case for a graph index (high intrinsic dimension).

Each identity has ``--per-identity`` templates (5) in the gallery; a mated probe is one
more template of an enrolled identity (a fresh draw near its centre).
"""

# ruff: noqa: E402  (thread limits must be set before NumPy is imported)

from __future__ import annotations

import os

# Single-threaded NumPy BLAS for the latency figures (threadpoolctl, when installed, also
# limits it around the timing loop). FAISS threads are set with omp_set_num_threads: all
# cores while building, one while timing searches.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import contextlib
import gc
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from rich.console import Console
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe

from facedocket.matching import hnsw
from facedocket.matching.index import IndexCorrupt, VectorIndex, load_index, rebuild

DIM = 128
FACE_MEAN_WEIGHT = 1.0
FACE_CENTRE_SPREAD = 0.378
FACE_TEMPLATE_NOISE = 0.204
FACE_SPECTRUM_POWER = 0.8
SPHERE_TEMPLATE_NOISE = 0.577

console = Console(stderr=True)


@dataclass
class Gallery:
    """Templates with identity labels, plus probes with the identity they belong to."""

    name: str
    ids: np.ndarray
    vectors: np.ndarray
    labels: np.ndarray
    probes: np.ndarray
    probe_labels: np.ndarray


# --- data ---------------------------------------------------------------------------------


def _normalise(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


class Synthetic:
    """Face-like or sphere templates drawn from one seeded generator."""

    def __init__(self, geometry: str, seed: int) -> None:
        self.geometry = geometry
        self.rng = np.random.default_rng(seed)
        spectrum = np.arange(1, DIM + 1, dtype=np.float64) ** -FACE_SPECTRUM_POWER
        self.scale = np.sqrt(spectrum / spectrum.sum()).astype(np.float32)
        self.mean = _normalise(self.rng.standard_normal((1, DIM)).astype(np.float32))[0]

    def _noise(self, n: int) -> np.ndarray:
        g = self.rng.standard_normal((n, DIM), dtype=np.float32)
        return g * self.scale if self.geometry == "face" else g / np.sqrt(DIM, dtype=np.float32)

    def centres(self, n: int) -> np.ndarray:
        if self.geometry == "sphere":
            return _normalise(self.rng.standard_normal((n, DIM), dtype=np.float32))
        return _normalise(FACE_MEAN_WEIGHT * self.mean + FACE_CENTRE_SPREAD * self._noise(n))

    def templates(self, centres: np.ndarray) -> np.ndarray:
        noise = FACE_TEMPLATE_NOISE if self.geometry == "face" else SPHERE_TEMPLATE_NOISE
        return _normalise(centres + noise * self._noise(len(centres)))


def synthetic_gallery(gen: Synthetic, count: int, per_identity: int, probes: int) -> Gallery:
    identities = -(-count // per_identity)
    centres = gen.centres(identities)
    labels = np.repeat(np.arange(identities), per_identity)[:count]
    vectors = np.empty((count, DIM), dtype=np.float32)
    for start in range(0, count, 200_000):
        vectors[start : start + 200_000] = gen.templates(centres[labels[start : start + 200_000]])
    probe_labels = gen.rng.choice(identities, size=probes, replace=False)
    ids = gen.rng.permutation(count).astype(np.int64) + 1
    return Gallery(
        f"synthetic-{gen.geometry}", ids, vectors, labels, gen.templates(centres[probe_labels]), probe_labels
    )


def real_gallery(path: Path) -> Gallery:
    """Real templates from an .npz (``templates``, ``found``, optional ``paths``); one
    template of each identity with two or more is held out as its mated probe."""
    data = np.load(path)
    found = data["found"].astype(bool)
    vectors = _normalise(data["templates"][found].astype(np.float32))
    if "paths" in data:
        names = np.array([Path(str(p)).parent.name for p in data["paths"][found]])
    else:
        names = np.arange(len(vectors)).astype(str)
    labels = np.unique(names, return_inverse=True)[1]
    first = np.unique(labels, return_index=True)[1]
    held = first[np.bincount(labels)[labels[first]] >= 2]
    keep = np.setdiff1d(np.arange(len(vectors)), held)
    ids = np.arange(len(keep), dtype=np.int64) + 1
    return Gallery("real", ids, vectors[keep], labels[keep], vectors[held], labels[held])


def cosine_stats(gallery: Gallery, rng: np.random.Generator, pairs: int = 20_000) -> dict[str, float]:
    """Median same-person and different-person cosine of a gallery (sampled pairs)."""
    a = rng.integers(0, len(gallery.vectors), pairs)
    b = rng.integers(0, len(gallery.vectors), pairs)
    cos = np.einsum("nd,nd->n", gallery.vectors[a], gallery.vectors[b])
    same = (gallery.labels[a] == gallery.labels[b]) & (a != b)
    mates = np.flatnonzero(gallery.labels[:-1] == gallery.labels[1:])[:pairs]
    mated = np.einsum("nd,nd->n", gallery.vectors[mates], gallery.vectors[mates + 1])
    return {
        "mated_cosine_median": round(float(np.median(mated)), 3) if len(mated) else float("nan"),
        "impostor_cosine_median": round(float(np.median(cos[~same & (a != b)])), 3),
        "impostor_cosine_p99": round(float(np.percentile(cos[~same & (a != b)], 99)), 3),
    }


# --- measuring ----------------------------------------------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc/self/statm)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def build(kind: str, gallery: Gallery, threads: int, options: dict[str, Any]) -> tuple[VectorIndex, float, int]:
    """Build an index with ``threads`` FAISS threads; returns it, seconds and RSS growth."""
    gc.collect()
    faiss.omp_set_num_threads(threads)
    before = rss_bytes()
    start = time.perf_counter()
    index = rebuild(kind, gallery.ids, gallery.vectors, dim=DIM, **options)
    seconds = time.perf_counter() - start
    return index, seconds, rss_bytes() - before


def cached_build(
    kind: str, gallery: Gallery, threads: int, options: dict[str, Any], cache: Path | None, key: str
) -> tuple[VectorIndex, float, int]:
    """:func:`build`, or the graph a previous run saved under ``cache`` for the same ``key``
    (with that run's build seconds and memory growth)."""
    if cache is None or kind != "hnsw":
        return build(kind, gallery, threads, options)
    path, sidecar = cache / f"{key}.fdindex", cache / f"{key}.json"
    if path.is_file() and sidecar.is_file():
        try:
            index, _generation = load_index(path)
            recorded = json.loads(sidecar.read_text())
            console.log(f"loaded {path} (built in {recorded['build_seconds']} s)")
            return index, float(recorded["build_seconds"]), int(recorded["grown"])
        except (IndexCorrupt, KeyError, ValueError) as e:
            console.log(f"rebuilding: {path} unusable ({e})")
    index, seconds, grown = build(kind, gallery, threads, options)
    cache.mkdir(parents=True, exist_ok=True)
    index.save(path, generation=0)
    sidecar.write_text(json.dumps({"build_seconds": seconds, "grown": grown, "threads": threads}) + "\n")
    return index, seconds, grown


def random_read_ns(rows: int = 1_000_000, reads: int = 15_000, repeats: int = 20) -> float:
    """Median nanoseconds per read of a random 128-byte row of a ``rows``-row array: the
    memory latency an HNSW walk pays per distance, recorded with each run because it moves
    on a shared machine."""
    rng = np.random.default_rng(0)
    table = rng.integers(0, 256, (rows, DIM), dtype=np.uint8)
    times = []
    for _ in range(repeats):
        picks = rng.integers(0, rows, reads)
        start = time.perf_counter()
        table[picks]  # the gather is the measurement
        times.append(time.perf_counter() - start)
    return round(float(np.median(times)) / reads * 1e9, 1)


def latencies(index: VectorIndex, probes: np.ndarray, k: int, passes: int, advance: Callable[[], None]) -> np.ndarray:
    """Milliseconds per single-query search, one FAISS thread: ``passes`` rows, each one
    pass over all probes in order."""
    faiss.omp_set_num_threads(1)
    index.search(probes[:5], k)  # warm up
    times = np.empty((passes, len(probes)))
    with _one_blas_thread():
        for p in range(passes):
            for i, probe in enumerate(probes):
                start = time.perf_counter()
                index.search(probe[None, :], k)
                times[p, i] = time.perf_counter() - start
                advance()
    return times * 1e3


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k ids that the approximate top-k also holds."""
    hits = [
        len(np.intersect1d(a[a >= 0], e[e >= 0])) / max((e >= 0).sum(), 1) for a, e in zip(approx, exact, strict=True)
    ]
    return float(np.mean(hits))


def mated_top10(ids: np.ndarray, gallery: Gallery) -> float:
    """Share of probes whose identity owns one of its top-10 ids."""
    label_of = np.full(int(gallery.ids.max()) + 2, -1, dtype=np.int64)
    label_of[gallery.ids] = gallery.labels
    found = label_of[np.where(ids >= 0, ids, -1)] == gallery.probe_labels[:, None]
    return float(found.any(axis=1).mean())


# --- one gallery --------------------------------------------------------------------------


def run_gallery(gallery: Gallery, args: argparse.Namespace, progress: Progress) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    exact_ids: np.ndarray | None = None
    # exact_below=0: measure the graph even on a gallery small enough for the exact fallback.
    hnsw_options = {
        "m": args.m,
        "ef_construction": args.ef_construction,
        "shortlist": args.shortlist,
        "exact_below": 0,
    }
    key = ""  # names a cached graph; the data's hash is only worth taking when there is a cache
    if args.cache is not None:
        data = hashlib.sha256(gallery.ids.tobytes() + gallery.vectors.tobytes()).hexdigest()[:16]
        key = f"{gallery.name}-{len(gallery.ids)}-{data}-m{args.m}-efc{args.ef_construction}-format{hnsw.FORMAT}"
    for kind in ("exact", "hnsw"):
        task = progress.add_task(f"{gallery.name} {len(gallery.ids):,} {kind}: build", total=None)
        options = hnsw_options if kind == "hnsw" else {}
        index, seconds, grown = cached_build(kind, gallery, args.build_threads, options, args.cache, key)
        progress.update(task, description=f"{gallery.name} {len(gallery.ids):,} {kind}: search")
        if exact_ids is None:
            faiss.omp_set_num_threads(args.build_threads)
            exact_ids = index.search(gallery.probes, 10)[1]
        for ef in args.ef_search if kind == "hnsw" else [None]:
            if ef is not None:
                index.ef_search = ef  # type: ignore[attr-defined]
            rows.append(
                measure(index, gallery, exact_ids, args.passes, progress, task)
                | {
                    "gallery": gallery.name,
                    "kind": kind,
                    "count": len(gallery.ids),
                    "ef_search": ef,
                    "build_seconds": round(seconds, 2),
                    "build_threads": args.build_threads,
                    "bytes_per_template": round(grown / len(gallery.ids), 1),
                    "structure_bytes_per_template": round(index.nbytes / len(gallery.ids), 1),
                }
            )
            console.log(_summary(rows[-1]))
        progress.remove_task(task)
        del index
    return rows


def _summary(row: dict[str, Any]) -> str:
    ef = f" ef={row['ef_search']}" if row["ef_search"] else ""
    return (
        f"{row['gallery']} {row['count']:,} {row['kind']}{ef}: "
        f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
        f"recall@10 {row['recall_at_10']}, mated top-10 {row['mated_top10']}, "
        f"{row['structure_bytes_per_template']} B/template, build {row['build_seconds']} s"
    )


def measure(
    index: VectorIndex, gallery: Gallery, exact_ids: np.ndarray, passes: int, progress: Progress, task: Any
) -> dict[str, Any]:
    progress.update(task, total=passes * len(gallery.probes), completed=0)
    times = latencies(index, gallery.probes, 10, passes, lambda: progress.advance(task))
    ids = index.search(gallery.probes, 10)[1]
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p99_ms": round(float(np.percentile(times, 99)), 3),
        "p50_ms_by_pass": [round(float(np.percentile(row, 50)), 3) for row in times],
        "recall_at_10": round(recall(ids, exact_ids), 4),
        "mated_top10": round(mated_top10(ids, gallery), 4),
        "probes": len(gallery.probes),
        "passes": passes,
    }


# --- main ---------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--sizes",
        type=_ints,
        default=[10_000, 100_000],
        help="gallery sizes, comma-separated (default 10000,100000)",
    )
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for index_search.json")
    p.add_argument(
        "--geometry",
        choices=["face", "sphere"],
        default="face",
        help="synthetic template geometry (see above)",
    )
    p.add_argument("--per-identity", type=int, default=5, help="gallery templates per identity (default 5)")
    p.add_argument("--probes", type=int, default=500, help="mated probes per gallery (default 500)")
    p.add_argument(
        "--passes",
        type=int,
        default=3,
        help="timed passes over the probes; p50/p99 pool all of them, p50_ms_by_pass shows the spread (default 3)",
    )
    p.add_argument(
        "--real",
        type=Path,
        help=".npz of real templates (arrays templates, found, paths) as an extra gallery",
    )
    p.add_argument("--m", type=int, default=hnsw.M, help=f"HNSW M (default {hnsw.M})")
    p.add_argument(
        "--ef-construction",
        type=int,
        default=hnsw.EF_CONSTRUCTION,
        help=f"HNSW efConstruction (default {hnsw.EF_CONSTRUCTION})",
    )
    p.add_argument(
        "--ef-search",
        type=_ints,
        default=[hnsw.EF_SEARCH],
        help=f"HNSW efSearch values to measure, comma-separated (default {hnsw.EF_SEARCH})",
    )
    p.add_argument(
        "--shortlist",
        type=int,
        default=hnsw.SHORTLIST,
        help=f"HNSW candidates re-scored exactly (default {hnsw.SHORTLIST})",
    )
    p.add_argument(
        "--build-threads",
        type=int,
        default=os.cpu_count() or 1,
        help="FAISS threads while building (default: all cores)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default 0)")
    p.add_argument("--cache", type=Path, help="folder to keep built HNSW graphs in and reuse them from")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    memory = {"random_read_ns_start": random_read_ns()}
    gen = Synthetic(args.geometry, args.seed)
    rows: list[dict[str, Any]] = []
    data: dict[str, Any] = {"geometry": args.geometry, "per_identity": args.per_identity}
    with Progress(console=console, transient=True) as progress:
        for size in args.sizes:
            gallery = synthetic_gallery(gen, size, args.per_identity, min(args.probes, size // args.per_identity))
            data.setdefault("cosine", cosine_stats(gallery, gen.rng))
            rows += run_gallery(gallery, args, progress)
            del gallery
        if args.real:
            real = real_gallery(args.real)
            data["real"] = {"path": str(args.real), **cosine_stats(real, gen.rng)}
            rows += run_gallery(real, args, progress)
    memory["random_read_ns_end"] = random_read_ns()
    write(args, rows, data, memory)
    return 0


def write(args: argparse.Namespace, rows: list[dict[str, Any]], data: dict[str, Any], memory: dict[str, float]) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(numpy=np.__version__, faiss=faiss.__version__),
        "memory_latency": memory,
        "settings": {
            "search_threads": 1,
            "k": 10,
            "passes": args.passes,
            "hnsw": {"m": args.m, "ef_construction": args.ef_construction, "shortlist": args.shortlist},
        },
        "data": data,
        "results": rows,
    }
    path = args.out / "index_search.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    history = args.out / "index_search_history.jsonl"
    with history.open("a") as f:
        f.write(json.dumps(_history_line(report)) + "\n")
    console.print(f"wrote {path}, and a line in {history}")


def _commit() -> str | None:
    """The checkout's commit (``+changes`` when files other than results differ from it),
    or None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"],
            cwd=root,
            capture_output=True,
        )
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _history_line(report: dict[str, Any]) -> dict[str, Any]:
    """One run in a line: when, at which commit, the machine's CPU, load and memory latency,
    and each row's latency and recall; search times on a shared machine move between runs,
    and this keeps every run instead of only the last."""
    keep = ("gallery", "count", "kind", "ef_search", "p50_ms", "p99_ms", "p50_ms_by_pass", "recall_at_10")
    return {
        "created": report["created"],
        "commit": _commit(),
        "cpu": report["machine"].get("cpu"),
        "load_average": report["machine"].get("load_average"),
        "memory_latency": report.get("memory_latency"),
        "passes": report["settings"]["passes"],
        "results": [{key: row.get(key) for key in keep} for row in report["results"]],
    }


if __name__ == "__main__":
    sys.exit(main())
