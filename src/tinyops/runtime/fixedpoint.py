"""TFLite's integer requantization arithmetic, vectorized over NumPy arrays.

Every function mirrors the scalar C++ helpers TFLite and TFLM share (quantization_util and the
gemmlowp fixed-point primitives) bit for bit: int32 values are carried in int64 arrays so the
64-bit intermediate products never overflow, C's truncating division and arithmetic shifts are
spelt out, and saturation happens where the C code saturates. Multipliers and shifts may be
scalars or arrays that broadcast against ``x`` (per-channel requantization).
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
IntArray = np.ndarray


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """A real multiplier as (int32 multiplier with the fixed point at bit 31, power-of-two shift).

    real ~= multiplier * 2**(shift - 31). Same steps as TFLite's QuantizeMultiplier: frexp, then
    round half away from zero (std::round), renormalize a mantissa that rounded up to 1.0, and
    flush multipliers too small to represent to zero.
    """
    if real_multiplier == 0.0:
        return 0, 0
    mantissa, shift = math.frexp(real_multiplier)
    q_fixed = _round_half_away(mantissa * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return int(q_fixed), int(shift)


def quantize_multipliers(real_multipliers: np.ndarray) -> tuple[IntArray, IntArray]:
    """Per-channel quantize_multiplier: int64 arrays of multipliers and shifts."""
    pairs = [quantize_multiplier(float(m)) for m in np.asarray(real_multipliers, dtype=np.float64).reshape(-1)]
    return (np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64))


def quantize_multiplier_smaller_than_one(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierSmallerThanOneExp: the same numbers, shift returned <= 0."""
    return quantize_multiplier(real_multiplier)


def _round_half_away(value: float) -> int:
    """std::round for doubles: halves go away from zero (Python's round() would go to even)."""
    return int(math.floor(abs(value) + 0.5)) * (1 if value >= 0 else -1)


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Vectorized std::round (TfLiteRound) on float arrays."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def truncating_divide(numerator: IntArray, denominator: IntArray | int) -> IntArray:
    """C integer division (rounds toward zero), unlike NumPy's floor division."""
    quotient = np.abs(numerator) // np.abs(denominator)
    return np.where((numerator < 0) != (np.asarray(denominator) < 0), -quotient, quotient)


def saturating_rounding_doubling_high_mul(a: IntArray, b: IntArray | int) -> IntArray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values held in int64 arrays."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a * b
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    total = product + nudge
    # (ab + nudge) / 2^31 with C truncation toward zero.
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x: IntArray, exponent: IntArray | int) -> IntArray:
    """gemmlowp RoundingDivideByPOT: arithmetic shift right, rounding half away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def wrap_int32(x: IntArray) -> IntArray:
    """What an int32 C expression that overflowed holds (two's-complement wrap-around)."""
    return ((np.asarray(x, dtype=np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def multiply_by_quantized_multiplier(x: IntArray, multiplier: IntArray | int, shift: IntArray | int) -> IntArray:
    """TFLite's MultiplyByQuantizedMultiplier (double-rounding build), int32 x in an int64 array.

    A positive shift multiplies x by 2**shift first (in int32, wrapping as the C code would), then
    the rounding doubling high multiply, then a rounding right shift by -shift.
    """
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    if np.any(left):
        x = wrap_int32(x << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), right)


def multiply_by_quantized_multiplier_int64(x: IntArray, multiplier: IntArray | int, shift: IntArray | int) -> IntArray:
    """TFLite's 64-bit-input MultiplyByQuantizedMultiplier (int16x8 conv with int64 accumulators).

    The multiplier is first reduced to 16 bits (rounded), then one rounding shift by 15 - shift.
    """
    x = np.asarray(x, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    reduced = np.where(multiplier < 0x7FFF0000, (multiplier + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - shift
    rounding = np.int64(1) << (total_shift - 1)
    return (x * reduced + rounding) >> total_shift


def multiply_by_quantized_multiplier_greater_than_one(x: IntArray, multiplier: int, left_shift: int) -> IntArray:
    """gemmlowp-era helper: SRDHM(x * 2**left_shift, multiplier) (used by softmax/logistic prep)."""
    return saturating_rounding_doubling_high_mul(wrap_int32(np.asarray(x, dtype=np.int64) << left_shift), multiplier)


def saturate(x: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Clamp to the range of an integer type and cast to it."""
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype)
