"""The longer schemathesis pass over the REST API (``make fuzz``): every operation, as every
role, with ``--examples`` generated requests each (valid and invalid data, boundary values),
through ``tests/api/test_fuzz_api.py``. Records the operations, the requests sent, the
statuses answered per operation, and the failures: server errors, undocumented statuses and
answers outside their schema (each must be 0).

    python benchmarks/fuzz_api.py --examples 200 --out benchmarks/results
"""

# ruff: noqa: E402  (the machine description is imported from its folder)
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest
from machine import describe


class Outcomes:
    """A pytest plugin that keeps each operation's outcome."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        name = report.nodeid.split("::", 1)[-1]
        if report.passed:
            self.passed.append(name)
        elif report.failed:
            self.failed[name] = str(report.longrepr)[-2000:]


def run(examples: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        tally = Path(scratch) / "statuses.json"
        os.environ["API_FUZZ_EXAMPLES"] = str(examples)
        os.environ["API_FUZZ_TALLY"] = str(tally)
        outcomes = Outcomes()
        start = time.perf_counter()
        code = pytest.main(
            [str(REPO / "tests" / "api" / "test_fuzz_api.py"), "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO)],
            plugins=[outcomes],
        )
        seconds = time.perf_counter() - start
        statuses: dict[str, int] = json.loads(tally.read_text()) if tally.exists() else {}
    by_status: Counter[str] = Counter()
    for key, count in statuses.items():
        by_status[key.rsplit(" ", 1)[1]] += count
    return {
        "benchmark": "fuzz_api",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": describe(),
        "examples_per_operation": examples,
        "seconds": round(seconds, 1),
        "operations": len(outcomes.passed) + len(outcomes.failed),
        "operations_failed": len(outcomes.failed),
        "requests": sum(statuses.values()),
        "server_errors": sum(
            n for status, n in by_status.items() if status.startswith("5") and status not in ("503", "507")
        ),
        "by_status": dict(sorted(by_status.items())),
        "by_operation": statuses,
        "failures": outcomes.failed,
        "pytest_exit_code": int(code),
    }


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="Generated requests per operation.")
    parser.add_argument("--out", type=Path, help="Write fuzz_api.json here.")
    args = parser.parse_args()
    result = run(args.examples)
    summary = {k: v for k, v in result.items() if k not in ("by_operation", "failures")}
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "fuzz_api.json").write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["operations_failed"] == 0 else 1)


if __name__ == "__main__":
    main()
