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
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from facedocket.errors import InvalidInput
from facedocket.oversight.evaluation import calibration_of, checked_fmr_table

CARDS = Path(__file__).resolve().parents[1] / "facedocket" / "vision" / "model_cards.json"


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
    try:
        table = checked_fmr_table(ver)
        # the same calibration record `facedocket calibrate` stores with a registered model
        record = asdict(
            calibration_of(result, args.data or "", float(args.target_fmr), datetime.now(UTC).strftime("%Y-%m-%d"))
        )
    except InvalidInput as e:
        raise SystemExit(str(e)) from None
    threshold = record["threshold"]
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
