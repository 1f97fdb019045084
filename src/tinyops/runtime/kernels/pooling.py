"""AVERAGE_POOL_2D, MAX_POOL_2D and MEAN (int8/int16 and float32)."""

from __future__ import annotations

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.runtime.fixedpoint import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    truncating_divide,
    wrap_int32,
)
from tinyops.runtime.kernels.base import (
    KernelOptions,
    Arrays,
    BatchNotSupported,
    KernelUnsupported,
    PreparedKernel,
    activation_range,
    constant,
    fused_activation,
    register_kernel,
    scale_zp,
    tensor_in,
)
from tinyops.runtime.kernels.conv import Geometry


def _pool_setup(op: Op) -> tuple[Geometry, tuple[float, float]]:
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    if input_t.dtype not in (DType.INT8, DType.INT16, DType.FLOAT32) or output_t.dtype != input_t.dtype:
        raise KernelUnsupported(f"{input_t.dtype.value} -> {output_t.dtype.value} pooling")
    geo = Geometry(op, int(op.attrs["filter_height"]), int(op.attrs["filter_width"]))
    if input_t.dtype is DType.FLOAT32:
        bounds = activation_range(fused_activation(op), DType.FLOAT32)
    else:
        scale, zp = scale_zp(output_t)
        bounds = activation_range(fused_activation(op), output_t.dtype, scale, zp)
    return geo, bounds


def average_pool_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    geo, (lo, hi) = _pool_setup(op)
    in_shape = tensor_in(op, 0).shape
    # How many taps of each output window fall inside the input (TFLite divides by that count).
    ones = np.ones((1, in_shape[1], in_shape[2], 1), dtype=np.int64)
    counts: np.ndarray = np.sum(geo.taps(geo.pad(ones)), axis=0)
    is_float = tensor_in(op, 0).dtype is DType.FLOAT32
    out_dtype = tensor_in(op, 0).dtype.numpy

    whole = (geo.out_h == geo.out_w == 1 and not geo.needs_pad and geo.k_h == in_shape[1]
             and geo.k_w == in_shape[2])
    if whole and not is_float:
        # Global average pooling: one reduction instead of k_h * k_w tap additions.
        count = int(counts.reshape(-1)[0])

        def run_global(inputs: Arrays) -> list[np.ndarray]:
            total = inputs[0].sum(axis=(1, 2), keepdims=True, dtype=np.int64)
            rounded = truncating_divide(np.where(total > 0, total + count // 2, total - count // 2), count)
            return [np.clip(rounded, lo, hi).astype(out_dtype)]

        return run_global

    def run(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        if is_float:
            total = sum(v for v in geo.taps(geo.pad(x.astype(np.float32))))
            return [np.clip(total / counts.astype(np.float32), lo, hi).astype(np.float32)]
        total = sum(v for v in geo.taps(geo.pad(x.astype(np.int64))))
        # Round half away from zero with C's truncating division, as the reference kernel does.
        half = counts // 2
        rounded = truncating_divide(np.where(total > 0, total + half, total - half), counts)
        return [np.clip(rounded, lo, hi).astype(out_dtype)]

    return run


def max_pool_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    geo, (lo, hi) = _pool_setup(op)
    dtype = tensor_in(op, 0).dtype.numpy
    fill = -np.inf if dtype == np.float32 else np.iinfo(dtype).min

    def run(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        padded = geo.pad(x, value=fill)
        result = np.maximum.reduce(geo.taps(padded)) if len(geo.taps(padded)) > 1 else geo.taps(padded)[0]
        return [np.clip(result, lo, hi).astype(dtype)]

    return run


def mean_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    """MEAN: float32 over any axes; int8/int16 with TFLM/TFLite's integer rescaling."""
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    rank = len(input_t.shape)
    axes = tuple(sorted({int(a) % rank for a in np.asarray(constant(op, 1)).reshape(-1)}))
    keep_dims = bool(op.attrs.get("keep_dims", False))
    if 0 in axes:
        batch_axis_reduced = True
    else:
        batch_axis_reduced = False
    count = int(np.prod([input_t.shape[a] for a in axes])) if axes else 1

    def reduce_sum(x: np.ndarray) -> np.ndarray:
        if batch_axis_reduced and x.shape[0] != input_t.shape[0]:
            raise BatchNotSupported()
        return np.sum(x, axis=axes, keepdims=keep_dims)

    if input_t.dtype is DType.FLOAT32:
        def run_float(inputs: Arrays) -> list[np.ndarray]:
            return [(reduce_sum(inputs[0].astype(np.float32)) / np.float32(count)).astype(np.float32)]
        return run_float
    if input_t.dtype not in (DType.INT8, DType.INT16) or output_t.dtype != input_t.dtype:
        raise KernelUnsupported(f"{input_t.dtype.value} -> {output_t.dtype.value} mean")
    in_scale, in_zp = scale_zp(input_t)
    out_scale, out_zp = scale_zp(output_t)
    info = np.iinfo(input_t.dtype.numpy)
    dtype = input_t.dtype.numpy

    # TFLM's (and TFLite's reference) QuantizedMeanOrSum: the multiplier of in_scale/out_scale
    # (doubles of the float scales) absorbs 1/count as (multiplier << s) / count, s = floor(log2
    # count) clamped to 32 and to 31 + shift; then TFLite's double-rounding rescale of the
    # zero-point-corrected int32 sum, plus the output zero point, clamped.
    multiplier, shift = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    s = min(count.bit_length() - 1, 32, 31 + shift)
    mean_multiplier = (multiplier << s) // count
    mean_shift = shift - s
    offset = in_zp * count

    def run(inputs: Arrays) -> list[np.ndarray]:
        sums = reduce_sum(inputs[0].astype(np.int64)) - offset
        out = multiply_by_quantized_multiplier(wrap_int32(sums), mean_multiplier, mean_shift) + out_zp
        return [np.clip(out, info.min, info.max).astype(dtype)]

    return run


register_kernel("AVERAGE_POOL_2D", average_pool_kernel)
register_kernel("MAX_POOL_2D", max_pool_kernel)
register_kernel("MEAN", mean_kernel)
