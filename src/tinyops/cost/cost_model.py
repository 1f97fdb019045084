"""Compute cycles of one op on one core with one kernel library.

cycles(op) = features(op) . coefficients(core, kernels)

The features are counts taken from the op's shapes through the op registry (MACs, output
elements, im2col elements, elements processed, 1 per op), routed to the coefficient of the
op's kernel class (1x1 conv, im2col conv, depthwise 3x3, other depthwise, fully connected,
everything else). The coefficients are fitted per core and kernel library by
``benchmarks/calibrate.py`` and read through :func:`tinyops.kernels.profile.load_params`.
This is the cost of the arithmetic with operands in SRAM; memory stalls for operands that
live elsewhere are added by :mod:`tinyops.cost.memory_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyops.ops.weight_formats import op_decode_work
from tinyops.ir.graph import Op
from tinyops.ops import known_kinds, spec_for
from tinyops.kernels.profile import COEFFICIENTS, CoreParams

_INDEX = {name: i for i, name in enumerate(COEFFICIENTS)}
MAC_CLASSES = ("conv1x1", "conv", "dw3x3", "dw", "fc")
_MAC_COEFFICIENT = {
    "conv1x1": "conv_cycles_per_mac",
    "conv": "conv_cycles_per_mac",
    "dw3x3": "dw3x3_cycles_per_mac",
    "dw": "dw_cycles_per_mac",
    "fc": "fc_cycles_per_mac",
}


@dataclass(frozen=True)
class OpCounts:
    """What the coefficients multiply, for one op."""

    kernel_class: str  # conv1x1 | conv | dw3x3 | dw | fc | other | opaque
    macs: int
    outputs: int  # output elements
    im2col_elements: int  # int8 elements copied into im2col columns (non-1x1 convs)
    elements: int  # elementary ops of non-MAC ops
    in_channels: int
    out_channels: int


def _int_attr(op: Op, name: str, default: int = 1) -> int:
    value = op.attrs.get(name, default)
    return int(value) if value is not None else default


def kernel_class(op: Op) -> str:
    """The kernel that runs the op, as the cost model distinguishes them."""
    category = spec_for(op).category
    if category == "conv":
        weights = op.input(1)
        if op.kind == "CONV_2D" and weights is not None and len(weights.shape) == 4:
            _, k_h, k_w, _ = weights.shape
            if k_h == 1 and k_w == 1:
                return "conv1x1"
        return "conv"
    if category == "depthwise":
        weights, data = op.input(1), op.input(0)
        if weights is not None and data is not None and len(weights.shape) == 4:
            _, k_h, k_w, out_c = weights.shape
            if k_h == 3 and k_w == 3 and out_c == data.shape[-1]:
                return "dw3x3"
        return "dw"
    if category == "fc":
        return "fc"
    if category == "opaque":
        return "opaque"
    return "other"


def op_counts(op: Op) -> OpCounts:
    spec = spec_for(op)
    cls = kernel_class(op)
    outputs = sum(t.num_elements for t in op.outputs)
    macs = int(spec.count_macs(op)) if cls in MAC_CLASSES else 0
    in_c = out_c = 0
    im2col = 0
    data, weights = op.input(0), op.input(1) if len(op.inputs) > 1 else None
    if cls in ("conv1x1", "conv") and weights is not None and len(weights.shape) == 4:
        out_c, k_h, k_w, in_c = weights.shape
        if cls == "conv":
            out_pixels = outputs // max(out_c, 1)
            im2col = out_pixels * k_h * k_w * in_c
    elif cls in ("dw3x3", "dw") and data is not None and weights is not None:
        in_c, out_c = data.shape[-1], weights.shape[-1]
    elif cls == "fc" and weights is not None and len(weights.shape) == 2:
        out_c, in_c = weights.shape
    elements = 0 if cls in MAC_CLASSES else int(spec.count_elementary_ops(op))
    if cls == "opaque":
        elements = outputs  # unknown arithmetic: at least every output is produced once
    return OpCounts(cls, macs, outputs, im2col, elements, int(in_c), int(out_c))


def channels_aligned(counts: OpCounts, params: CoreParams) -> bool:
    a = params.channel_alignment
    return counts.in_channels % a == 0 and counts.out_channels % a == 0


def features(counts: OpCounts, params: CoreParams) -> np.ndarray:
    """Feature vector (ordered like COEFFICIENTS): cycles = features . coefficients."""
    f = np.zeros(len(COEFFICIENTS))
    f[_INDEX["cycles_per_op"]] = 1.0
    if counts.kernel_class in MAC_CLASSES:
        macs = float(counts.macs)
        if counts.kernel_class in ("conv1x1", "conv") and not channels_aligned(counts, params):
            macs *= params.unaligned_channel_factor
        f[_INDEX[_MAC_COEFFICIENT[counts.kernel_class]]] = macs
        f[_INDEX["cycles_per_output"]] = counts.outputs
        f[_INDEX["im2col_cycles_per_element"]] = counts.im2col_elements
    else:
        f[_INDEX["cycles_per_element"]] = counts.elements
    return f


def coefficient_vector(params: CoreParams) -> np.ndarray:
    return np.array([params.c(name) for name in COEFFICIENTS])


def compute_cycles(op: Op, params: CoreParams) -> float:
    """Cycles of ``op`` with every operand in SRAM (no memory stalls), weight decoding included."""
    spec = spec_for(op)
    hook = spec.hooks.get("cost")
    base = float(hook(op, params)) if hook is not None else op_cost_cycles(op, params)
    return base + weight_decode_cycles(op)


# Decode work of sub-int8 weight formats, in cycles per unit (estimates, not fitted: no published
# measurement isolates them). An int4 weight: one signed bit-field extract (SBFX, 1 cycle in the
# Cortex-M4/M7 instruction timings), loads and stores amortised over whole words. A code-book
# bit: shift it in, compare with the canonical code's first code of that length, branch (~3
# cycles, bit-serial decoding). A table read: one LDRB from SRAM (2 cycles).
NIBBLE_UNPACK_CYCLES = 1.0
HUFFMAN_BIT_CYCLES = 3.0
TABLE_LOOKUP_CYCLES = 2.0


def weight_decode_cycles(op: Op) -> float:
    """Cycles an op spends decoding int4 or code-book weights per inference (0 for int8)."""
    work = op_decode_work(op)
    return (work.nibble_unpacks * NIBBLE_UNPACK_CYCLES + work.huffman_bits * HUFFMAN_BIT_CYCLES
            + work.table_lookups * TABLE_LOOKUP_CYCLES)


def op_cost_cycles(op: Op, params: CoreParams) -> float:
    return float(features(op_counts(op), params) @ coefficient_vector(params))


def _register_hooks() -> None:
    """Make the cost function findable from the op registry (spec.hooks["cost"])."""
    for kind in known_kinds():
        spec_for(kind).hooks.setdefault("cost", op_cost_cycles)


_register_hooks()
