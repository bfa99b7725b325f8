"""The ONNX graph computing a parsed dlib network's raw (unnormalised) descriptor."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from facedocket.vision.dlib_onnx.layers import (
    AddPrev,
    Affine,
    Conv,
    Dense,
    DlibNet,
    Layer,
    Pool,
    Relu,
    Skip,
    Tag,
    fold_affine,
)

OPSET = 17
IR_VERSION = 8

InputFormat = Literal["uint8_nhwc", "float32_nchw"]

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
