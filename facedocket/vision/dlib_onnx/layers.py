"""The layers of dlib's face ResNet as parsed from its ``.dat`` file, and its layout.

The network
-----------
``dlib_face_recognition_resnet_model_v1.dat`` holds the ``anet_type`` of dlib's
``examples/dnn_face_recognition_ex.cpp``, a 29-conv ResNet (batch norm already replaced
by per-channel ``affine`` layers)::

    input_rgb_image_sized<150>   (x - mean_rgb) / 256, NCHW
    con 32 7x7/2 -> affine -> relu -> max_pool 3x3/2            150 -> 72 -> 35
    level4: 3 x ares<32>                                         35x35
    level3: ares_down<64>,  3 x ares<64>                         17x17
    level2: ares_down<128>, 2 x ares<128>                        8x8
    level1: ares_down<256>, 2 x ares<256>                        4x4 (see below)
    level0: ares_down<256>                                       2x2
    avg_pool_everything -> fc_no_bias 128 -> loss_metric

    block(N, s)    = con N 3x3/s -> affine -> relu -> con N 3x3/1 -> affine
    ares(N)        = relu(block(N, 1)(x) + x)
    ares_down(N)   = relu(block(N, 2)(x) + avg_pool 2x2/2 (x))

Padding is dlib's default: ``size // 2`` when the stride is 1, otherwise 0 (so the
strided convolutions and pools use no padding). ``add_prev`` adds tensors of different
shapes by giving the result the larger size in every dimension and treating what lies
outside either operand as zero: the pooled shortcut of ``ares_down`` has half the
channels of the block, and at level1 the block gives 3x3 where the pooled shortcut
gives 4x4, so the block is zero-padded on the bottom and right.

The descriptor is the raw ``fc_no_bias`` output: ``loss_metric`` does not normalise it,
and neither does the ONNX graph. Callers L2-normalise.

Tags, skips and ``add_prev`` do not record their tag numbers in the file, so the
topology is spelled out here by :func:`anet_layout`; the parser
(:mod:`facedocket.vision.dlib_onnx.dat`) checks the file against it layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

# ---------------------------------------------------------------------------------------
# Parsed layers


@dataclass(frozen=True)
class InputRGB:
    """``input_rgb_image_sized``: ``(pixel - mean) / 256`` per channel, RGB order."""

    mean: tuple[float, float, float]
    rows: int
    cols: int


@dataclass(frozen=True)
class Conv:
    """``con_``: weights (out, in, kh, kw) applied as cross-correlation, plus bias."""

    weights: FloatArray
    bias: FloatArray
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    """``affine_`` in conv mode: ``x * gamma[c] + beta[c]``."""

    gamma: FloatArray
    beta: FloatArray


@dataclass(frozen=True)
class Relu:
    """``relu_``."""


@dataclass(frozen=True)
class Pool:
    """``max_pool_`` / ``avg_pool_``; a window of 0 means the whole input."""

    kind: Literal["max", "avg"]
    window: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrev:
    """``add_prev_<tagN>``: current output plus tag N's output, zero-padded to fit."""

    tag: int


@dataclass(frozen=True)
class Tag:
    """``add_tag_layer<N>``: names the current output; computes nothing."""

    tag: int


@dataclass(frozen=True)
class Skip:
    """``add_skip_layer<tagN>``: continues from tag N's output."""

    tag: int


@dataclass(frozen=True)
class Dense:
    """``fc_``: ``x @ weights (+ bias)``, weights (num_inputs, num_outputs)."""

    weights: FloatArray
    bias: FloatArray | None


Layer = Conv | Affine | Relu | Pool | AddPrev | Tag | Skip | Dense


@dataclass(frozen=True)
class DlibNet:
    """A parsed network: the input layer, layers from the bottom up, the loss margins."""

    input: InputRGB
    layers: tuple[Layer, ...]
    loss: tuple[float, float]


# ---------------------------------------------------------------------------------------
# The layout of anet_type, from the loss down to the input layer


@dataclass(frozen=True)
class Slot:
    """One level of the nested network type: a computational layer, a tag or a skip."""

    kind: Literal["con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc", "tag", "skip"]
    tag: int = 0


def _block() -> list[Slot]:
    return [Slot("affine"), Slot("con"), Slot("relu"), Slot("affine"), Slot("con")]


def _ares() -> list[Slot]:
    return [Slot("relu"), Slot("add_prev", 1), *_block(), Slot("tag", 1)]


def _ares_down() -> list[Slot]:
    head = [Slot("relu"), Slot("add_prev", 2), Slot("avg_pool"), Slot("skip", 1), Slot("tag", 2)]
    return [*head, *_block(), Slot("tag", 1)]


def anet_layout() -> list[Slot]:
    """The slots of dlib's face recognition ``anet_type``, outermost (the fc) first."""
    level0 = [_ares_down()]  # 256 filters
    level1 = [_ares(), _ares(), _ares_down()]  # 256
    level2 = [_ares(), _ares(), _ares_down()]  # 128
    level3 = [_ares(), _ares(), _ares(), _ares_down()]  # 64
    level4 = [_ares(), _ares(), _ares()]  # 32
    levels = [*level0, *level1, *level2, *level3, *level4]
    stem = [Slot("max_pool"), Slot("relu"), Slot("affine"), Slot("con")]
    return [Slot("fc"), Slot("avg_pool"), *[s for level in levels for s in level], *stem]


def fold_affine(layers: tuple[Layer, ...]) -> tuple[Layer, ...]:
    """Merge every conv that is directly followed by an affine layer into one conv."""
    out: list[Layer] = []
    for layer in layers:
        prev = out[-1] if out else None
        if isinstance(layer, Affine) and isinstance(prev, Conv):
            weights = prev.weights * layer.gamma[:, None, None, None]
            out[-1] = replace(prev, weights=weights, bias=prev.bias * layer.gamma + layer.beta)
        else:
            out.append(layer)
    return tuple(out)
