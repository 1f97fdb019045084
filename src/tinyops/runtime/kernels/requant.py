"""Requantization pieces shared by the kernels that accumulate in int32/int64 and write int8/int16."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyops.ir.dtypes import DType
from tinyops.ir.graph import Op, Tensor
from tinyops.runtime.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    multiply_by_quantized_multiplier_single_rounding,
    quantize_multipliers,
)
from tinyops.runtime.kernels.base import KernelUnsupported, activation_range, fused_activation, scale_zp


@dataclass
class OutputStage:
    """Per-output-channel requantization of an accumulator: multiplier, shift, zero point, clamp.

    ``wide`` selects TFLite's 64-bit-accumulator variant (int16x8 kernels with an int64 bias);
    ``single_rounding`` the one-rounding rescale LiteRT's FULLY_CONNECTED uses.
    """

    multiplier: np.ndarray  # int64, per channel (or one entry)
    shift: np.ndarray
    zero_point: int
    qmin: int
    qmax: int
    dtype: np.dtype
    wide: bool = False
    single_rounding: bool = False

    def __post_init__(self) -> None:
        # Precomputed pieces of the double-rounding rescale (see requantize_fast).
        self._left = np.maximum(self.shift, 0)
        right = np.maximum(-self.shift, 0)
        self._right = right
        self._half = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
        self._rounds = (right > 0).astype(np.int64)
        self._any_left = bool(np.any(self._left))

    def __call__(self, acc: np.ndarray) -> np.ndarray:
        if not (self.single_rounding or self.wide or self._any_left):
            scaled = self._double_rounding(np.asarray(acc, dtype=np.int64))
        elif self.single_rounding:
            scaled = multiply_by_quantized_multiplier_single_rounding(acc, self.multiplier, self.shift)
        elif self.wide:
            scaled = multiply_by_quantized_multiplier_int64(acc, self.multiplier, self.shift)
        else:
            scaled = multiply_by_quantized_multiplier(acc, self.multiplier, self.shift)
        scaled += self.zero_point
        np.clip(scaled, self.qmin, self.qmax, out=scaled)
        return scaled.astype(self.dtype)

    def _double_rounding(self, acc: np.ndarray) -> np.ndarray:
        """multiply_by_quantized_multiplier for right shifts, with fewer temporaries (hot path).

        SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2**31 truncated toward zero, where
        nudge is 2**30 for a*b >= 0 and 1 - 2**30 otherwise (no saturation: multipliers > 0).
        RoundingDivideByPOT: (x + 2**(r-1) - [x < 0]) >> r rounds half away from zero.
        """
        product = acc * self.multiplier
        negative = product < 0
        product += 1 << 30
        product -= negative * ((1 << 31) - 1)
        product += (product < 0) * ((1 << 31) - 1)
        product >>= 31
        product += self._half - (product < 0) * self._rounds
        product >>= self._right
        return product


FLOAT32_EXACT_LIMIT = 1 << 24


def matmul_dtype(weights_minus_zp: np.ndarray, input_dtype: np.dtype, input_zero_point: int) -> type:
    """float32 when no partial sum can leave float32's exact integer range, else float64.

    The bound is rigorous: the largest |input - zero point| times the largest per-channel sum of
    |weights|. Every partial sum of integer products is below it, so float32 BLAS (twice as fast
    as float64) adds exactly; float64 is exact for any realistic depth (sums below 2**53).
    """
    info = np.iinfo(input_dtype)
    largest_input = max(int(info.max) - input_zero_point, input_zero_point - int(info.min))
    per_channel = np.abs(weights_minus_zp.reshape(weights_minus_zp.shape[0], -1)).sum(axis=1)
    bound = largest_input * float(per_channel.max(initial=0))
    return np.float32 if bound < FLOAT32_EXACT_LIMIT else np.float64


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
