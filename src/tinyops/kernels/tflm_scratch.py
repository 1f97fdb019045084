"""Scratch buffers TFLM's reference kernels ask the arena for, in the order they ask.

TFLM plans each scratch request as its own buffer, live only during its op, added after all tensor
buffers in the order the kernels' Prepare() calls request them. The order matters: TFLM's greedy
planner breaks size ties by that order, so reproducing its arena needs the exact sequence.

The figures follow the Prepare() functions of TFLM's reference kernels
(tensorflow/lite/micro/kernels/*.cc and signal/micro/kernels/*.cc): most request nothing. They
are checked against the TFLM interpreter's arena in ``tests/test_memory_tflm.py``.
"""

from __future__ import annotations

from typing import Callable

from flatbuffers import flexbuffers

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op, Tensor

INT32_BYTES = 4
INT64_BYTES = 8
# ADD_N stores one data pointer per input; TFLM's arena figures come from the 64-bit host build.
HOST_POINTER_BYTES = 8

# Bytes of each scratch request of one op, in request order.
ScratchRule = Callable[[Op], list[int]]


def _elements(tensor: Tensor | None) -> int:
    return 0 if tensor is None else tensor.num_elements


def _filter_unpack(op: Op) -> list[int]:
    """CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED unpack int4 filters into an int8 scratch copy."""
    weights = op.input(1)
    if weights is not None and weights.dtype is DType.INT4:
        return [weights.num_elements]
    return []


def _transpose_conv(op: Op) -> list[int]:
    data = op.input(2)
    bias = op.input(3)
    output = op.outputs[0]
    requests: list[int] = []
    if data is None:
        return requests
    if data.dtype is DType.INT16 and bias is not None and bias.dtype is DType.INT16:
        requests.append(bias.num_elements * INT64_BYTES)  # int16 bias widened to int64
    if data.dtype is DType.INT8:
        requests.append(output.num_elements * INT32_BYTES)  # int32 accumulators
    elif data.dtype is DType.INT16:
        requests.append(output.num_elements * INT64_BYTES)  # int64 accumulators
    return requests


def _mean_or_sum(op: Op) -> list[int]:
    data, axis = op.input(0), op.input(1)
    rank = len(data.shape) if data is not None else 0
    requests = []
    if data is not None and data.dtype in (DType.INT8, DType.INT16):
        requests.append(op.outputs[0].num_elements * INT32_BYTES)  # int32 accumulators
    requests.append(rank * INT32_BYTES)  # iteration index per input dimension
    requests.append(_elements(axis) * INT32_BYTES)  # resolved axes
    return requests


def _min_max(op: Op) -> list[int]:
    data, axis = op.input(0), op.input(1)
    rank = len(data.shape) if data is not None else 0
    return [rank * INT32_BYTES, _elements(axis) * INT32_BYTES]


def _svdf(op: Op) -> list[int]:
    data, weights_feature = op.input(0), op.input(1)
    # TFLM's SVDF takes a [batch, input] input and [filters, input] features; others it refuses.
    if data is None or weights_feature is None or len(data.shape) != 2 or len(weights_feature.shape) != 2:
        return []
    batch = data.shape[0]
    num_filters = weights_feature.shape[0]
    if data.dtype is DType.INT8:
        rank = int(op.attrs.get("rank", 1)) or 1
        num_units = num_filters // rank
        return [batch * num_filters * INT32_BYTES, batch * num_units * INT32_BYTES]
    return [batch * num_filters * INT32_BYTES]  # float32 path: one float per filter


def _lstm(op: Op) -> list[int]:
    """UNIDIRECTIONAL_SEQUENCE_LSTM asks for four gate buffers of batch x state in the cell-state type."""
    data = op.input(0)
    hidden_state = op.input(18)
    cell_state = op.input(19)
    if data is None or hidden_state is None or cell_state is None:
        return []
    if len(data.shape) != 3 or not hidden_state.shape:  # TFLM refuses other layouts
        return []
    time_major = bool(op.attrs.get("time_major", False))
    batch = data.shape[1] if time_major else data.shape[0]
    state_dimension = hidden_state.shape[-1]
    element_bytes = max(cell_state.dtype.bits // 8, 1)
    return [batch * state_dimension * element_bytes] * 4


def _add_n(op: Op) -> list[int]:
    inputs = [t for t in op.inputs if t is not None]
    return [HOST_POINTER_BYTES * len(inputs)]


def _mirror_pad(op: Op) -> list[int]:
    data = op.input(0)
    rank = len(data.shape) if data is not None else 0
    return [rank * INT32_BYTES, rank * INT32_BYTES]


def _signal_rfft(op: Op) -> list[int]:
    """SignalRfft works on an fft_length buffer of its input element type."""
    data = op.input(0)
    if data is None or not op.custom_options:
        return []
    options = flexbuffers.Loads(op.custom_options)
    fft_length = int(options.get("fft_length", 0)) if isinstance(options, dict) else 0
    return [fft_length * max(data.dtype.bits // 8, 1)]


TFLM_REFERENCE_RULES: dict[str, ScratchRule] = {
    "CONV_2D": _filter_unpack,
    "DEPTHWISE_CONV_2D": _filter_unpack,
    "FULLY_CONNECTED": _filter_unpack,
    "TRANSPOSE_CONV": _transpose_conv,
    "MEAN": _mean_or_sum,
    "SUM": _mean_or_sum,
    "REDUCE_MAX": _min_max,
    "REDUCE_MIN": _min_max,
    "SVDF": _svdf,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": _lstm,
    "ADD_N": _add_n,
    "MIRROR_PAD": _mirror_pad,
}
TFLM_CUSTOM_RULES: dict[str, ScratchRule] = {
    "SignalRfft": _signal_rfft,
}
