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


def accumulator_bounds(weights_minus_zp: np.ndarray, input_dtype: np.dtype, input_zero_point: int) -> np.ndarray:
    """Per output channel (rows of ``weights_minus_zp``): the largest |sum of products| possible."""
    info = np.iinfo(input_dtype)
    largest_input = max(int(info.max) - input_zero_point, input_zero_point - int(info.min))
    per_channel = np.abs(weights_minus_zp.reshape(weights_minus_zp.shape[0], -1)).sum(axis=1)
    return largest_input * per_channel.astype(np.float64)


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
    if q is None:
        raise KernelUnsupported(f"weights {weights.name!r} have no quantization parameters")
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


FLOAT64_EXACT_LIMIT = 1 << 53


class FusedRequantizer:
    """Bias + OutputStage + zero point + clamp + cast in about seven array passes (the hot path).

    TFLite's double rounding for a right shift r > 0 is, for an int32 accumulator a (bias added)
    and a multiplier M in (0, 2**31):
        h   = SaturatingRoundingDoublingHighMul(a, M) = floor((a*M + 2**30) / 2**31)
        out = RoundingDivideByPOT(h, r)                = floor((h + 2**(r-1) - [h < 0]) / 2**r)
    (the nudge of the high multiply is 2**30 for a*M >= 0 and 1 - 2**30 otherwise, which with C's
    truncation equals the floor above; h < 0 exactly when a*M < -2**30). Nested floors by integer
    steps collapse, so with S = 31 + r:
        out = floor((a*M + 2**30 + 2**(r-1) * 2**31 - [a*M < -2**30] * 2**31) / 2**S)
    A positive shift multiplies M by 2**shift first (exact while a * 2**shift fits int32, which the
    accumulator bound checks); LiteRT's single rounding is floor((a*M' + 2**(S-1)) / 2**S) with no
    sign term. Bias and output zero point fold into the per-channel constant, and the sign test
    into a per-channel threshold on the raw accumulator. Evaluated in float64 when every
    intermediate integer is below 2**53 (then each float operation is exact: power-of-two scaling
    is exact and the sums are representable), else in int64. Per-channel constants are tiled to
    the whole output (one long inner loop per array operation instead of one per pixel).
    """

    def __init__(self, stage: OutputStage, bias: np.ndarray, acc_bound: np.ndarray | float,
                 tile: int = 1) -> None:
        channels = max(np.size(stage.multiplier), np.size(bias))
        mult = np.broadcast_to(np.asarray(stage.multiplier, np.int64), (channels,))
        shift = np.broadcast_to(np.asarray(stage.shift, np.int64), (channels,))
        bias = np.broadcast_to(np.asarray(bias, np.int64), (channels,))
        bound = np.broadcast_to(np.asarray(acc_bound, np.float64), (channels,))
        self.ok = not stage.wide
        m_eff, s_tot, c_pos, c_neg, thr = [], [], [], [], []
        fits_float = True
        for m, sh, b, a_max in zip(mult.tolist(), shift.tolist(), bias.tolist(), bound.tolist()):
            left, right = max(sh, 0), max(-sh, 0)
            total = a_max + abs(b)
            if total * (1 << (0 if stage.single_rounding else left)) >= (1 << 31):
                self.ok = False  # a << left might wrap in int32 (or a + b overflows it)
                break
            if stage.single_rounding:
                me = m
                s = 31 - sh
                c = (1 << (s - 1)) + b * me
                cn, t = c, None
            else:
                me = m << left
                s = 31 + right
                half = (1 << (right - 1)) if right > 0 else 0
                c = (1 << 30) + half * (1 << 31) + b * me
                # h < 0 (and the rounding step subtracts one) iff (a + b) * me < -2**30.
                cn = c - (1 << 31) if right > 0 else c
                t = (-((1 << 30) // me) if me else None)  # a + b < t  <=>  (a + b) * me < -2**30
            c += stage.zero_point << s
            cn += stage.zero_point << s
            m_eff.append(me)
            s_tot.append(s)
            c_pos.append(c)
            c_neg.append(cn)
            # threshold on the raw accumulator (bias not included): a < t - b
            thr.append(-(1 << 62) if t is None else t - b)
            peak = total * me + max(abs(c), abs(cn))
            if peak >= FLOAT64_EXACT_LIMIT:
                fits_float = False
            if peak >= (1 << 62):
                self.ok = False
        if not self.ok:
            return
        self.float = fits_float
        self.qmin, self.qmax, self.dtype = stage.qmin, stage.qmax, stage.dtype
        s_arr = np.array(s_tot, dtype=np.int64)
        self.signed = any(n != p for n, p in zip(c_neg, c_pos))
        # float64 multipliers on the float path, int64 on the integer path.
        self.m: np.ndarray
        self.c_pos: np.ndarray
        self.c_neg: np.ndarray
        if self.float:
            scale = np.ldexp(1.0, -s_arr)
            self.m = np.tile(np.array(m_eff, np.float64) * scale, tile)
            self.c_pos = np.tile(np.array(c_pos, np.float64) * scale, tile)
            self.c_neg = np.tile(np.array(c_neg, np.float64) * scale, tile)
        else:
            self.m = np.tile(np.array(m_eff, np.int64), tile)
            self.c_pos = np.tile(np.array(c_pos, np.int64), tile)
            self.c_neg = np.tile(np.array(c_neg, np.int64), tile)
            self.s = np.tile(s_arr, tile)
        thr_int = np.array(thr, np.int64)
        thr_float = np.where(thr_int == -(1 << 62), -np.inf, thr_int.astype(np.float64))
        self.thr = np.tile(thr_float, tile)
        self.thr_int = np.tile(thr_int, tile)
        small = np.all((np.abs(thr_int) < (1 << 24)) | (thr_int == -(1 << 62)))
        self.thr_f32 = np.tile(thr_float.astype(np.float32), tile) if small else None

    def __call__(self, acc: np.ndarray) -> np.ndarray:
        """acc: integer-valued (float32/float64/int32/int64) of shape [..., tile * channels]."""
        if self.float:
            if acc.dtype != np.float32 and acc.dtype != np.float64:
                acc = acc.astype(np.float64)
            p = np.multiply(acc, self.m, dtype=np.float64)
            if self.signed:
                thr = self.thr_f32 if acc.dtype == np.float32 and self.thr_f32 is not None else self.thr
                p += np.where(acc < thr, self.c_neg, self.c_pos)
            else:
                p += self.c_pos
            np.floor(p, out=p)
        else:
            a = acc.astype(np.int64)
            p = a * self.m
            if self.signed:
                p += np.where(a < self.thr_int, self.c_neg, self.c_pos)
            else:
                p += self.c_pos
            p >>= self.s
        np.clip(p, self.qmin, self.qmax, out=p)
        return p.astype(self.dtype)
