"""Float ONNX -> tinyops IR in TFLite conventions (NHWC activations, OHWI / 1HWC / OI weights).

Covers the CNN/MLP operator set of MCU models: Conv (regular and depthwise), BatchNormalization,
Relu, Clip(0, 6), HardSwish, HardSigmoid, Sigmoid, Pad (constant), Add, Mul, Gemm, MatMul,
GlobalAveragePool, AveragePool, MaxPool, Flatten, Reshape (to 2-D), Identity and Softmax.
Exporters compute some constant inputs with small subgraphs (PyTorch's F.pad becomes
ConstantOfShape/Concat/Slice/Transpose/Cast/Reshape feeding Pad): nodes whose inputs are all
constants are evaluated at import with ONNX's reference evaluator. BatchNormalization becomes a per-channel MUL + ADD and Relu/Clip
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

SUPPORTED = ("Conv", "BatchNormalization", "Relu", "Clip", "HardSwish", "HardSigmoid", "Sigmoid", "Pad", "Add", "Mul",
             "Gemm", "MatMul", "GlobalAveragePool", "AveragePool", "MaxPool", "Flatten", "Reshape", "Identity",
             "Softmax")
# Ops evaluated at import when every input is a constant (shape arithmetic exporters emit).
FOLDABLE = ("Constant", "ConstantOfShape", "Concat", "Slice", "Transpose", "Cast", "Reshape", "Unsqueeze",
            "Squeeze", "Gather", "Identity", "Add", "Mul", "Sub", "Div", "Neg", "Range")


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
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    folded = _fold_constants(model, constants)
    remaining = [n for i, n in enumerate(graph.node) if i not in folded]
    unsupported = sorted({n.op_type for n in remaining if n.op_type not in SUPPORTED})
    if unsupported:
        raise UnsupportedOpError(f"{source}: ONNX ops {', '.join(unsupported)} are not supported; "
                                 f"supported: {', '.join(SUPPORTED)}")
    builder = _Builder(constants=constants)
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
    for node in remaining:
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


def _fold_constants(model: Any, constants: dict[str, np.ndarray]) -> set[int]:
    """Evaluate, in graph order, the nodes whose inputs are all constants; their outputs join
    ``constants``. Returns the positions of the folded nodes."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    opsets = list(model.opset_import)
    folded: set[int] = set()
    for position, node in enumerate(model.graph.node):
        if node.op_type not in FOLDABLE or not all(name in constants for name in node.input if name):
            continue
        inputs = [name for name in node.input if name]
        single = onnx.helper.make_graph(
            [node], "fold", [onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(
                constants[name].dtype), constants[name].shape) for name in inputs],
            [onnx.helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None) for name in node.output])
        try:
            results = ReferenceEvaluator(onnx.helper.make_model(single, opset_imports=opsets)).run(
                None, {name: constants[name] for name in inputs})
        except Exception as exc:  # the evaluator's own error types
            raise ModelFormatError(f"cannot evaluate constant node {node.name or node.op_type} "
                                   f"({type(exc).__name__}: {exc})") from None
        for name, value in zip(node.output, results):
            constants[name] = np.asarray(value)
        folded.add(position)
    return folded


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


def _hard_sigmoid(builder: _Builder, x: Tensor, output: str, alpha: float, beta: float) -> None:
    """max(0, min(1, alpha x + beta)) = RELU6(6 alpha x + 6 beta) / 6, in ops TFLite has."""
    channels = x.shape[-1]

    def filled(name: str, value: float) -> Tensor:
        return builder.constant(f"{output}/{name}", np.full(channels, value, np.float32))

    no_activation = {"fused_activation_function": "NONE"}
    scaled = x
    if abs(6 * alpha - 1.0) > 1e-7:
        scaled = builder.emit("MUL", [x, filled("scale", 6 * alpha)], f"{output}/scaled", no_activation)
    shifted = builder.emit("ADD", [scaled, filled("shift", 6 * beta)], f"{output}/shifted", no_activation)
    clipped = builder.emit("RELU6", [shifted], f"{output}/relu6", {})
    builder.emit("MUL", [clipped, filled("sixth", 1 / 6)], output, no_activation)


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
    elif kind == "Identity":
        values[output] = values[inputs[0]]
    elif kind == "HardSwish":
        builder.emit("HARD_SWISH", [values[inputs[0]]], output, {})
    elif kind == "Sigmoid":
        builder.emit("LOGISTIC", [values[inputs[0]]], output, {})
    elif kind == "HardSigmoid":
        _hard_sigmoid(builder, values[inputs[0]], output, float(attrs.get("alpha", 0.2)),
                      float(attrs.get("beta", 0.5)))
    elif kind == "Pad":
        x = values[inputs[0]]
        mode = attrs.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        pads = [int(v) for v in (constants[inputs[1]] if len(inputs) > 1 and inputs[1] else attrs.get("pads", []))]
        fill = float(np.asarray(constants[inputs[2]]).reshape(-1)[0]) if len(inputs) > 2 and inputs[2] else 0.0
        if mode != "constant" or fill != 0.0 or (len(inputs) > 3 and inputs[3]):
            raise UnsupportedOpError(f"Pad mode={mode} value={fill} (or with axes) is not supported; only zero "
                                     "padding of all axes")
        rank = len(x.shape)
        before, after = pads[:rank], pads[rank:]
        # ONNX pads NCHW axes; the IR is NHWC.
        order = [0, 2, 3, 1] if rank == 4 else list(range(rank))
        paddings = np.array([[before[axis], after[axis]] for axis in order], np.int32)
        builder.emit("PAD", [x, builder.constant(f"{output}/paddings", paddings, DType.INT32)], output, {})
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
