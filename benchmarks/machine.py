"""The machine a benchmark ran on, recorded with every result."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe(**extra: object) -> dict[str, object]:
    """CPU model, cores, memory, Python and platform, the load average, plus ``extra``."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **extra,
    }
