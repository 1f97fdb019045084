"""Float ONNX -> tinyops IR in TFLite conventions (NHWC activations, OHWI / 1HWC / OI weights).

Covers the CNN/MLP operator set of MCU models: Conv (regular and depthwise), BatchNormalization,
Relu, Clip(0, 6), Add, Mul, Gemm, MatMul, GlobalAveragePool, AveragePool, MaxPool, Flatten,
Reshape (to 2-D) and Softmax. BatchNormalization becomes a per-channel MUL + ADD and Relu/Clip
standalone ops: PTQ's preparation folds and fuses them (tinyops.quant.prepare), so the imported
graph stays a faithful, op-for-op picture of the ONNX file. 4-D activations are NCHW in ONNX and
NHWC here; Flatten of a spatial map inserts a TRANSPOSE so the element order matches ONNX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinyops.errors import ModelFormatError, UnsupportedOpError
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Subgraph, Tensor
from tinyops.ops import infer_output_shapes

SUPPORTED = ("Conv", "BatchNormalization", "Relu", "Clip", "Add", "Mul", "Gemm", "MatMul", "GlobalAveragePool",
             "AveragePool", "MaxPool", "Flatten", "Reshape", "Softmax")


@dataclass
class _Builder:
    tensors: list[Tensor] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    values: dict[str, Tensor] = field(default_factory=dict)  # ONNX activation name -> IR tensor
    constants: dict[str, np.ndarray] = field(default_factory=dict)  # ONNX initializers

    def constant(self, name: str, data: np.ndarray, dtype: DType = DType.FLOAT32) -> Tensor:
        tensor = Tensor(name=name, shape=tuple(data.shape), dtype=dtype, data=np.ascontiguousarray(data, dtype.numpy))
        self.tensors.append(tensor)
        return tensor

    def emit(self, kind: str, inputs: list[Tensor | None], output_name: str, attrs: dict[str, Any]) -> Tensor:
        output = Tensor(name=output_name, shape=(), dtype=DType.FLOAT32)
        op = Op(kind=kind, inputs=inputs, outputs=[output], attrs=attrs)
        shapes = infer_output_shapes(op)
        if not shapes:
            raise UnsupportedOpError(f"no shape rule for {kind}; cannot import this ONNX graph")
        output.shape = tuple(int(d) for d in shapes[0])
        self.tensors.append(output)
        self.ops.append(op)
        self.values[output_name] = output
        return output


def read_onnx(data: bytes, source: str = "<bytes>") -> Graph:
    """Parse an ONNX model (float32) into the IR; errors are one-line ModelFormatError/UnsupportedOpError."""
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # protobuf raises its own DecodeError types
        raise ModelFormatError(f"{source}: not a readable ONNX model ({type(exc).__name__}); re-export it") from None
    graph = model.graph
    unsupported = sorted({n.op_type for n in graph.node if n.op_type not in SUPPORTED})
    if unsupported:
        raise UnsupportedOpError(f"{source}: ONNX ops {', '.join(unsupported)} are not supported; "
                                 f"supported: {', '.join(SUPPORTED)}")
    builder = _Builder(constants={i.name: numpy_helper.to_array(i) for i in graph.initializer})
    inputs = []
    for value in graph.input:
        if value.name in builder.constants:
            continue
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in value.type.tensor_type.shape.dim]
        if value.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
            raise ModelFormatError(f"{source}: input {value.name!r} is not float32; export a float model")
        shape = (dims[0], dims[2], dims[3], dims[1]) if len(dims) == 4 else tuple(dims)
        tensor = Tensor(name=value.name, shape=tuple(shape), dtype=DType.FLOAT32)
        builder.tensors.append(tensor)
        builder.values[value.name] = tensor
        inputs.append(tensor)
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        try:
            _convert(builder, node.op_type, list(node.input), node.output[0], attrs)
        except KeyError as exc:
            raise ModelFormatError(f"{source}: node {node.name or node.op_type} reads {exc} which no earlier node "
                                   "produces; the graph must be topologically sorted") from None
    outputs = [builder.values[v.name] for v in graph.output]
    subgraph = Subgraph(name=graph.name or "main", tensors=builder.tensors, ops=builder.ops, inputs=inputs,
                        outputs=outputs)
    subgraph.link()
    return Graph(subgraphs=[subgraph], description=f"imported from ONNX ({model.producer_name or 'unknown'})",
                 source_path=source)


def _same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite SAME padding (before, after) for one spatial axis."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _padding(x: Tensor, kernel: list[int], strides: list[int], dilations: list[int], attrs: dict[str, Any]) -> str:
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER",):
        return "SAME"
    if auto == "VALID":
        return "VALID"
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if not any(pads):
        return "VALID"
    same = [_same_padding(x.shape[1 + i], kernel[i], strides[i], dilations[i]) for i in range(2)]
    if (pads[0], pads[2]) == same[0] and (pads[1], pads[3]) == same[1]:
        return "SAME"
    raise UnsupportedOpError(f"padding {pads} matches neither VALID nor TFLite SAME; re-export with symmetric "
                             "'same' padding")


def _per_channel(builder: _Builder, name: str, channels: int) -> np.ndarray | None:
    if name not in builder.constants:
        return None
    values = builder.constants[name].astype(np.float32)
    if values.size in (1, channels):
        return np.broadcast_to(values.reshape(-1), (channels,)).copy()
    return None


def _convert(builder: _Builder, kind: str, inputs: list[str], output: str, attrs: dict[str, Any]) -> None:
    values, constants = builder.values, builder.constants
    if kind == "Conv":
        x, weights = values[inputs[0]], constants[inputs[1]].astype(np.float32)
        bias = constants[inputs[2]].astype(np.float32) if len(inputs) > 2 and inputs[2] else None
        kernel = list(weights.shape[2:])
        strides = list(attrs.get("strides", [1, 1]))
        dilations = list(attrs.get("dilations", [1, 1]))
        group = int(attrs.get("group", 1))
        common = {"padding": _padding(x, kernel, strides, dilations, attrs), "stride_h": strides[0],
                  "stride_w": strides[1], "dilation_h_factor": dilations[0], "dilation_w_factor": dilations[1],
                  "fused_activation_function": "NONE"}
        out_channels = weights.shape[0]
        bias_tensor = builder.constant(f"{output}/bias", bias if bias is not None else np.zeros(out_channels, np.float32))
        if group == 1:
            w = builder.constant(f"{output}/weights", weights.transpose(0, 2, 3, 1))
            builder.emit("CONV_2D", [x, w, bias_tensor], output, common)
        elif group == x.shape[3] and weights.shape[1] == 1:
            w = builder.constant(f"{output}/weights", weights.reshape(out_channels, *kernel).transpose(1, 2, 0)[None])
            builder.emit("DEPTHWISE_CONV_2D", [x, w, bias_tensor], output,
                         {**common, "depth_multiplier": out_channels // group})
        else:
            raise UnsupportedOpError(f"grouped Conv with group={group} (neither 1 nor depthwise) is not supported")
    elif kind == "BatchNormalization":
        x = values[inputs[0]]
        gamma, beta, mean, var = (constants[n].astype(np.float64) for n in inputs[1:5])
        scale = gamma / np.sqrt(var + float(attrs.get("epsilon", 1e-5)))
        shift = beta - mean * scale
        scaled = builder.emit("MUL", [x, builder.constant(f"{output}/bn_scale", scale.astype(np.float32))],
                              f"{output}/bn_scaled", {"fused_activation_function": "NONE"})
        builder.emit("ADD", [scaled, builder.constant(f"{output}/bn_shift", shift.astype(np.float32))], output,
                     {"fused_activation_function": "NONE"})
    elif kind == "Relu":
        builder.emit("RELU", [values[inputs[0]]], output, {})
    elif kind == "Clip":
        low = float(constants[inputs[1]]) if len(inputs) > 1 and inputs[1] else float(attrs.get("min", -np.inf))
        high = float(constants[inputs[2]]) if len(inputs) > 2 and inputs[2] else float(attrs.get("max", np.inf))
        if (low, high) != (0.0, 6.0):
            raise UnsupportedOpError(f"Clip({low}, {high}) is not supported; only Clip(0, 6) (ReLU6)")
        builder.emit("RELU6", [values[inputs[0]]], output, {})
    elif kind in ("Add", "Mul"):
        tflite_kind = "ADD" if kind == "Add" else "MUL"
        operands: list[Tensor | None] = []
        for name in inputs:
            if name in values:
                operands.append(values[name])
            else:
                first = values[inputs[0] if inputs[0] in values else inputs[1]]
                vector = _per_channel(builder, name, first.shape[-1])
                if vector is None:
                    raise UnsupportedOpError(f"{kind} with constant {name!r} of shape {constants[name].shape} "
                                             "is not supported; only scalars and per-channel vectors")
                operands.append(builder.constant(name, vector))
        builder.emit(tflite_kind, operands, output, {"fused_activation_function": "NONE"})
    elif kind in ("Gemm", "MatMul"):
        x = values[inputs[0]]
        weights = constants[inputs[1]].astype(np.float32)
        if kind == "MatMul" or not attrs.get("transB", 0):
            weights = weights.T
        if attrs.get("transA", 0):
            raise UnsupportedOpError("Gemm with transA=1 is not supported")
        weights = weights * float(attrs.get("alpha", 1.0))
        bias = None
        if kind == "Gemm" and len(inputs) > 2 and inputs[2]:
            bias = np.broadcast_to(constants[inputs[2]].astype(np.float32).reshape(-1), (weights.shape[0],))
            bias = bias * float(attrs.get("beta", 1.0))
        bias_tensor = builder.constant(f"{output}/bias", bias if bias is not None else np.zeros(weights.shape[0], np.float32))
        builder.emit("FULLY_CONNECTED", [x, builder.constant(f"{output}/weights", weights), bias_tensor], output,
                     {"fused_activation_function": "NONE", "weights_format": 0, "keep_num_dims": False,
                      "asymmetric_quantize_inputs": False})
    elif kind == "GlobalAveragePool":
        x = values[inputs[0]]
        builder.emit("AVERAGE_POOL_2D", [x], output, {"padding": "VALID", "stride_h": 1, "stride_w": 1,
                     "filter_height": x.shape[1], "filter_width": x.shape[2], "fused_activation_function": "NONE"})
    elif kind in ("AveragePool", "MaxPool"):
        x = values[inputs[0]]
        kernel = list(attrs["kernel_shape"])
        strides = list(attrs.get("strides", [1, 1]))
        padding = _padding(x, kernel, strides, [1, 1], attrs)
        if kind == "AveragePool" and padding == "SAME" and not attrs.get("count_include_pad", 0) == 0:
            raise UnsupportedOpError("AveragePool with count_include_pad=1 and padding is not supported")
        builder.emit("AVERAGE_POOL_2D" if kind == "AveragePool" else "MAX_POOL_2D", [x], output,
                     {"padding": padding, "stride_h": strides[0], "stride_w": strides[1], "filter_height": kernel[0],
                      "filter_width": kernel[1], "fused_activation_function": "NONE"})
    elif kind in ("Flatten", "Reshape"):
        x = values[inputs[0]]
        if kind == "Reshape":
            target = [int(v) for v in constants[inputs[1]]]
            if len(target) != 2:
                raise UnsupportedOpError(f"Reshape to rank {len(target)} is not supported; only flattening to 2-D")
        elif int(attrs.get("axis", 1)) != 1:
            raise UnsupportedOpError("Flatten with axis != 1 is not supported")
        source = x
        if len(x.shape) == 4 and x.shape[1] * x.shape[2] > 1:
            # ONNX flattens C,H,W: put channels first again so the element order matches.
            perm = builder.constant(f"{output}/perm", np.array([0, 3, 1, 2], np.int32), DType.INT32)
            source = builder.emit("TRANSPOSE", [x, perm], f"{output}/nchw", {})
        features = int(np.prod(x.shape[1:]))
        shape = builder.constant(f"{output}/shape", np.array([x.shape[0], features], np.int32), DType.INT32)
        builder.emit("RESHAPE", [source, shape], output, {})
    elif kind == "Softmax":
        builder.emit("SOFTMAX", [values[inputs[0]]], output, {"beta": 1.0})
