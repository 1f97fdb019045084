"""Post-training quantization: a float graph and calibration data in, a full-int8 TFLite graph out.

The arithmetic follows the TFLite int8 quantization spec so LiteRT, TFLM and the tinyops runtime
all run the result:
- weights of CONV_2D / DEPTHWISE_CONV_2D: symmetric int8 in [-127, 127], one scale per output
  channel (axis 0 for OHWI, axis 3 for 1HWC); FULLY_CONNECTED per tensor, as the published
  MLPerf Tiny and TFLM models do (``--per-tensor`` makes convs per tensor too);
- activations: asymmetric int8, scale = (max - min) / 255 over a range that contains 0;
- bias: int32 with scale = input scale x weight scale (per channel) and zero point 0;
- ops that TFLite kernels require to keep their input's quantization (pooling, reshape, pad,
  concatenation...) share one range; SOFTMAX / LOGISTIC / TANH outputs get the fixed ranges the
  kernels assume.
The Q-format and 4-bit schemes reuse this pass with a different parameter rule (``QuantRule``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from tinyops.errors import TinyOpsError, UnsupportedOpError
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Quantization, Subgraph, Tensor
from tinyops.quant.float_trace import float_traces
from tinyops.quant.observers import METHODS, RangeObserver
from tinyops.quant.prepare import WEIGHT_CHANNEL_AXIS, prepare_float_graph, prune_unused_tensors

# Op kind -> TFLite op version for int8 tensors (as the published int8 models and LiteRT's
# op_version tables use: per-channel CONV/DEPTHWISE are version 3, int8 FULLY_CONNECTED 4).
INT8_OP_VERSIONS: dict[str, int] = {
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2, "SUB": 2, "MUL": 2,
    "AVERAGE_POOL_2D": 2, "MAX_POOL_2D": 2, "RESHAPE": 1, "SQUEEZE": 1, "SOFTMAX": 2, "PAD": 2,
    "CONCATENATION": 2, "MEAN": 2, "LOGISTIC": 2, "TANH": 2, "RELU": 2, "RELU6": 2,
    "QUANTIZE": 1, "DEQUANTIZE": 2, "TRANSPOSE": 2,
}
# Ops whose int8 kernels assume output quantization == input quantization.
TIED_OPS = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "SQUEEZE", "PAD", "CONCATENATION", "TRANSPOSE"}
# Fixed output (scale, zero point) the int8 kernels of these ops are written for.
FIXED_OUTPUT_QUANT: dict[str, tuple[float, int]] = {
    "SOFTMAX": (1.0 / 256.0, -128), "LOGISTIC": (1.0 / 256.0, -128), "TANH": (1.0 / 128.0, 0),
}
INT8_MIN, INT8_MAX = -128, 127
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class PtqConfig:
    """How to quantize. ``weight_bits`` < 8 keeps int8 storage but uses only 2**bits - 1 levels."""

    method: str = "minmax"
    per_channel: bool = True
    int8_io: bool = False
    weight_bits: int = 8
    power_of_two: bool = False  # Q-format: every scale a power of two, activations symmetric
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise TinyOpsError(f"unknown calibration method {self.method!r}; use one of {', '.join(METHODS)}")
        if not 2 <= self.weight_bits <= 8:
            raise TinyOpsError(f"weight_bits must be 2..8, got {self.weight_bits}")


@dataclass
class QuantizationReport:
    """What the pass did, for the CLI table and JSON."""

    ops_quantized: int = 0
    folded_ops: int = 0
    calibration_samples: int = 0
    tensor_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


def power_of_two_scale(max_abs: float, levels: int) -> float:
    """The smallest power of two s with max_abs <= s * levels (Q-format's 2**-fraction_bits)."""
    if max_abs <= 0.0:
        return 2.0**-7
    return float(2.0 ** np.ceil(np.log2(max_abs / levels)))


def activation_params(low: float, high: float, power_of_two: bool) -> tuple[float, int]:
    """Int8 (scale, zero point) for a float range containing 0."""
    if power_of_two:
        return power_of_two_scale(max(-low, high), INT8_MAX), 0
    span = max(high - low, 1e-8)
    scale = float(np.float32(span / (INT8_MAX - INT8_MIN)))
    zero_point = int(np.clip(np.round(INT8_MIN - low / scale), INT8_MIN, INT8_MAX))
    return scale, zero_point


def quantize_weights(values: np.ndarray, axis: int | None, bits: int, power_of_two: bool) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 storage of float weights: (int8 array, float32 scales, one per channel or one)."""
    levels = 2 ** (bits - 1) - 1  # 127 for int8, 7 for int4: symmetric, -2**(bits-1) unused
    if axis is None:
        max_abs = np.array([np.abs(values).max(initial=0.0)], dtype=np.float64)
    else:
        moved = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
        max_abs = np.abs(moved).max(axis=1, initial=0.0).astype(np.float64)
    if bits < 8 and not power_of_two:
        max_abs = _mse_clipped_max(values, axis, max_abs, levels)
    if power_of_two:
        scales = np.array([power_of_two_scale(m, levels) for m in max_abs])
    else:
        # An all-zero channel still needs a usable scale for its bias: borrow the typical one.
        fallback = float(np.median(max_abs[max_abs > 0])) if np.any(max_abs > 0) else 1.0
        scales = np.where(max_abs > 0, max_abs, fallback) / levels
    scales = scales.astype(np.float32)
    shape = [1] * values.ndim
    if axis is not None:
        shape[axis] = scales.size
    quantized = np.clip(np.round(values / scales.reshape(shape).astype(np.float64)), -levels, levels)
    return quantized.astype(np.int8), scales


def _mse_clipped_max(values: np.ndarray, axis: int | None, max_abs: np.ndarray, levels: int) -> np.ndarray:
    """Per channel, the clipping magnitude (50%..100% of max |w|) with the least squared error.

    With few levels (int4: 15) the extreme weight costs every other weight precision; clipping it
    is the standard fix for sub-byte PTQ.
    """
    rows = values.reshape(1, -1) if axis is None else np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
    best_error = np.full(max_abs.shape, np.inf)
    best = max_abs.copy()
    for factor in np.linspace(0.5, 1.0, 26):
        clip = np.maximum(max_abs * factor, 1e-12)[:, None]
        step = clip / levels
        error = np.sum((np.clip(np.round(rows / step), -levels, levels) * step - rows) ** 2, axis=1)
        better = error < best_error
        best_error = np.where(better, error, best_error)
        best = np.where(better, clip[:, 0], best)
    return np.where(max_abs > 0, best, max_abs)


def quantize_graph(graph: Graph, samples: Sequence[Sequence[np.ndarray]], config: PtqConfig = PtqConfig(),
                   progress: Callable[[int], None] | None = None) -> tuple[Graph, QuantizationReport]:
    """Quantize a float graph (TFLite or ONNX-imported) with calibration ``samples`` (one list of
    input arrays per sample). Returns the int8 graph and a report; ``graph`` is not modified."""
    if len(graph.subgraphs) != 1:
        raise UnsupportedOpError("models with control flow (several subgraphs) cannot be quantized yet")
    if not samples:
        raise TinyOpsError("no calibration samples; give a .npz, an image folder or a .wav folder")
    original_ops = len(graph.main.ops)
    float_graph = prepare_float_graph(graph)
    subgraph = float_graph.main
    _check_supported(subgraph)
    report = QuantizationReport(folded_ops=original_ops - len(subgraph.ops), calibration_samples=len(samples))
    ranges = _calibrate(float_graph, samples, config, progress)
    report.tensor_ranges = {subgraph.tensors[i].name: r for i, r in ranges.items()}
    quantized = _rewrite(float_graph, ranges, config)
    report.ops_quantized = sum(1 for op in quantized.main.ops if op.kind not in ("QUANTIZE", "DEQUANTIZE"))
    return quantized, report


def _check_supported(subgraph: Subgraph) -> None:
    unsupported = sorted({op.label for op in subgraph.ops if op.kind not in INT8_OP_VERSIONS
                          or op.kind in ("QUANTIZE", "DEQUANTIZE")})
    if unsupported:
        raise UnsupportedOpError(
            f"cannot quantize ops {', '.join(unsupported)}; supported: "
            f"{', '.join(k for k in sorted(INT8_OP_VERSIONS) if k not in ('QUANTIZE', 'DEQUANTIZE'))}")
    for tensor in subgraph.inputs:
        if tensor.dtype is not DType.FLOAT32:
            raise TinyOpsError(f"input {tensor.name!r} is {tensor.dtype.value}; quantize expects a float32 model")


def _calibrate(graph: Graph, samples: Iterable[Sequence[np.ndarray]], config: PtqConfig,
               progress: Callable[[int], None] | None) -> dict[int, tuple[float, float]]:
    subgraph = graph.main
    observers = {i: RangeObserver(seed=config.seed + i) for i, t in enumerate(subgraph.tensors)
                 if not t.is_constant and t.dtype is DType.FLOAT32}
    for count, trace in enumerate(float_traces(graph, samples), start=1):
        for index, observer in observers.items():
            observer.observe(trace[index])
        if progress is not None:
            progress(count)
    ranges = {i: o.value_range(config.method) for i, o in observers.items()}
    return _tie_ranges(subgraph, ranges)


def _tie_ranges(subgraph: Subgraph, ranges: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """Give every tensor of a TIED_OPS group the union of the group's ranges (union-find)."""
    index_of = {id(t): i for i, t in enumerate(subgraph.tensors)}
    parent = {i: i for i in ranges}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for op in subgraph.ops:
        if op.kind in TIED_OPS:
            members = [index_of[id(t)] for t in op.activation_inputs + op.outputs if index_of[id(t)] in parent]
            for member in members[1:]:
                parent[root(member)] = root(members[0])
    union: dict[int, tuple[float, float]] = {}
    for i, (low, high) in ranges.items():
        r = root(i)
        old = union.get(r, (0.0, 0.0))
        union[r] = (min(old[0], low), max(old[1], high))
    return {i: union[root(i)] for i in ranges}


def _rewrite(graph: Graph, ranges: dict[int, tuple[float, float]], config: PtqConfig) -> Graph:
    subgraph = graph.main
    new_of: dict[int, Tensor] = {}
    index_of = {id(t): i for i, t in enumerate(subgraph.tensors)}

    # Activations first: weights and biases need their consumer's input scale.
    fixed = {id(op.outputs[0]): FIXED_OUTPUT_QUANT[op.kind] for op in subgraph.ops if op.kind in FIXED_OUTPUT_QUANT}
    for i, tensor in enumerate(subgraph.tensors):
        if i in ranges:
            scale, zero_point = fixed.get(id(tensor)) or activation_params(*ranges[i], config.power_of_two)
            new_of[i] = Tensor(name=tensor.name, shape=tensor.shape, dtype=DType.INT8,
                               quantization=_quant([scale], [zero_point]), shape_signature=tensor.shape_signature)
    # Ops whose output must equal the input quantization copy it (the ranges are already tied).
    for op in subgraph.ops:
        if op.kind in TIED_OPS:
            source = new_of[index_of[id(op.activation_inputs[0])]]
            new_of[index_of[id(op.outputs[0])]].quantization = source.quantization

    for op in subgraph.ops:
        if op.kind in WEIGHT_CHANNEL_AXIS:
            _quantize_weighted_op(op, subgraph, index_of, new_of, config)
    for i, tensor in enumerate(subgraph.tensors):
        if i in new_of:
            continue
        if tensor.is_constant and tensor.dtype is DType.FLOAT32:
            new_of[i] = _quantize_constant_operand(tensor, config)
        else:
            new_of[i] = Tensor(name=tensor.name, shape=tensor.shape, dtype=tensor.dtype,
                               quantization=tensor.quantization, data=tensor.data,
                               shape_signature=tensor.shape_signature)

    ops = []
    for op in subgraph.ops:
        ops.append(Op(kind=op.kind, attrs=dict(op.attrs), version=INT8_OP_VERSIONS[op.kind],
                      inputs=[None if t is None else new_of[index_of[id(t)]] for t in op.inputs],
                      outputs=[new_of[index_of[id(t)]] for t in op.outputs]))
    tensors = [new_of[i] for i in range(len(subgraph.tensors))]
    inputs = [new_of[index_of[id(t)]] for t in subgraph.inputs]
    outputs = [new_of[index_of[id(t)]] for t in subgraph.outputs]
    result = Subgraph(name=subgraph.name, tensors=tensors, ops=ops, inputs=inputs, outputs=outputs)
    if not config.int8_io:
        _add_float_edges(result)
    prune_unused_tensors(result)
    description = "tinyops PTQ int8" if not config.power_of_two else "tinyops PTQ Q-format (power-of-two scales)"
    return Graph(subgraphs=[result], description=description, source_path=graph.source_path)


def _quant(scales: Sequence[float] | np.ndarray, zero_points: Sequence[int] | np.ndarray, axis: int = 0) -> Quantization:
    return Quantization(scale=np.asarray(scales, dtype=np.float32).reshape(-1),
                        zero_point=np.asarray(zero_points, dtype=np.int64).reshape(-1), axis=axis)


def _quantize_weighted_op(op: Op, subgraph: Subgraph, index_of: dict[int, int], new_of: dict[int, Tensor],
                          config: PtqConfig) -> None:
    weights, bias = op.inputs[1], op.input(2)
    assert weights is not None
    if not weights.is_constant:
        raise UnsupportedOpError(f"{op.kind} with non-constant weights ({weights.name!r}) cannot be quantized")
    axis = WEIGHT_CHANNEL_AXIS[op.kind]
    per_channel = config.per_channel and op.kind != "FULLY_CONNECTED"
    weight_index = index_of[id(weights)]
    if weight_index in new_of:
        raise UnsupportedOpError(f"weight tensor {weights.name!r} is shared by several ops; cannot quantize it")
    values, scales = quantize_weights(np.asarray(weights.data, np.float32), axis if per_channel else None,
                                      config.weight_bits, config.power_of_two)
    new_of[weight_index] = Tensor(name=weights.name, shape=weights.shape, dtype=DType.INT8, data=values,
                                  quantization=_quant(scales, np.zeros(scales.size), axis if per_channel else 0))
    input_scale = float(new_of[index_of[id(op.inputs[0])]].quantization.scale[0])  # type: ignore[union-attr]
    if bias is None:
        return
    channels = weights.shape[axis]
    bias_scales = (input_scale * np.broadcast_to(scales.astype(np.float64), (channels,))).astype(np.float32)
    bias_values = np.clip(np.round(np.asarray(bias.data, np.float64) / bias_scales), INT32_MIN, INT32_MAX)
    new_of[index_of[id(bias)]] = Tensor(
        name=bias.name, shape=bias.shape, dtype=DType.INT32, data=bias_values.astype(np.int32),
        quantization=_quant(bias_scales if per_channel else bias_scales[:1], np.zeros(bias_scales.size if per_channel else 1)))


def _quantize_constant_operand(tensor: Tensor, config: PtqConfig) -> Tensor:
    """A float constant fed to an elementwise op (ADD/MUL operand): int8 per tensor, own range."""
    values = np.asarray(tensor.data, dtype=np.float32)
    low, high = min(float(values.min(initial=0.0)), 0.0), max(float(values.max(initial=0.0)), 0.0)
    scale, zero_point = activation_params(low, high, config.power_of_two)
    data = np.clip(np.round(values / scale) + zero_point, INT8_MIN, INT8_MAX).astype(np.int8)
    return Tensor(name=tensor.name, shape=tensor.shape, dtype=DType.INT8, data=data,
                  quantization=_quant([scale], [zero_point]))


def _add_float_edges(subgraph: Subgraph) -> None:
    """Float32 model inputs/outputs: QUANTIZE after each input, DEQUANTIZE before each output."""
    new_inputs, new_outputs = [], []
    for tensor in subgraph.inputs:
        if tensor.dtype is not DType.INT8:
            new_inputs.append(tensor)
            continue
        outer = Tensor(name=tensor.name, shape=tensor.shape, dtype=DType.FLOAT32, shape_signature=tensor.shape_signature)
        tensor.name = f"{tensor.name}_int8"
        subgraph.tensors.insert(0, outer)
        subgraph.ops.insert(0, Op(kind="QUANTIZE", inputs=[outer], outputs=[tensor], version=INT8_OP_VERSIONS["QUANTIZE"]))
        new_inputs.append(outer)
    for tensor in subgraph.outputs:
        if tensor.dtype is not DType.INT8:
            new_outputs.append(tensor)
            continue
        outer = Tensor(name=tensor.name, shape=tensor.shape, dtype=DType.FLOAT32, shape_signature=tensor.shape_signature)
        tensor.name = f"{tensor.name}_int8"
        subgraph.tensors.append(outer)
        subgraph.ops.append(Op(kind="DEQUANTIZE", inputs=[tensor], outputs=[outer], version=INT8_OP_VERSIONS["DEQUANTIZE"]))
        new_outputs.append(outer)
    subgraph.inputs, subgraph.outputs = new_inputs, new_outputs
    subgraph.link()
