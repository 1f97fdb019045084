"""Elementwise binary ops with NumPy broadcasting: ADD, SUB and MUL (int8 and float32).

The int8 kernels are written as TFLite's arithmetic and then tabulated over all 65536 input
pairs at preparation (tabulate_binary_int8): inference is one look-up per element.
"""

from __future__ import annotations

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.runtime.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from tinyops.runtime.kernels.base import (
    KernelOptions,
    Arrays,
    KernelUnsupported,
    PreparedKernel,
    activation_range,
    fused_activation,
    register_kernel,
    scale_zp,
    tabulate_binary_int8,
    tensor_in,
)

ADD_LEFT_SHIFT_INT8 = 20  # TFLite's headroom for int8 ADD/SUB: inputs are scaled up by 2**20 first


def _float_binary(op: Op, ufunc: np.ufunc) -> PreparedKernel:
    lo, hi = activation_range(fused_activation(op), DType.FLOAT32)

    def run(inputs: Arrays) -> list[np.ndarray]:
        y = ufunc(inputs[0].astype(np.float32), inputs[1].astype(np.float32))
        if lo != -np.inf or hi != np.inf:
            y = np.clip(y, np.float32(lo), np.float32(hi))
        return [y.astype(np.float32)]

    return run


def _check_types(op: Op) -> DType:
    a, b, out = tensor_in(op, 0), tensor_in(op, 1), op.outputs[0]
    if not (a.dtype == b.dtype == out.dtype):
        raise KernelUnsupported(f"mixed types {a.dtype.value}, {b.dtype.value} -> {out.dtype.value}")
    if a.dtype not in (DType.FLOAT32, DType.INT8):
        raise KernelUnsupported(f"{a.dtype.value} tensors (int8 and float32 are supported)")
    return a.dtype


def add_sub_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    """TFLite's quantized ADD/SUB: rescale both inputs to a common 2**-20-finer scale, add, requantize."""
    dtype = _check_types(op)
    negate = op.kind == "SUB"
    if dtype is DType.FLOAT32:
        return _float_binary(op, np.subtract if negate else np.add)
    a_scale, a_zp = scale_zp(tensor_in(op, 0))
    b_scale, b_zp = scale_zp(tensor_in(op, 1))
    out_scale, out_zp = scale_zp(op.outputs[0])
    # Same double/float mix as the C++: 2*max(float, float) is a float, the ratios are doubles.
    twice_max = float(np.float32(2) * np.float32(max(a_scale, b_scale)))
    a_mult, a_shift = quantize_multiplier(float(np.float32(a_scale)) / twice_max)
    b_mult, b_shift = quantize_multiplier(float(np.float32(b_scale)) / twice_max)
    out_mult, out_shift = quantize_multiplier(
        twice_max / float(np.float32(1 << ADD_LEFT_SHIFT_INT8) * np.float32(out_scale)))
    qmin, qmax = activation_range(fused_activation(op), dtype, out_scale, out_zp)

    def run(inputs: Arrays) -> list[np.ndarray]:
        a = (inputs[0].astype(np.int64) - a_zp) << ADD_LEFT_SHIFT_INT8
        b = (inputs[1].astype(np.int64) - b_zp) << ADD_LEFT_SHIFT_INT8
        a = multiply_by_quantized_multiplier(a, a_mult, a_shift)
        b = multiply_by_quantized_multiplier(b, b_mult, b_shift)
        total = a - b if negate else a + b
        out = multiply_by_quantized_multiplier(total, out_mult, out_shift) + out_zp
        return [np.clip(out, qmin, qmax).astype(np.int8)]

    return tabulate_binary_int8(run)


def mul_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    dtype = _check_types(op)
    if dtype is DType.FLOAT32:
        return _float_binary(op, np.multiply)
    a_scale, a_zp = scale_zp(tensor_in(op, 0))
    b_scale, b_zp = scale_zp(tensor_in(op, 1))
    out_scale, out_zp = scale_zp(op.outputs[0])
    mult, shift = quantize_multiplier(float(np.float32(a_scale)) * float(np.float32(b_scale))
                                      / float(np.float32(out_scale)))
    qmin, qmax = activation_range(fused_activation(op), dtype, out_scale, out_zp)

    def run(inputs: Arrays) -> list[np.ndarray]:
        product = (inputs[0].astype(np.int64) - a_zp) * (inputs[1].astype(np.int64) - b_zp)
        out = multiply_by_quantized_multiplier(product, mult, shift) + out_zp
        return [np.clip(out, qmin, qmax).astype(np.int8)]

    return tabulate_binary_int8(run)


register_kernel("ADD", add_sub_kernel)
register_kernel("SUB", add_sub_kernel)
register_kernel("MUL", mul_kernel)
