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


def round_half_away(values: np.ndarray | np.floating) -> np.ndarray:
    """Vectorized std::round (TfLiteRound) on float arrays."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def truncating_divide(numerator: IntArray, denominator: IntArray | int) -> IntArray:
    """C integer division (rounds toward zero), unlike NumPy's floor division."""
    quotient = np.abs(numerator) // np.abs(denominator)
    return np.where((numerator < 0) != (np.asarray(denominator) < 0), -quotient, quotient)


def saturating_rounding_doubling_high_mul(a: IntArray | int, b: IntArray | int) -> IntArray:
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


def multiply_by_quantized_multiplier_single_rounding(x: IntArray, multiplier: IntArray | int,
                                                     shift: IntArray | int) -> IntArray:
    """One rounding: (x * multiplier + 2**(30 - shift)) >> (31 - shift), in 64 bits.

    This is TFLite's TFLITE_SINGLE_ROUNDING variant, which LiteRT's FULLY_CONNECTED uses.
    """
    x = np.asarray(x, dtype=np.int64)
    total_shift = 31 - np.asarray(shift, dtype=np.int64)
    return (x * np.asarray(multiplier, dtype=np.int64) + (np.int64(1) << (total_shift - 1))) >> total_shift


def multiply_by_quantized_multiplier_greater_than_one(x: IntArray, multiplier: int, left_shift: int) -> IntArray:
    """gemmlowp-era helper: SRDHM(x * 2**left_shift, multiplier) (used by softmax/logistic prep)."""
    return saturating_rounding_doubling_high_mul(wrap_int32(np.asarray(x, dtype=np.int64) << left_shift), multiplier)


def saturate(x: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Clamp to the range of an integer type and cast to it."""
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype)


# --- gemmlowp fixed-point functions (softmax, logistic): raw int32 values in int64 arrays ------

def saturating_rounding_multiply_by_pot(x: IntArray, exponent: int) -> IntArray:
    """gemmlowp SaturatingRoundingMultiplyByPOT: rounding right shift, or saturating left shift."""
    x = np.asarray(x, dtype=np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def rounding_half_sum(a: IntArray, b: IntArray | int) -> IntArray:
    total = np.asarray(a, dtype=np.int64) + b
    return truncating_divide(total + np.where(total >= 0, 1, -1), 2)


def _q31(value: float) -> int:
    """A real in (-1, 1) as a Q0.31 raw value: the constants gemmlowp spells out in its source."""
    return _round_half_away(value * (1 << 31))


_EXP_QUARTER_CONSTANT = _q31(math.exp(-1.0 / 8.0))
_ONE_THIRD = _q31(1.0 / 3.0)
# exp(-2**k) for the barrel shifter that handles the integer part of the exponent.
_EXP_BARREL = [(k, _q31(math.exp(-(2.0 ** k)))) for k in range(-2, 5)]


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: IntArray) -> IntArray:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8."""
    x = np.asarray(a, dtype=np.int64) + (1 << 28)
    x2 = saturating_rounding_doubling_high_mul(x, x)
    x3 = saturating_rounding_doubling_high_mul(x2, x)
    x4 = saturating_rounding_doubling_high_mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(
        saturating_rounding_doubling_high_mul(x4_over_4 + x3, _ONE_THIRD) + x2, -1)
    return _EXP_QUARTER_CONSTANT + saturating_rounding_doubling_high_mul(_EXP_QUARTER_CONSTANT, x + poly)


def exp_on_negative_values(a: IntArray, integer_bits: int) -> IntArray:
    """gemmlowp exp_on_negative_values: a is Q(integer_bits).(31-integer_bits) <= 0, result Q0.31."""
    a = np.asarray(a, dtype=np.int64)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_quarter, integer_bits))
    remainder = a_mod_quarter_minus_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = np.int64(1) << (fractional_bits + exponent)
            result = np.where(remainder & bit, saturating_rounding_doubling_high_mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a: IntArray) -> IntArray:
    """1/(1+a) for a in [0, 1): Newton-Raphson in Q2.29, three iterations, result Q0.31."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = _q29(48.0 / 17.0) + saturating_rounding_doubling_high_mul(half_denominator, _q29(-32.0 / 17.0))
    for _ in range(3):
        half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x)
        one_minus = (1 << 29) - half_denominator_times_x
        x = x + saturating_rounding_multiply_by_pot(saturating_rounding_doubling_high_mul(x, one_minus), 2)
    return saturating_rounding_multiply_by_pot(x, 1)


def _q29(value: float) -> int:
    return _round_half_away(value * (1 << 29))


def count_leading_zeros32(x: IntArray) -> IntArray:
    """Leading zeros of positive int32 values (frexp's exponent is the bit length, exactly)."""
    return 32 - np.frexp(np.asarray(x, dtype=np.float64))[1].astype(np.int64)


def get_reciprocal(x: IntArray, x_integer_bits: int) -> tuple[IntArray, IntArray]:
    """TFLite GetReciprocal: (1/x as Q0.31 of the normalized x, number of bits x is over unit)."""
    x = np.asarray(x, dtype=np.int64)
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_bits - headroom_plus_one
    shifted_minus_one = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), num_bits_over_unit


def preprocess_softmax_scaling(beta: float, input_scale: float, integer_bits: int) -> tuple[int, int]:
    """TFLite PreprocessSoftmaxScaling: (multiplier, left shift) for beta*scale in Q(integer_bits)."""
    real = min(beta * input_scale * (1 << (31 - integer_bits)), (1 << 31) - 1.0)
    return quantize_multiplier(real)


def calculate_input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """TFLite CalculateInputRadius: the largest input difference that does not saturate."""
    max_rescaled = 1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    return int(math.floor(max_rescaled))
