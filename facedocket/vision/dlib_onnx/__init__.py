"""dlib's face recognition ResNet, read from its ``.dat`` file and run in ONNX Runtime.

dlib's CPU build computes a descriptor in about 100 ms per chip; the same network run by
ONNX Runtime is several times faster and gives the same 128 numbers (cosine > 0.9999).

The parts:

* :mod:`~facedocket.vision.dlib_onnx.layers`: the layer types, the parsed network and its
  layout (``anet_type``, which the file does not record);
* :mod:`~facedocket.vision.dlib_onnx.dat`: dlib's serialization format and its parser;
* :mod:`~facedocket.vision.dlib_onnx.graph`: the ONNX graph built from a parsed network;
* this module: locating the ``.dat``, the cached ONNX bytes and the descriptor runtime.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from facedocket.errors import ConfigurationError, InvalidInput
from facedocket.vision.dlib_onnx.dat import _Reader, parse_dat
from facedocket.vision.dlib_onnx.graph import IR_VERSION, OPSET, InputFormat, build_onnx
from facedocket.vision.dlib_onnx.layers import (
    AddPrev,
    Affine,
    Conv,
    Dense,
    DlibNet,
    FloatArray,
    InputRGB,
    Layer,
    Pool,
    Relu,
    Skip,
    Slot,
    Tag,
    anet_layout,
    fold_affine,
)

__all__ = [
    "CHIP_SIZE",
    "DESCRIPTOR_SIZE",
    "IR_VERSION",
    "MAX_BATCH",
    "OPSET",
    "RESNET_DAT",
    "AddPrev",
    "Affine",
    "Conv",
    "Dense",
    "DlibNet",
    "FloatArray",
    "InputFormat",
    "InputRGB",
    "Layer",
    "OnnxDlibDescriptor",
    "Pool",
    "Relu",
    "Skip",
    "Slot",
    "Tag",
    "_Reader",
    "anet_layout",
    "build_onnx",
    "dat_path",
    "fold_affine",
    "onnx_bytes",
    "parse_dat",
]

RESNET_DAT = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128
# Chips per ONNX Runtime call: larger batches are no faster on a CPU, and memory grows with them.
MAX_BATCH = 32


def dat_path(name: str = RESNET_DAT) -> str:
    """Path of a model file shipped in the ``face_recognition_models`` package.

    The package is located without importing it (its ``__init__`` needs ``pkg_resources``).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "models" / name
        if path.is_file():
            return str(path)
    raise ConfigurationError(f"{name} not found; pip install face_recognition_models==0.3.0")


_default_dat_path = dat_path


def onnx_bytes(dat: str | Path, cache_dir: str | Path | None = None) -> bytes:
    """The serialized ONNX model for a ``.dat`` file, cached by the file's SHA-256."""
    data = Path(dat).read_bytes()
    cached = Path(cache_dir) / f"dlib_resnet_{hashlib.sha256(data).hexdigest()}.onnx" if cache_dir else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    model = bytes(build_onnx(parse_dat(data)).SerializeToString())
    if cached is not None:
        _write_atomic(cached, model)
    return model


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class OnnxDlibDescriptor:
    """dlib's face descriptor computed by ONNX Runtime.

    Args:
        dat_path: the ``.dat`` file; defaults to the one in ``face_recognition_models``.
        threads: ONNX Runtime intra-op threads; ``None`` lets it choose.
        cache_dir: where to keep the built ``.onnx`` (keyed by the ``.dat`` SHA-256);
            ``None`` builds it in memory each time (about 0.1 s: parse 25 ms, build 70 ms).

    Example:
        >>> net = OnnxDlibDescriptor(threads=2)  # doctest: +SKIP
        >>> net.compute(chips).shape  # chips: uint8 (N, 150, 150, 3) from dlib.get_face_chip
        (N, 128)
    """

    def __init__(
        self, dat_path: str | None = None, threads: int | None = None, cache_dir: str | Path | None = None
    ) -> None:
        import onnxruntime as ort

        model = onnx_bytes(dat_path if dat_path is not None else _default_dat_path(), cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        # Spinning workers gain nothing here and halve the speed when another process
        # holds a core (measured: 2 threads, batch 1, 2.6 ms -> 8 ms with spinning).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def compute(self, chips: npt.NDArray[np.uint8]) -> FloatArray:
        """Raw 128-d descriptors, as ``dlib.face_recognition_model_v1.compute_face_descriptor``.

        Args:
            chips: uint8 RGB chips, ``(N, 150, 150, 3)`` or one ``(150, 150, 3)``.

        Returns:
            float32 ``(N, 128)``, not normalised.
        """
        batch = chips[None] if chips.ndim == 3 else chips
        if batch.dtype != np.uint8 or batch.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise InvalidInput(
                f"face chips must be uint8 (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) RGB, "
                f"got {batch.dtype} {batch.shape}; use dlib.get_face_chip(size={CHIP_SIZE})"
            )
        if len(batch) == 0:
            return np.zeros((0, DESCRIPTOR_SIZE), dtype=np.float32)
        parts = [
            self._session.run(["descriptors"], {"chips": np.ascontiguousarray(batch[i : i + MAX_BATCH])})[0]
            for i in range(0, len(batch), MAX_BATCH)
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)
