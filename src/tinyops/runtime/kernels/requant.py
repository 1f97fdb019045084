"""Requantization pieces shared by the kernels that accumulate in int32/int64 and write int8/int16."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op, Tensor
from tinyops.runtime.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    quantize_multipliers,
)
from tinyops.runtime.kernels.base import KernelUnsupported, activation_range, fused_activation, scale_zp


@dataclass
class OutputStage:
    """Per-output-channel requantization of an accumulator: multiplier, shift, zero point, clamp.

    ``wide`` selects TFLite's 64-bit-accumulator variant (int16x8 kernels with an int64 bias).
    """

    multiplier: np.ndarray  # int64, per channel (or one entry)
    shift: np.ndarray
    zero_point: int
    qmin: int
    qmax: int
    dtype: np.dtype
    wide: bool = False

    def __call__(self, acc: np.ndarray) -> np.ndarray:
        if self.wide:
            scaled = multiply_by_quantized_multiplier_int64(acc, self.multiplier, self.shift)
        else:
            scaled = multiply_by_quantized_multiplier(acc, self.multiplier, self.shift)
        return np.clip(scaled + self.zero_point, self.qmin, self.qmax).astype(self.dtype)


def weight_scales(weights: Tensor, channels: int) -> np.ndarray:
    """The filter's scales broadcast to one per output channel (per-tensor filters repeat theirs)."""
    q = weights.quantization
    if q is None or q.scale.size == 0:
        raise KernelUnsupported(f"weights {weights.name!r} have no quantization parameters")
    scales = np.asarray(q.scale, dtype=np.float32).reshape(-1)
    if scales.size == 1:
        return np.repeat(scales, channels)
    if scales.size != channels:
        raise KernelUnsupported(f"weights {weights.name!r} have {scales.size} scales for {channels} channels")
    return scales


def weight_zero_points(weights: Tensor, channels: int) -> np.ndarray:
    q = weights.quantization
    assert q is not None
    zps = np.asarray(q.zero_point, dtype=np.int64).reshape(-1)
    if zps.size <= 1:
        return np.full(channels, int(zps[0]) if zps.size else 0, dtype=np.int64)
    return zps


def conv_output_stage(op: Op, input_t: Tensor, weights: Tensor, output_t: Tensor, channels: int) -> OutputStage:
    """TFLite's PopulateConvolutionQuantizationParams: in_scale * w_scale / out_scale, in double."""
    in_scale, _ = scale_zp(input_t)
    out_scale, out_zp = scale_zp(output_t)
    real = [float(np.float32(in_scale)) * float(s) / float(np.float32(out_scale))
            for s in weight_scales(weights, channels)]
    multiplier, shift = quantize_multipliers(np.array(real))
    qmin, qmax = activation_range(fused_activation(op), output_t.dtype, out_scale, out_zp)
    bias = op.input(2)
    wide = input_t.dtype is DType.INT16 and bias is not None and bias.dtype is DType.INT64
    return OutputStage(multiplier, shift, out_zp, int(qmin), int(qmax), output_t.dtype.numpy, wide)
