"""dlib's face recognition ResNet, read from its ``.dat`` file and run in ONNX Runtime.

dlib's CPU build computes a descriptor in about 100 ms per chip; the same network run by
ONNX Runtime is several times faster and gives the same 128 numbers (cosine > 0.9999).

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

The file format (dlib/serialize.h, dlib/dnn/{core,layers,input,loss,tensor}.h)
-------------------------------------------------------------------------------
* integer: a control byte (bit 7 = negative, bits 0-3 = byte count, bits 4-6 zero)
  followed by the magnitude in that many little-endian bytes (0 is ``01 00``);
* float/double: two integers, a signed mantissa then an exponent; the value is
  ``mantissa * 2**exponent`` (exponents 32000/32001/32002 mean +inf/-inf/nan);
* string: an integer length, then the bytes; bool: the character ``'1'`` or ``'0'``;
* tensor: integer version 2, then n, k, nr, nc, then n*k*nr*nc little-endian float32;
  alias_tensor (a view into a layer's ``params``): version 1, then n, k, nr, nc.

Networks are written outermost first, each wrapper writing its version and then its
subnetwork before its own state, so the stream is every layer's version integer from
the loss down to the input layer, then the input layer, then each layer's state from
the bottom up:

* ``add_loss_layer``: version 1, the loss details, the subnetwork;
* ``add_layer``: version 2, subnetwork, layer details, three bools, the tensors
  ``x_grad`` and ``cached_output`` and ``params_grad`` (empty in a cleaned net);
* ``add_layer`` directly on the input layer: version 2 or 3, the input layer, layer
  details, three bools, ``x_grad``, ``cached_output``, ``grad_final`` and (version 3)
  the sample expansion factor;
* ``add_tag_layer`` and ``add_skip_layer``: version 1, the subnetwork, nothing else.

Layer details begin with a version string: ``con_4`` (params, num_filters, nr, nc,
stride y/x, padding y/x, filters and biases aliases, four doubles), ``affine_`` (params
= gamma then beta, aliases, mode), ``relu_``, ``max_pool_2``/``avg_pool_2`` (nr, nc,
stride y/x, padding y/x), ``add_prev_``, ``fc_2`` (num_outputs, num_inputs, params as
a num_inputs x num_outputs matrix, aliases, bias mode, four doubles),
``input_rgb_image_sized`` (mean red, green, blue, NR, NC) and ``loss_metric_2``
(margin, distance threshold). Tags, skips and ``add_prev`` do not record their tag
numbers, so the topology cannot be read from the file: :func:`anet_layout` spells it
out, and the parser checks the file against it layer by layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from facedocket.errors import ConfigurationError, InvalidInput

RESNET_DAT = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
DESCRIPTOR_SIZE = 128
# Chips per ONNX Runtime call: larger batches are no faster on a CPU, and memory grows with them.
MAX_BATCH = 32
OPSET = 17
IR_VERSION = 8

FloatArray = npt.NDArray[np.float32]
InputFormat = Literal["uint8_nhwc", "float32_nchw"]

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
class _Slot:
    """One level of the nested network type: a computational layer, a tag or a skip."""

    kind: Literal["con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "fc", "tag", "skip"]
    tag: int = 0


def _block() -> list[_Slot]:
    return [_Slot("affine"), _Slot("con"), _Slot("relu"), _Slot("affine"), _Slot("con")]


def _ares() -> list[_Slot]:
    return [_Slot("relu"), _Slot("add_prev", 1), *_block(), _Slot("tag", 1)]


def _ares_down() -> list[_Slot]:
    head = [_Slot("relu"), _Slot("add_prev", 2), _Slot("avg_pool"), _Slot("skip", 1), _Slot("tag", 2)]
    return [*head, *_block(), _Slot("tag", 1)]


def anet_layout() -> list[_Slot]:
    """The slots of dlib's face recognition ``anet_type``, outermost (the fc) first."""
    level0 = [_ares_down()]  # 256 filters
    level1 = [_ares(), _ares(), _ares_down()]  # 256
    level2 = [_ares(), _ares(), _ares_down()]  # 128
    level3 = [_ares(), _ares(), _ares(), _ares_down()]  # 64
    level4 = [_ares(), _ares(), _ares()]  # 32
    levels = [*level0, *level1, *level2, *level3, *level4]
    stem = [_Slot("max_pool"), _Slot("relu"), _Slot("affine"), _Slot("con")]
    return [_Slot("fc"), _Slot("avg_pool"), *[s for level in levels for s in level], *stem]


# ---------------------------------------------------------------------------------------
# dlib's serialization primitives


class _Reader:
    """Reads dlib's serialization primitives from a byte buffer."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self._data):
            raise self.error("file ends early")
        chunk = self._data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def error(self, what: str) -> ConfigurationError:
        return ConfigurationError(f"dlib model file: {what} at byte {self.pos}; is it the right .dat?")

    def integer(self) -> int:
        control = self._take(1)[0]
        if control & 0x70 or control & 0x0F > 8:
            raise self.error(f"bad integer control byte {control:#04x}")
        value = int.from_bytes(self._take(control & 0x0F), "little")
        return -value if control & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        special = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        return special[exponent] if exponent in special else math.ldexp(mantissa, exponent)

    def text(self) -> str:
        return self._take(self.integer()).decode("latin-1")

    def flag(self) -> bool:
        ch = self._take(1)
        if ch not in (b"0", b"1"):
            raise self.error(f"bad bool {ch!r}")
        return ch == b"1"

    def tensor(self) -> FloatArray:
        version = self.integer()
        if version != 2:
            raise self.error(f"tensor version {version}, expected 2")
        shape = tuple(self.integer() for _ in range(4))
        count = math.prod(shape)
        raw = np.frombuffer(self._take(4 * count), dtype="<f4")
        return raw.astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[int, ...]:
        if (version := self.integer()) != 1:
            raise self.error(f"alias_tensor version {version}, expected 1")
        return tuple(self.integer() for _ in range(4))

    def expect(self, value: int, what: str) -> None:
        if (found := self.integer()) != value:
            raise self.error(f"{what} version {found}, expected {value}")

    @property
    def at_end(self) -> bool:
        return self.pos == len(self._data)


# ---------------------------------------------------------------------------------------
# Layer details


def _read_con(r: _Reader) -> Conv:
    params = r.tensor().ravel()
    num_filters, nr, nc = r.integer(), r.integer(), r.integer()
    stride = (r.integer(), r.integer())
    padding = (r.integer(), r.integer())
    filters, _biases = r.alias_tensor(), r.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.real()
    count = math.prod(filters)
    if filters[0] != num_filters or filters[2:] != (nr, nc) or params.size != count + num_filters:
        raise r.error(f"con_ filters {filters} do not fit {params.size} parameters")
    weights = params[:count].reshape(filters)
    return Conv(weights, params[count:].copy(), stride, padding)


def _read_affine(r: _Reader) -> Affine:
    params = r.tensor().ravel()
    gamma, beta = r.alias_tensor(), r.alias_tensor()
    if (mode := r.integer()) != 0:
        raise r.error(f"affine_ in mode {mode}; only conv mode (0) is supported")
    n = math.prod(gamma)
    if math.prod(beta) != n or params.size != 2 * n:
        raise r.error("affine_ gamma/beta do not fit its parameters")
    return Affine(params[:n].copy(), params[n:].copy())


def _read_pool(r: _Reader, kind: Literal["max", "avg"]) -> Pool:
    window = (r.integer(), r.integer())
    stride = (r.integer(), r.integer())
    padding = (r.integer(), r.integer())
    return Pool(kind, window, stride, padding)


def _read_fc(r: _Reader) -> Dense:
    num_outputs, num_inputs = r.integer(), r.integer()
    params = r.tensor().ravel()
    r.alias_tensor(), r.alias_tensor()
    has_bias = r.integer() == 0  # FC_HAS_BIAS = 0, FC_NO_BIAS = 1
    for _ in range(4):
        r.real()
    rows = num_inputs + (1 if has_bias else 0)
    if params.size != rows * num_outputs:
        raise r.error(f"fc_ has {params.size} parameters, expected {rows * num_outputs}")
    matrix = params.reshape(rows, num_outputs)
    bias = matrix[num_inputs].copy() if has_bias else None
    return Dense(matrix[:num_inputs].copy(), bias)


def _read_details(r: _Reader, slot: _Slot) -> Layer:
    name = r.text()
    readers: dict[str, Callable[[], Layer]] = {
        "con_4": lambda: _read_con(r),
        "affine_": lambda: _read_affine(r),
        "relu_": Relu,
        "max_pool_2": lambda: _read_pool(r, "max"),
        "avg_pool_2": lambda: _read_pool(r, "avg"),
        "add_prev_": lambda: AddPrev(slot.tag),
        "fc_2": lambda: _read_fc(r),
    }
    if name not in readers or not name.startswith(slot.kind):
        raise r.error(f"found layer {name!r} where the layout expects {slot.kind}")
    return readers[name]()


def _read_input(r: _Reader) -> InputRGB:
    if (name := r.text()) != "input_rgb_image_sized":
        raise r.error(f"input layer {name!r}, expected input_rgb_image_sized")
    mean = (r.real(), r.real(), r.real())
    return InputRGB(mean, r.integer(), r.integer())


def _read_loss(r: _Reader) -> tuple[float, float]:
    if (name := r.text()) != "loss_metric_2":
        raise r.error(f"loss layer {name!r}, expected loss_metric_2")
    return r.real(), r.real()


def _skip_layer_state(r: _Reader, version: int, on_input: bool) -> None:
    """Skip what add_layer writes after its details: flags and training-time tensors."""
    for _ in range(3):
        r.flag()
    r.tensor(), r.tensor()  # x_grad, cached_output
    if on_input:
        r.tensor()  # grad_final
        if version >= 3:
            r.integer()  # sample expansion factor
    elif version >= 2:
        r.tensor()  # params_grad


# ---------------------------------------------------------------------------------------
# Parsing


def _read_versions(r: _Reader, layout: list[_Slot]) -> list[int]:
    versions = []
    for i, slot in enumerate(layout):
        version = r.integer()
        on_input = i == len(layout) - 1
        allowed = {1} if slot.kind in ("tag", "skip") else ({2, 3} if on_input else {1, 2})
        if version not in allowed:
            raise r.error(f"slot {i} ({slot.kind}) has version {version}, expected one of {allowed}")
        versions.append(version)
    return versions


def _read_layers(r: _Reader, layout: list[_Slot], versions: list[int]) -> Iterator[Layer]:
    """Yield layers bottom-up, reading each add_layer's details and state."""
    for i in reversed(range(len(layout))):
        slot = layout[i]
        if slot.kind == "tag":
            yield Tag(slot.tag)
        elif slot.kind == "skip":
            yield Skip(slot.tag)
        else:
            layer = _read_details(r, slot)
            _skip_layer_state(r, versions[i], on_input=i == len(layout) - 1)
            yield layer


def parse_dat(data: bytes, layout: list[_Slot] | None = None) -> DlibNet:
    """Parse a serialized dlib ``loss_metric`` network laid out as ``layout``.

    Args:
        data: the bytes of the ``.dat`` file.
        layout: the network's slots, outermost first; defaults to :func:`anet_layout`.

    Returns:
        The input layer, the layers from the bottom up and the loss margins.

    Example:
        >>> net = parse_dat(Path(dat_path()).read_bytes())  # doctest: +SKIP
    """
    layout = anet_layout() if layout is None else layout
    r = _Reader(data)
    r.expect(1, "add_loss_layer")
    loss = _read_loss(r)
    versions = _read_versions(r, layout)
    input_layer = _read_input(r)
    layers = tuple(_read_layers(r, layout, versions))
    if not r.at_end:
        raise r.error("unread bytes after the network")
    return DlibNet(input_layer, layers, loss)


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


# ---------------------------------------------------------------------------------------
# ONNX graph


Shape = tuple[int, int, int]  # channels, rows, cols


def _out_size(size: int, window: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - window) // stride + 1


class _GraphBuilder:
    """Emits ONNX nodes while tracking the current tensor, its shape and the tags."""

    def __init__(self, current: str, shape: Shape) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.current, self.shape = current, shape
        self.tags: dict[int, tuple[str, Shape]] = {}

    def _name(self, stem: str) -> str:
        return f"{stem}_{len(self.nodes)}"

    def const(self, stem: str, value: npt.NDArray[np.generic]) -> str:
        name = self._name(stem) + f"_c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def emit(self, op: str, inputs: list[str], shape: Shape, **attrs: Any) -> None:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.current, self.shape = out, shape

    def conv(self, layer: Conv) -> None:
        k, _, kh, kw = layer.weights.shape
        (sy, sx), (py, px) = layer.stride, layer.padding
        _, h, w = self.shape
        shape = (k, _out_size(h, kh, sy, py), _out_size(w, kw, sx, px))
        inputs = [self.current, self.const("w", layer.weights), self.const("b", layer.bias)]
        self.emit("Conv", inputs, shape, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])

    def affine(self, layer: Affine) -> None:
        scaled = self.const("gamma", layer.gamma.reshape(1, -1, 1, 1))
        self.emit("Mul", [self.current, scaled], self.shape)
        self.emit("Add", [self.current, self.const("beta", layer.beta.reshape(1, -1, 1, 1))], self.shape)

    def pool(self, layer: Pool) -> None:
        c, h, w = self.shape
        if layer.window == (0, 0):
            op = "GlobalMaxPool" if layer.kind == "max" else "GlobalAveragePool"
            self.emit(op, [self.current], (c, 1, 1))
            return
        (kh, kw), (sy, sx), (py, px) = layer.window, layer.stride, layer.padding
        shape = (c, _out_size(h, kh, sy, py), _out_size(w, kw, sx, px))
        op = "MaxPool" if layer.kind == "max" else "AveragePool"
        self.emit(op, [self.current], shape, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])

    def _pad_to(self, name: str, shape: Shape, target: Shape) -> str:
        if shape == target:
            return name
        ends = [t - s for t, s in zip(target, shape, strict=True)]
        pads = self.const("pads", np.array([0, 0, 0, 0, 0, *ends], dtype=np.int64))
        self.emit("Pad", [name, pads], target, mode="constant")
        return self.current

    def add_prev(self, layer: AddPrev) -> None:
        other, other_shape = self.tags[layer.tag]
        target = tuple(max(a, b) for a, b in zip(self.shape, other_shape, strict=True))
        shape: Shape = (target[0], target[1], target[2])
        mine = self._pad_to(self.current, self.shape, shape)
        theirs = self._pad_to(other, other_shape, shape)
        self.emit("Add", [mine, theirs], shape)

    def dense(self, layer: Dense) -> None:
        self.emit("Flatten", [self.current], self.shape, axis=1)
        n_out = layer.weights.shape[1]
        self.emit("MatMul", [self.current, self.const("fc", layer.weights)], (n_out, 1, 1))
        if layer.bias is not None:
            self.emit("Add", [self.current, self.const("fc_bias", layer.bias)], (n_out, 1, 1))

    def layer(self, layer: Layer) -> None:
        match layer:
            case Conv():
                self.conv(layer)
            case Affine():
                self.affine(layer)
            case Relu():
                self.emit("Relu", [self.current], self.shape)
            case Pool():
                self.pool(layer)
            case Tag(tag=tag):
                self.tags[tag] = (self.current, self.shape)
            case Skip(tag=tag):
                self.current, self.shape = self.tags[tag]
            case AddPrev():
                self.add_prev(layer)
            case Dense():
                self.dense(layer)


def _input_nodes(b: _GraphBuilder, net: DlibNet, input_format: InputFormat) -> None:
    """Turn the graph input into dlib's normalised NCHW float tensor."""
    if input_format == "uint8_nhwc":
        b.emit("Cast", [b.current], b.shape, to=TensorProto.FLOAT)
        b.emit("Transpose", [b.current], b.shape, perm=[0, 3, 1, 2])
    mean = np.array(net.input.mean, dtype=np.float32).reshape(1, 3, 1, 1)
    b.emit("Sub", [b.current, b.const("mean", mean)], b.shape)
    b.emit("Mul", [b.current, b.const("scale", np.array(1 / 256, dtype=np.float32))], b.shape)


def build_onnx(net: DlibNet, input_format: InputFormat = "uint8_nhwc", fold: bool = True) -> onnx.ModelProto:
    """Build an ONNX model computing ``net``'s raw (unnormalised) descriptor.

    Args:
        net: a parsed network, see :func:`parse_dat`.
        input_format: ``"uint8_nhwc"`` takes ``(N, 150, 150, 3)`` RGB uint8 chips;
            ``"float32_nchw"`` takes ``(N, 3, 150, 150)`` RGB float32 pixel values in 0..255.
        fold: merge each affine layer into the conv below it (same result, fewer ops).

    Returns:
        A model with input ``chips`` and output ``descriptors`` of shape ``(N, 128)``.

    Example:
        >>> model = build_onnx(parse_dat(Path(dat_path()).read_bytes()))  # doctest: +SKIP
    """
    rows, cols = net.input.rows, net.input.cols
    if input_format == "uint8_nhwc":
        graph_in = helper.make_tensor_value_info("chips", TensorProto.UINT8, ["N", rows, cols, 3])
    else:
        graph_in = helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["N", 3, rows, cols])
    b = _GraphBuilder("chips", (3, rows, cols))
    _input_nodes(b, net, input_format)
    for layer in fold_affine(net.layers) if fold else net.layers:
        b.layer(layer)
    b.nodes[-1].output[0] = "descriptors"
    graph_out = helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["N", b.shape[0]])
    graph = helper.make_graph(b.nodes, "dlib_face_recognition_resnet_v1", [graph_in], [graph_out], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.producer_name = "facedocket.vision.dlib_onnx"
    return model


# ---------------------------------------------------------------------------------------
# Running it


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
        with contextlib.suppress(OSError):  # a cache: a full disk or a read-only folder only costs the next start
            _write_atomic(cached, model)
    return model


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
