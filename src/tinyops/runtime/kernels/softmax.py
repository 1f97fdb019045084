"""SOFTMAX (int8 -> int8/int16 in gemmlowp fixed point, float32) and LOG_SOFTMAX (float32)."""

from __future__ import annotations

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.runtime.fixedpoint import (
    calculate_input_radius,
    exp_on_negative_values,
    get_reciprocal,
    preprocess_softmax_scaling,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)
from tinyops.runtime.kernels.base import KernelOptions, Arrays, KernelUnsupported, PreparedKernel, register_kernel, scale_zp, tensor_in

SCALED_DIFF_INTEGER_BITS = 5  # input differences are held as Q5.26 before exp()
ACCUMULATION_INTEGER_BITS = 12  # the sum of exps is held as Q12.19


def softmax_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    beta = float(np.float32(op.attrs.get("beta", 1.0)))
    if input_t.dtype is DType.FLOAT32:
        def run_float(inputs: Arrays) -> list[np.ndarray]:
            x = inputs[0].astype(np.float32)
            exps = np.exp((x - x.max(axis=-1, keepdims=True)) * np.float32(beta)).astype(np.float32)
            return [(exps / exps.sum(axis=-1, keepdims=True, dtype=np.float32)).astype(np.float32)]
        return run_float
    if input_t.dtype is not DType.INT8 or output_t.dtype not in (DType.INT8, DType.INT16):
        raise KernelUnsupported(f"{input_t.dtype.value} -> {output_t.dtype.value} softmax")
    in_scale, _ = scale_zp(input_t)
    multiplier, left_shift = preprocess_softmax_scaling(beta, float(np.float32(in_scale)), SCALED_DIFF_INTEGER_BITS)
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    out_info = np.iinfo(output_t.dtype.numpy)
    out_bits = out_info.bits
    out_dtype = output_t.dtype.numpy

    # exp() of every possible int8 difference to the row maximum (-255..0), computed once; the
    # per-row work left is a look-up, a sum and the reciprocal.
    diffs = np.arange(-255, 1, dtype=np.int64)
    rescaled = saturating_rounding_doubling_high_mul(wrap_int32(diffs << left_shift), multiplier)
    exp_table = np.where(diffs >= diff_min, exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS), 0)
    accumulated_table = rounding_divide_by_pot(exp_table, ACCUMULATION_INTEGER_BITS)

    def run_int(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0].astype(np.int64)
        diff = x - x.max(axis=-1, keepdims=True)
        used = diff >= diff_min
        exps = exp_table[diff + 255]
        sum_of_exps = accumulated_table[diff + 255].sum(axis=-1, keepdims=True)
        reciprocal, bits_over_unit = get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
        exponent = bits_over_unit + 31 - out_bits
        unsaturated = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(reciprocal, exps), exponent)
        out = np.clip(unsaturated + out_info.min, out_info.min, out_info.max)
        return [np.where(used, out, out_info.min).astype(out_dtype)]

    return run_int


def log_softmax_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    input_t = tensor_in(op, 0)
    if input_t.dtype is not DType.FLOAT32:
        raise KernelUnsupported(f"{input_t.dtype.value} log-softmax (float32 only)")

    def run(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0].astype(np.float32)
        shifted = x - x.max(axis=-1, keepdims=True)
        log_sum = np.log(np.exp(shifted).sum(axis=-1, keepdims=True, dtype=np.float32))
        return [(shifted - log_sum).astype(np.float32)]

    return run


register_kernel("SOFTMAX", softmax_kernel)
register_kernel("LOG_SOFTMAX", log_softmax_kernel)
