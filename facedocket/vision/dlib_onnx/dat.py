"""dlib's ``.dat`` serialization read into :class:`~facedocket.vision.dlib_onnx.layers.DlibNet`.

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

import math
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np

from facedocket.errors import ConfigurationError
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
)

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


def _read_details(r: _Reader, slot: Slot) -> Layer:
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


def _read_versions(r: _Reader, layout: list[Slot]) -> list[int]:
    versions = []
    for i, slot in enumerate(layout):
        version = r.integer()
        on_input = i == len(layout) - 1
        allowed = {1} if slot.kind in ("tag", "skip") else ({2, 3} if on_input else {1, 2})
        if version not in allowed:
            raise r.error(f"slot {i} ({slot.kind}) has version {version}, expected one of {allowed}")
        versions.append(version)
    return versions


def _read_layers(r: _Reader, layout: list[Slot], versions: list[int]) -> Iterator[Layer]:
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


def parse_dat(data: bytes, layout: list[Slot] | None = None) -> DlibNet:
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
