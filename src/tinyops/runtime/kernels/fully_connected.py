"""FULLY_CONNECTED: int8 / int16x8 (per-tensor or per-channel weights) and float32.

The input is flattened to rows of the filter's depth (TFLite's behaviour), so any leading batch
dimension vectorizes. Integer products are summed exactly in float32/float64, as in conv.py.
"""

from __future__ import annotations

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.runtime.kernels.base import (
    KernelOptions,
    Arrays,
    KernelUnsupported,
    PreparedKernel,
    activation_range,
    constant,
    fused_activation,
    register_kernel,
    scale_zp,
    tensor_in,
)
from tinyops.runtime.kernels.requant import (
    FusedRequantizer,
    accumulator_bounds,
    conv_output_stage,
    matmul_dtype,
    weight_zero_points,
)


def fully_connected_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    input_t, weights, output_t = tensor_in(op, 0), tensor_in(op, 1), op.outputs[0]
    w = constant(op, 1)
    if w.ndim != 2:
        raise KernelUnsupported(f"weights of rank {w.ndim} (expected [units, depth])")
    if op.attrs.get("weights_format", "DEFAULT") not in ("DEFAULT", 0):
        raise KernelUnsupported(f"weights format {op.attrs['weights_format']}")
    units, depth = w.shape
    keep_num_dims = bool(op.attrs.get("keep_num_dims", False))
    bias_t = op.input(2)

    def out_shape(x: np.ndarray) -> tuple[int, ...]:
        return tuple(x.shape[:-1]) + (units,) if keep_num_dims else (-1, units)

    if input_t.dtype is DType.FLOAT32 and weights.dtype is DType.FLOAT32:
        w_mat = w.T.astype(np.float64)
        bias = np.zeros(units) if bias_t is None else np.asarray(constant(op, 2), dtype=np.float64)
        lo, hi = activation_range(fused_activation(op), DType.FLOAT32)

        def run_float(inputs: Arrays) -> list[np.ndarray]:
            x = inputs[0]
            y = (x.reshape(-1, depth).astype(np.float64) @ w_mat + bias).astype(np.float32)
            if lo != -np.inf or hi != np.inf:
                y = np.clip(y, np.float32(lo), np.float32(hi))
            return [y.reshape(out_shape(x))]

        return run_float

    if input_t.dtype not in (DType.INT8, DType.INT16) or weights.dtype is not DType.INT8:
        raise KernelUnsupported(f"{input_t.dtype.value} input with {weights.dtype.value} weights")
    _, in_zp = scale_zp(input_t)
    w_zp = weight_zero_points(weights, units)
    w_centered = w.astype(np.int64) - w_zp[:, None]
    acc_type = matmul_dtype(w_centered, input_t.dtype.numpy, in_zp)
    w_mat = np.ascontiguousarray(w_centered.T.astype(acc_type))
    stage = conv_output_stage(op, input_t, weights, output_t, units)
    if options.engine == "litert" and not stage.wide:
        stage.single_rounding = True  # see KernelOptions: LiteRT and TFLM round FC differently
    bias = np.zeros(units, dtype=np.int64) if bias_t is None else np.asarray(constant(op, 2), dtype=np.int64)
    fused = FusedRequantizer(stage, bias, accumulator_bounds(w_centered, input_t.dtype.numpy, in_zp))
    offset = acc_type(in_zp)
    if fused.ok:
        def run_fused(inputs: Arrays) -> list[np.ndarray]:
            x = inputs[0]
            rows = np.subtract(x.reshape(-1, depth), offset, dtype=acc_type)
            return [fused(rows @ w_mat).reshape(out_shape(x))]

        return run_fused

    def run_int(inputs: Arrays) -> list[np.ndarray]:
        x = inputs[0]
        acc = (x.reshape(-1, depth).astype(acc_type) - acc_type(in_zp)) @ w_mat
        return [stage(acc.astype(np.int64) + bias).reshape(out_shape(x))]

    return run_int


register_kernel("FULLY_CONNECTED", fully_connected_kernel)
