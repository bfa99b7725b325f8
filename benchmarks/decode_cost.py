"""What hostile images under the limits cost to decode: peak memory and CPU, before and after.

Each image is decoded (and, with ``--analyse``, run through the face pipeline as
``facedocket detect`` does) in a fresh process; peak memory is the kernel's resident
high-water mark over that work (``VmHWM``, reset just before it), CPU is the process's
CPU time (all threads). ``--before REV`` runs the same images through the package as it
was at git revision REV (extracted to a temporary folder), in the same run.

    python benchmarks/decode_cost.py --before 9dba48e --out benchmarks/results
"""

# ruff: noqa: E402  (the machine description is imported from this folder)
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

_MEASURE = """
import json, resource, sys, time
from pathlib import Path
def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
from facedocket.vision.images import decode
import facedocket
data = Path(sys.argv[1]).read_bytes()
pipeline = None
if sys.argv[2] == "analyse":
    from facedocket.vision.pipeline import FacePipeline
    pipeline = FacePipeline()
    pipeline.analyse(decode(Path(sys.argv[3]).read_bytes()))
Path("/proc/self/clear_refs").write_text("5")
base, cpu = status("VmRSS"), time.process_time()
try:
    image = decode(data)
    faces = len(pipeline.analyse(image)) if pipeline else None
    result = {"shape": list(image.pixels.shape), "faces": faces}
except Exception as e:
    result = {"error": f"{type(e).__name__}: {str(e)[:160]}"}
result["peak_mb"] = round((status("VmHWM") - base) / 2**20)
result["cpu_s"] = round(time.process_time() - cpu, 2)
result["package"] = facedocket.__file__
print(json.dumps(result))
"""


def _save(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def hostile_images(folder: Path) -> dict[str, Path]:
    """The images of issue 11 (and the costliest modes at the 40 M-pixel limit), written to ``folder``."""
    sys.path.insert(0, str(REPO / "tests" / "vision"))
    from image_corpus import first_component, scan_bomb, scan_header

    stripes = np.zeros((6300, 6300), np.uint16)
    stripes[::7] = 40_000
    side = 6324
    ramp = (np.add.outer(np.arange(side) % 256, np.arange(side) % 256) // 2).astype(np.uint8)
    rgb = Image.fromarray(np.stack([ramp, ramp.T, ramp[::-1]], axis=2), "RGB")
    progressive = _save(Image.new("L", (6300, 6300), 100), "JPEG", progressive=True, quality=50)
    images = {
        "16-bit PNG 6300x6300": _save(Image.fromarray(stripes), "PNG"),
        "int32 TIFF 6300x6300": _save(Image.new("I", (6300, 6300), 70_000), "TIFF", compression="tiff_deflate"),
        "blank PNG 6300x6300": _save(Image.new("RGB", (6300, 6300), (128, 128, 128)), "PNG"),
        "progressive JPEG 6300x6300, 20,000 empty scans": scan_bomb(
            progressive, 20_000, scan_header([first_component(progressive)], 1, 63, 0, 0)
        ),
        "RGBA PNG 40 MP": _save(rgb.convert("RGBA"), "PNG", compress_level=1),
        "float TIFF 40 MP": _save(Image.fromarray(ramp.astype(np.float32) / 255), "TIFF", compression="tiff_deflate"),
        "progressive JPEG 4:4:4 40 MP": _save(rgb, "JPEG", progressive=True, subsampling=0, quality=90),
        "baseline JPEG 40 MP": _save(rgb, "JPEG", quality=90),
    }
    paths = {}
    for name, data in images.items():
        path = folder / (name.replace(" ", "_").replace(",", "") + ".img")
        path.write_bytes(data)
        paths[name] = path
    return paths


def measure(path: Path, package_root: Path | None, analyse: bool, warm: Path) -> dict[str, object]:
    env = dict(os.environ)
    if package_root is not None:
        env["PYTHONPATH"] = str(package_root)
    with tempfile.TemporaryDirectory() as scratch:  # run from outside the repository
        script = Path(scratch) / "measure.py"
        script.write_text(_MEASURE)
        args = [sys.executable, str(script), str(path), "analyse" if analyse else "decode", str(warm)]
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=scratch, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1][:200]}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    package = Path(str(result.pop("package")))
    expected = package_root if package_root is not None else REPO
    assert package.is_relative_to(expected), f"measured {package}, not the code under {expected}"
    return result


def extract(revision: str, folder: Path) -> Path:
    """The ``facedocket`` package as it was at ``revision``, extracted under ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "facedocket"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


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
    parser.add_argument("--before", help="git revision to compare with (e.g. the commit before the change)")
    parser.add_argument("--analyse", action="store_true", help="also run the face pipeline (as `detect` does)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results folder")
    args = parser.parse_args()
    warm = args.faces / "dev" / "Aaron_Peirsol" / "1.jpg"
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        images = hostile_images(Path(tmp))
        old = extract(args.before, Path(tmp) / "before") if args.before else None
        for name, path in images.items():
            row: dict[str, object] = {"image": name, "bytes": path.stat().st_size}
            if old is not None:
                row["before"] = measure(path, old, args.analyse, warm)
            row["after"] = measure(path, None, args.analyse, warm)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": describe(),
        "commit": _commit(),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "before": args.before,
        "work": "decode and face pipeline" if args.analyse else "decode",
        "note": "peak_mb: resident high-water mark of the work, MiB; cpu_s: CPU seconds of the process",
        "images": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = "decode_cost_analyse.json" if args.analyse else "decode_cost.json"
    (args.out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
