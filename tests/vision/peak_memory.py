"""Peak memory of a piece of work, measured by the kernel (resident set high-water mark).

Pillow and libjpeg allocate outside Python's allocator, so tracemalloc does not see them;
the kernel's ``VmHWM`` does. Writing ``5`` to ``/proc/self/clear_refs`` resets it (Linux
4.0 and later), so the peak of each decode can be measured in one process. Used by the
decoder tests and by ``benchmarks/fuzz_decoder.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss() -> int:
    """Resident memory now, in bytes."""
    return _status("VmRSS")


def reset_peak() -> int:
    """Reset the high-water mark to the current resident size; returns that size."""
    Path("/proc/self/clear_refs").write_text("5")
    return rss()


def peak() -> int:
    """Highest resident memory since the last :func:`reset_peak`, in bytes."""
    return _status("VmHWM")


_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path.insert(0, {here!r})
    import peak_memory
    from facedocket.vision.images import decode
    data = Path({path!r}).read_bytes()
    pipeline = None
    if {analyse!r}:
        from facedocket.vision.pipeline import FacePipeline
        pipeline = FacePipeline()
        pipeline.analyse(decode(Path({warm!r}).read_bytes()))  # models loaded and warm before measuring
    base = peak_memory.reset_peak()
    result = {{}}
    try:
        image = decode(data)
        result["shape"] = list(image.pixels.shape)
        result["scale"] = image.scale
        if pipeline is not None:
            result["faces"] = len(pipeline.analyse(image))
    except Exception as e:
        result["error"] = f"{{type(e).__name__}}: {{e}}"
    result["peak_bytes"] = peak_memory.peak() - base
    print(json.dumps(result))
    """
)


def measure_decode(path: Path, analyse: bool = False, warm: Path | None = None) -> dict[str, object]:
    """Decode ``path`` (and run the face pipeline on it when ``analyse``) in a fresh Python
    process; returns its shape or error and ``peak_bytes``, the peak memory of that work."""
    script = _SCRIPT.format(here=str(Path(__file__).parent), path=str(path), analyse=analyse, warm=str(warm))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"the measuring process failed: {done.stderr[-2000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
