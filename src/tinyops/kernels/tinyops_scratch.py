"""Scratch buffers and op kinds of tinyops' own C kernels (the code generator, ``backends/c``).

The emitters in :mod:`tinyops.backends.c.emit_ops` size each kernel's scratch with these
functions, so the planner, analysis and the generated code agree byte for byte (tested in
``tests/test_codegen.py``). Only the MAC kernels ask for scratch; one request per op.
"""

from __future__ import annotations

from tinyops.ir.graph import Op
from tinyops.kernels.tflm_scratch import ScratchRule
from tinyops.ops.common import output_size

SCRATCH_ALIGN_BYTES = 4  # the kernels cast the scratch pointer to int16/int32
# Element-wise kinds the generator runs through a 256-entry lookup table.
LUT_KINDS: tuple[str, ...] = ("RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "HARD_SWISH", "QUANTIZE")
# Kinds that only reinterpret their input's bytes.
VIEW_KINDS: tuple[str, ...] = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
# Every op kind the C kernels implement (int8; the emitters refuse other data types per op).
TINYOPS_KINDS: frozenset[str] = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL", "AVERAGE_POOL_2D",
    "MAX_POOL_2D", "MEAN", "SOFTMAX", "DEQUANTIZE", "PAD", "PADV2", "CONCATENATION", "TRANSPOSE",
    "RESIZE_NEAREST_NEIGHBOR", *LUT_KINDS, *VIEW_KINDS,
})


def align_scratch(size_bytes: int) -> int:
    return (size_bytes + SCRATCH_ALIGN_BYTES - 1) // SCRATCH_ALIGN_BYTES * SCRATCH_ALIGN_BYTES


def matrix_scratch_bytes(depth: int, channels: int) -> int:
    """Conv / FC scratch: two int8 vectors (rounded to 8 bytes), then the DSP path's int16 copy
    of them and its int32 accumulators of two pixels."""
    return (2 * depth + 7) // 8 * 8 + 4 * depth + 8 * channels


def depthwise_scratch_bytes(out_h: int, out_w: int, k_h: int, k_w: int, stride_h: int, stride_w: int,
                            dil_h: int, dil_w: int) -> int:
    """The zero-point-padded input plane of one channel (+4 bytes a 32-bit load of the last window
    may touch), then one output row of int32 accumulators."""
    plane_h = (out_h - 1) * stride_h + (k_h - 1) * dil_h + 1
    plane_w = (out_w - 1) * stride_w + (k_w - 1) * dil_w + 1
    return (plane_h * plane_w + 4 + 3) // 4 * 4 + 4 * out_w


def _attr(op: Op, name: str) -> int:
    return int(op.attrs.get(name, 1))


def _conv(op: Op) -> list[int]:
    data, weights = op.input(0), op.input(1)
    if data is None or weights is None or len(weights.shape) != 4 or len(data.shape) != 4:
        return []
    _, k_h, k_w, _ = weights.shape
    return [align_scratch(matrix_scratch_bytes(k_h * k_w * int(data.shape[3]), int(weights.shape[0])))]


def _depthwise(op: Op) -> list[int]:
    data, weights = op.input(0), op.input(1)
    if data is None or weights is None or len(weights.shape) != 4 or len(data.shape) != 4:
        return []
    _, k_h, k_w, _ = weights.shape
    _, in_h, in_w, _ = data.shape
    stride_h, stride_w = _attr(op, "stride_h"), _attr(op, "stride_w")
    dil_h, dil_w = _attr(op, "dilation_h_factor"), _attr(op, "dilation_w_factor")
    padding = str(op.attrs.get("padding", "VALID"))
    out_h = output_size(int(in_h), int(k_h), stride_h, dil_h, padding)
    out_w = output_size(int(in_w), int(k_w), stride_w, dil_w, padding)
    return [align_scratch(depthwise_scratch_bytes(out_h, out_w, int(k_h), int(k_w), stride_h, stride_w,
                                                  dil_h, dil_w))]


def _fully_connected(op: Op) -> list[int]:
    weights = op.input(1)
    if weights is None or len(weights.shape) != 2:
        return []
    units, depth = weights.shape
    return [align_scratch(matrix_scratch_bytes(int(depth), int(units)))]


def _none(op: Op) -> list[int]:
    return []


TINYOPS_RULES: dict[str, ScratchRule] = {kind: _none for kind in TINYOPS_KINDS}
TINYOPS_RULES.update({"CONV_2D": _conv, "DEPTHWISE_CONV_2D": _depthwise, "FULLY_CONNECTED": _fully_connected})

__all__ = ["LUT_KINDS", "SCRATCH_ALIGN_BYTES", "TINYOPS_KINDS", "TINYOPS_RULES", "VIEW_KINDS", "align_scratch",
           "depthwise_scratch_bytes", "matrix_scratch_bytes"]
