"""QUANTIZE (float -> int, and int -> int requantization) and DEQUANTIZE (int -> float)."""

from __future__ import annotations

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op
from tinyops.runtime.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, round_half_away
from tinyops.runtime.kernels.base import (
    Arrays,
    KernelOptions,
    KernelUnsupported,
    PreparedKernel,
    register_kernel,
    scale_zp,
    tabulate_unary_int8,
    tensor_in,
)

QUANTIZED = (DType.INT8, DType.UINT8, DType.INT16)


def quantize_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    if output_t.dtype not in QUANTIZED + (DType.INT32,):
        raise KernelUnsupported(f"quantizing to {output_t.dtype.value}")
    if output_t.quantization is not None and output_t.quantization.per_channel:
        raise KernelUnsupported("per-channel output quantization")
    out_scale, out_zp = scale_zp(output_t)
    info = np.iinfo(output_t.dtype.numpy)
    dtype = output_t.dtype.numpy

    if input_t.dtype is DType.FLOAT32:
        # AffineQuantize: value / scale rounded half away from zero. Measured against both oracles:
        # the division happens in float32 (a double division rounds 80.4999998 and 80.5 apart).
        scale = np.float32(out_scale)

        def run_float(inputs: Arrays) -> list[np.ndarray]:
            q = round_half_away((inputs[0].astype(np.float32) / scale).astype(np.float32)) + out_zp
            return [np.clip(q, info.min, info.max).astype(dtype)]

        return run_float

    if input_t.dtype not in QUANTIZED:
        raise KernelUnsupported(f"quantizing from {input_t.dtype.value}")
    in_scale, in_zp = scale_zp(input_t)
    mult, shift = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))

    def run_requantize(inputs: Arrays) -> list[np.ndarray]:
        q = multiply_by_quantized_multiplier(inputs[0].astype(np.int64) - in_zp, mult, shift) + out_zp
        return [np.clip(q, info.min, info.max).astype(dtype)]

    return tabulate_unary_int8(run_requantize) if input_t.dtype is DType.INT8 else run_requantize


def dequantize_kernel(op: Op, options: KernelOptions) -> PreparedKernel:
    input_t, output_t = tensor_in(op, 0), op.outputs[0]
    if output_t.dtype is not DType.FLOAT32:
        raise KernelUnsupported(f"dequantizing to {output_t.dtype.value}")
    if input_t.dtype not in QUANTIZED:
        raise KernelUnsupported(f"dequantizing {input_t.dtype.value} (float16 weights are not supported)")
    if input_t.quantization is not None and input_t.quantization.per_channel:
        raise KernelUnsupported("per-channel dequantization")
    scale, zp = scale_zp(input_t)
    scale64 = float(np.float32(scale))

    def run(inputs: Arrays) -> list[np.ndarray]:
        # static_cast<float>(double scale * (q - zero_point))
        return [(scale64 * (inputs[0].astype(np.float64) - zp)).astype(np.float32)]

    return tabulate_unary_int8(run) if input_t.dtype is DType.INT8 else run


register_kernel("QUANTIZE", quantize_kernel)
register_kernel("DEQUANTIZE", dequantize_kernel)
