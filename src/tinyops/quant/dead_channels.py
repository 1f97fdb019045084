"""Remove dead channels exactly: the graph simplification some deployment tools apply.

A CONV_2D output channel whose filter is all zero outputs one constant, its requantized bias.
When that constant is the output's zero point (real 0: a negative bias clamped by a fused ReLU,
as in the MLPerf Tiny VWW model), the channel can go with nothing downstream changing:

- a CONV_2D that reads it loses that input channel (a real 0 adds nothing, padding included);
- a DEPTHWISE_CONV_2D that reads it (multiplier 1) then outputs a constant in that channel too,
  everywhere, border included (TFLite pads with real 0): that channel goes as well, and each
  CONV_2D reading the depthwise output folds ``sum(w[o, :, :, c]) * (v - zero_point)`` into its
  int32 bias; exact for a 1x1 filter, and for any filter when ``v`` is the zero point.

Channels whose constant is not real 0 (a positive bias saturating the ReLU) are kept: a
depthwise conv with SAME padding sees them differently at the border, so removing them would
change the outputs. Every removal is checked here by the arithmetic, and by tests on the runtime.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from tinyops.analysis.dead_channels import dead_output_channels
from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Graph, Op, Subgraph, Tensor
from tinyops.ops import spec_for
from tinyops.runtime.kernels.requant import conv_output_stage

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


@dataclass
class OpRemoval:
    op_index: int  # index in the original main subgraph
    kind: str
    dead_channels: int  # output channels with an all-zero filter
    removed_channels: int  # of those, removed (their constant is real 0 and every reader can absorb it)
    followed_channels: int = 0  # depthwise channels removed downstream of them (constant, folded into bias)


@dataclass
class DeadChannelRemoval:
    ops: list[OpRemoval] = field(default_factory=list)
    macs_before: int = 0
    macs_after: int = 0

    @property
    def dead_channels(self) -> int:
        return sum(op.dead_channels for op in self.ops)

    @property
    def removed_channels(self) -> int:
        return sum(op.removed_channels + op.followed_channels for op in self.ops)


def _int8_conv(op: Op, kind: str) -> bool:
    inputs = [op.input(i) for i in range(3)]
    if op.kind != kind or any(t is None for t in inputs) or not op.outputs:
        return False
    data, weights, bias = inputs
    assert data is not None and weights is not None and bias is not None
    return (data.dtype is DType.INT8 and weights.dtype is DType.INT8 and bias.dtype is DType.INT32
            and op.outputs[0].dtype is DType.INT8 and weights.is_constant and bias.is_constant
            and len(weights.consumers) == 1 and len(bias.consumers) == 1
            and data.quantization is not None and op.outputs[0].quantization is not None)


def _constant_outputs(op: Op, bias: np.ndarray) -> np.ndarray:
    """What each output channel outputs when its accumulator is just its bias."""
    data, weights, output = op.input(0), op.input(1), op.outputs[0]
    assert data is not None and weights is not None
    stage = conv_output_stage(op, data, weights, output, bias.size)
    return np.asarray(stage(bias.astype(np.int64).reshape(1, -1))).reshape(-1).astype(np.int64)


def _zero_point(tensor: Tensor) -> int:
    assert tensor.quantization is not None
    return int(tensor.quantization.zero_point[0])


def _reads_only_as_data(op: Op, tensor: Tensor) -> bool:
    return op.input(0) is tensor and all(t is not tensor for t in op.inputs[1:])


def _conv_can_absorb(conv: Op, values: np.ndarray) -> bool:
    """A CONV_2D reading constant input channels ``values``: exact when 1x1 or the constant is real 0."""
    if not _int8_conv(conv, "CONV_2D"):
        return False
    weights = conv.input(1)
    assert weights is not None
    one_by_one = weights.shape[1] == 1 and weights.shape[2] == 1
    data = conv.input(0)
    assert data is not None
    return one_by_one or bool(np.all(values == _zero_point(data)))


def _depthwise_values(dw: Op, channels: np.ndarray) -> np.ndarray | None:
    """The constants a DEPTHWISE_CONV_2D outputs in ``channels`` when they read real 0, or None."""
    if not _int8_conv(dw, "DEPTHWISE_CONV_2D") or int(dw.attrs.get("depth_multiplier", 1)) != 1:
        return None
    bias = dw.input(2)
    assert bias is not None and bias.data is not None
    return _constant_outputs(dw, np.asarray(bias.data).reshape(-1))[channels]


def _removable(subgraph: Subgraph, tensor: Tensor, channels: np.ndarray) -> bool:
    if tensor in subgraph.outputs or not tensor.consumers:
        return False
    for reader in tensor.consumers:
        if not _reads_only_as_data(reader, tensor):
            return False
        if reader.kind == "CONV_2D":
            if not _conv_can_absorb(reader, np.full(channels.size, _zero_point(tensor))):
                return False
        elif reader.kind == "DEPTHWISE_CONV_2D":
            values = _depthwise_values(reader, channels)
            out = reader.outputs[0]
            if values is None or out in subgraph.outputs or not out.consumers:
                return False
            if not all(_reads_only_as_data(c, out) and c.kind == "CONV_2D" and _conv_can_absorb(c, values)
                       for c in out.consumers):
                return False
        else:
            return False
    return True


def _take(tensor: Tensor, keep: np.ndarray, axis: int) -> None:
    """Keep ``keep`` along ``axis`` of a tensor: its data, shape and per-channel quantization."""
    if tensor.data is not None:
        tensor.data = np.take(tensor.data, keep, axis=axis)
    shape = list(tensor.shape)
    shape[axis] = int(keep.size)
    tensor.shape = tuple(shape)
    if tensor.shape_signature is not None:
        signature = list(tensor.shape_signature)
        signature[axis] = int(keep.size)
        tensor.shape_signature = tuple(signature)
    quant = tensor.quantization
    if quant is not None and quant.per_channel and quant.axis == axis:  # per-channel along this axis
        size = quant.scale.size
        quant.scale = quant.scale[keep]
        quant.zero_point = quant.zero_point[keep]
        if quant.min is not None and quant.min.size == size:
            quant.min = quant.min[keep]
        if quant.max is not None and quant.max.size == size:
            quant.max = quant.max[keep]


def _fold_into_bias(conv: Op, channels: np.ndarray, values: np.ndarray) -> None:
    """Add the constant input channels' contribution to a CONV_2D's int32 bias."""
    weights, bias, data = conv.input(1), conv.input(2), conv.input(0)
    assert weights is not None and bias is not None and data is not None and weights.data is not None
    assert bias.data is not None
    w = np.asarray(weights.data, dtype=np.int64)[..., channels]  # O H W len(channels)
    offsets = values - _zero_point(data)
    folded = np.asarray(bias.data, dtype=np.int64) + np.einsum("ohwc,c->o", w, offsets)
    if folded.min() < INT32_MIN or folded.max() > INT32_MAX:
        raise OverflowError("folded bias leaves int32")
    bias.data = folded.astype(np.int32)


def _remove(tensor: Tensor, producer: Op, channels: np.ndarray) -> int:
    """Remove ``channels`` of ``tensor`` from its producer and readers; depthwise channels removed."""
    keep = np.setdiff1d(np.arange(tensor.shape[-1]), channels)
    weights, bias = producer.input(1), producer.input(2)
    assert weights is not None and bias is not None
    _take(weights, keep, 0)
    _take(bias, keep, 0)
    followed = 0
    for reader in list(tensor.consumers):
        reader_weights = reader.input(1)
        assert reader_weights is not None
        if reader.kind == "CONV_2D":
            _take(reader_weights, keep, 3)
            continue
        values = _depthwise_values(reader, channels)
        assert values is not None
        out = reader.outputs[0]
        for conv in out.consumers:
            _fold_into_bias(conv, channels, values)
            conv_weights = conv.input(1)
            assert conv_weights is not None
            _take(conv_weights, keep, 3)
        reader_bias = reader.input(2)
        assert reader_bias is not None
        _take(reader_weights, keep, 3)
        _take(reader_bias, keep, 0)
        _take(out, keep, len(out.shape) - 1)
        followed += int(channels.size)
    _take(tensor, keep, len(tensor.shape) - 1)
    return followed


def drop_dead_channels(graph: Graph) -> tuple[Graph, DeadChannelRemoval]:
    """A copy of ``graph`` without the dead CONV_2D output channels whose removal is exact."""
    result = copy.deepcopy(graph)
    subgraph = result.main
    report = DeadChannelRemoval(macs_before=_macs(result))
    for index, op in enumerate(subgraph.ops):
        dead = dead_output_channels(op)
        if dead is None or dead.count == 0:
            continue
        removal = OpRemoval(index, op.kind, dead.count, 0)
        report.ops.append(removal)
        if not _int8_conv(op, "CONV_2D"):
            continue
        bias = op.input(2)
        assert bias is not None and bias.data is not None
        output = op.outputs[0]
        values = _constant_outputs(op, np.asarray(bias.data).reshape(-1))
        channels = np.flatnonzero(dead.zero_filter & (values == _zero_point(output)))
        if channels.size == 0 or channels.size == output.shape[-1] or not _removable(subgraph, output, channels):
            continue
        removal.followed_channels = _remove(output, op, channels)
        removal.removed_channels = int(channels.size)
    report.macs_after = _macs(result)
    return result, report


def _macs(graph: Graph) -> int:
    return sum(int(spec_for(op).count_macs(op)) for _, _, op in graph.all_ops())
