"""AVERAGE_POOL_2D, MAX_POOL_2D and MEAN (int8/int16 and float32)."""

from __future__ import annotations

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.runtime.fixedpoint import truncating_divide
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
    counts = sum(geo.taps(geo.pad(ones)))
    is_float = tensor_in(op, 0).dtype is DType.FLOAT32
    out_dtype = tensor_in(op, 0).dtype.numpy

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
    """MEAN: float32 over any axes; int8/int16 only when input and output share quantization."""
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

    if out_zp != in_zp or np.float32(out_scale) != np.float32(in_scale):
        # LiteRT/TFLM pick among several integer paths here; none tried was bit-exact on all
        # shapes, so the runtime refuses rather than approximates.
        raise KernelUnsupported("an int8 mean whose output quantization differs from the input's is not "
                                "bit-exact yet")

    def run_same(inputs: Arrays) -> list[np.ndarray]:
        # Mean of the raw values, rounded half away from zero. Bit-exact with both oracles on
        # mcunet_vww's MEANs (3 elements per mean); KNOWN GAP: synthetic same-quantization means
        # over other sizes differ in a fraction of values (see docs/runtime.md).
        sums = reduce_sum(inputs[0].astype(np.int64))
        half = count // 2
        rounded = truncating_divide(np.where(sums > 0, sums + half, sums - half), count)
        return [np.clip(rounded, info.min, info.max).astype(dtype)]

    return run_same


register_kernel("AVERAGE_POOL_2D", average_pool_kernel)
register_kernel("MAX_POOL_2D", max_pool_kernel)
register_kernel("MEAN", mean_kernel)
