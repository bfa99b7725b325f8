"""Write the calibrated default threshold into the model card.

Takes the JSON of ``facedocket evaluate DATA_DIR --json`` (run with the default
settings) and stores its FMR-1e-3 threshold, with the data it came from, in
facedocket/vision/model_cards.json::

    facedocket evaluate ../shared/faces/dev --json > /tmp/eval.json
    python benchmarks/calibrate.py /tmp/eval.json --data "LFW development set (../shared/faces/dev)"
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

CARDS = Path(__file__).resolve().parents[1] / "facedocket" / "vision" / "model_cards.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("evaluation", type=Path, help="JSON written by `facedocket evaluate --json`")
    parser.add_argument("--data", required=True, help="description of the data set")
    parser.add_argument("--target-fmr", default="0.001", help="which FMR's threshold to store")
    args = parser.parse_args()
    result = json.loads(args.evaluation.read_text())
    ver = result["verification"]
    calibration = {
        "threshold": round(float(ver["threshold_at_fmr"][args.target_fmr]), 6),
        "target_fmr": float(args.target_fmr),
        "data": f"{args.data}: {result['images']} photos of {result['identities']} people",
        "genuine_pairs": ver["genuine_pairs"],
        "impostor_pairs": ver["impostor_pairs"],
        "fnmr_at_threshold": ver["fnmr_at_fmr"][args.target_fmr],
        "detector": result["detector"],
        "flip": bool(result["flip"]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    cards = json.loads(CARDS.read_text())
    for card in cards["models"]:
        if card["model_id"] == result["model"]:
            card["calibration"] = calibration
    CARDS.write_text(json.dumps(cards, indent=2) + "\n")
    print(f"{result['model']}: threshold {calibration['threshold']} at FMR {args.target_fmr}")


if __name__ == "__main__":
    main()
