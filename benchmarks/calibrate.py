"""Write the calibrated default threshold, and the FMR table, into the model card.

Takes the JSON of ``facedocket evaluate DATA_DIR --json`` (run with the default
settings) and stores its FMR-1e-3 threshold, with the data it came from, and its
``fmr_table`` (threshold for each FMR from 1e-1 down to the smallest rate the impostor
pairs measure) in facedocket/vision/model_cards.json::

    facedocket evaluate ../shared/faces/dev --json > /tmp/eval.json
    python benchmarks/calibrate.py /tmp/eval.json --data "LFW development set (../shared/faces/dev)"

A template model's card holds one calibration for its default settings (``calibration``,
flip on) and may hold more for other settings (``other_calibrations``): ``--other`` stores
the evaluation there, replacing one made with the same flip setting::

    facedocket evaluate ../shared/faces/dev --model sface-2021dec --no-flip --json > /tmp/noflip.json
    python benchmarks/calibrate.py /tmp/noflip.json --data "LFW development set (../shared/faces/dev)" --other

``--table-only`` keeps the card's existing threshold and calibration record and only
(re)writes the table, refusing when the evaluation's threshold differs from the card's
(the table must come from the same run as the threshold). ``facedocket.vision.models.fmr_at_score``
reads the table to estimate the FMR at any score.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CARDS = Path(__file__).resolve().parents[1] / "facedocket" / "vision" / "model_cards.json"


def fmr_table(verification: dict[str, Any]) -> list[dict[str, float]]:
    """The evaluation's table, checked: FMR falling, threshold rising, every rate measurable."""
    rows = [
        {"fmr": float(r["fmr"]), "threshold": float(r["threshold"]), "fnmr": float(r["fnmr"])}
        for r in verification["fmr_table"]
    ]
    pairs = int(verification["impostor_pairs"])
    for a, b in itertools.pairwise(rows):
        if not (a["fmr"] > b["fmr"] and a["threshold"] <= b["threshold"]):
            raise SystemExit(f"fmr_table is not monotone at FMR {a['fmr']} -> {b['fmr']}")
    if any(r["fmr"] * pairs < 1 - 1e-9 for r in rows):
        raise SystemExit(f"fmr_table has a rate below 1/{pairs}, which {pairs} impostor pairs cannot measure")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("evaluation", type=Path, help="JSON written by `facedocket evaluate --json`")
    parser.add_argument("--data", help="description of the data set (required unless --table-only)")
    parser.add_argument("--target-fmr", default="0.001", help="which FMR's threshold to store")
    parser.add_argument(
        "--table-only", action="store_true", help="keep the card's threshold and record; only add the FMR table"
    )
    parser.add_argument(
        "--other", action="store_true", help="store as a calibration for a non-default setting (other_calibrations)"
    )
    args = parser.parse_args()
    result = json.loads(args.evaluation.read_text())
    ver = result["verification"]
    if "fmr_table" not in ver:
        raise SystemExit("the evaluation JSON has no verification.fmr_table; rerun `facedocket evaluate --json`")
    table = fmr_table(ver)
    threshold = round(float(ver["threshold_at_fmr"][args.target_fmr]), 6)
    cards = json.loads(CARDS.read_text())
    found = False
    for card in cards["models"]:
        if card["model_id"] != result["model"]:
            continue
        found = True
        if args.table_only:
            calibration = card.get("calibration")
            if not calibration:
                raise SystemExit(f"{result['model']} has no calibration to add a table to; run without --table-only")
            if calibration["threshold"] != threshold or calibration["impostor_pairs"] != ver["impostor_pairs"]:
                raise SystemExit(
                    f"this evaluation gives threshold {threshold} on {ver['impostor_pairs']} impostor pairs, the card "
                    f"has {calibration['threshold']} on {calibration['impostor_pairs']}: the table would not match "
                    "the threshold; recalibrate without --table-only"
                )
            calibration["fmr_table"] = table
        else:
            if not args.data:
                parser.error("--data is required unless --table-only")
            record = {
                "threshold": threshold,
                "target_fmr": float(args.target_fmr),
                "data": f"{args.data}: {result['images']} photos of {result['identities']} people",
                "genuine_pairs": ver["genuine_pairs"],
                "impostor_pairs": ver["impostor_pairs"],
                "fnmr_at_threshold": ver["fnmr_at_fmr"][args.target_fmr],
                "detector": result["detector"],
                "flip": bool(result["flip"]),
                "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                "fmr_table": table,
            }
            if args.other:
                others = [c for c in card.get("other_calibrations", []) if c["flip"] != record["flip"]]
                card["other_calibrations"] = [*others, record]
            else:
                card["calibration"] = record
    if not found:
        raise SystemExit(f"no model card for {result['model']!r} in {CARDS}")
    CARDS.write_text(json.dumps(cards, indent=2) + "\n")
    done = "FMR table added" if args.table_only else f"threshold {threshold} at FMR {args.target_fmr}"
    print(f"{result['model']}: {done} ({len(table)} rows, FMR {table[0]['fmr']:g} to {table[-1]['fmr']:g})")


if __name__ == "__main__":
    sys.exit(main())
