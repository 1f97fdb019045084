"""The vectorized fixed-point helpers against straightforward scalar models of the C semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinyops.runtime import multiply_by_quantized_multiplier, quantize_multiplier
from tinyops.runtime.fixedpoint import (
    exp_on_negative_values,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    truncating_divide,
)

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def scalar_srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def scalar_rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def scalar_mbqm(x: int, multiplier: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return scalar_rdbpot(scalar_srdhm(x * (1 << left), multiplier), right)


def test_quantize_multiplier_matches_frexp_definition() -> None:
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    # A mantissa that rounds up to 1.0 is renormalized.
    assert quantize_multiplier(1.0 - 2.0 ** -40) == (1 << 30, 1)
    assert quantize_multiplier(1e-12)[0] == 0  # below 2**-31: flushed
    for real in np.random.default_rng(0).uniform(1e-6, 4.0, 200):
        multiplier, shift = quantize_multiplier(float(real))
        assert (1 << 30) <= multiplier < (1 << 31)
        assert math.isclose(multiplier * 2.0 ** (shift - 31), real, rel_tol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_requantization_matches_scalar_c_semantics(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs = np.concatenate([rng.integers(INT32_MIN // 4, INT32_MAX // 4, 300), rng.integers(-3000, 3000, 300),
                         [0, 1, -1, INT32_MIN // 4]])
    for real in rng.uniform(1e-5, 1.9, 6):
        multiplier, shift = quantize_multiplier(float(real))
        ours = multiply_by_quantized_multiplier(xs, multiplier, shift)
        assert [int(v) for v in ours] == [scalar_mbqm(int(x), multiplier, shift) for x in xs]
    a = rng.integers(INT32_MIN, INT32_MAX, 500)
    b = rng.integers(INT32_MIN, INT32_MAX, 500)
    assert [int(v) for v in saturating_rounding_doubling_high_mul(a, b)] == [
        scalar_srdhm(int(x), int(y)) for x, y in zip(a, b)]
    assert int(saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN)) == INT32_MAX
    for exponent in (0, 1, 5, 31):
        assert [int(v) for v in rounding_divide_by_pot(a, exponent)] == [scalar_rdbpot(int(x), exponent) for x in a]
    assert [int(v) for v in truncating_divide(np.array([-7, 7, -8]), 2)] == [-3, 3, -4]


def test_exp_on_negative_values_is_close_to_exp() -> None:
    # Q5.26 inputs in [-16, 0]; the Q0.31 result of the 4th-order polynomial is within ~2e-7 of exp.
    values = np.linspace(-16, 0, 2001)
    raw = np.round(values * (1 << 26)).astype(np.int64)
    result = exp_on_negative_values(raw, 5) / 2.0 ** 31
    assert np.max(np.abs(result - np.exp(raw / 2.0 ** 26))) < 1e-6
