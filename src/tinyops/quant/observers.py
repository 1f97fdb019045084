"""Calibration observers: turn the values a tensor took on calibration data into a float range.

Three methods, as in the PTQ literature and the TFLite converter's options:
- ``minmax``: the extreme values seen (no clipping; outliers widen the int8 step for everyone);
- ``percentile``: the 0.01th and 99.99th percentiles (clips rare outliers);
- ``mse``: the clipping range that minimises the mean squared int8 quantization error.

Observers keep the exact min/max plus a bounded, seeded random sample of the values, so memory
stays constant however much calibration data there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

METHODS = ("minmax", "percentile", "mse")
SAMPLE_LIMIT = 1 << 16  # values kept per tensor for percentile/mse (enough for 4-digit percentiles)
PERCENTILE = 99.99
INT8_LEVELS = 256


@dataclass
class RangeObserver:
    """Accumulates the values of one tensor over calibration batches."""

    seed: int = 0
    minimum: float = np.inf
    maximum: float = -np.inf
    seen: int = 0
    samples: list[np.ndarray] = field(default_factory=list)
    _rng: np.random.Generator | None = None

    def observe(self, values: np.ndarray) -> None:
        flat = np.asarray(values, dtype=np.float32).reshape(-1)
        if flat.size == 0:
            return
        self.minimum = min(self.minimum, float(flat.min()))
        self.maximum = max(self.maximum, float(flat.max()))
        self.seen += flat.size
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        # Keep a per-batch share of the budget so early batches do not crowd out later ones.
        keep = min(flat.size, SAMPLE_LIMIT // 8)
        self.samples.append(flat if keep == flat.size else self._rng.choice(flat, keep, replace=False))
        kept = sum(s.size for s in self.samples)
        if kept > 2 * SAMPLE_LIMIT:
            merged = np.concatenate(self.samples)
            self.samples = [self._rng.choice(merged, SAMPLE_LIMIT, replace=False)]

    def value_range(self, method: str) -> tuple[float, float]:
        """The (min, max) float range to quantize to, always containing 0 (so 0.0 is exact)."""
        if self.seen == 0:
            return 0.0, 0.0
        if method == "minmax":
            low, high = self.minimum, self.maximum
        elif method == "percentile":
            values = np.concatenate(self.samples)
            low = float(np.percentile(values, 100.0 - PERCENTILE))
            high = float(np.percentile(values, PERCENTILE))
        elif method == "mse":
            low, high = _mse_range(np.concatenate(self.samples), self.minimum, self.maximum)
        else:
            raise ValueError(f"unknown calibration method {method!r}")
        return min(low, 0.0), max(high, 0.0)


def _quantization_mse(values: np.ndarray, low: float, high: float) -> float:
    scale = max(high - low, 1e-12) / (INT8_LEVELS - 1)
    zero_point = np.round(-low / scale)
    quantized = np.clip(np.round(values / scale) + zero_point, 0, INT8_LEVELS - 1)
    return float(np.mean(((quantized - zero_point) * scale - values) ** 2))


def _mse_range(values: np.ndarray, minimum: float, maximum: float) -> tuple[float, float]:
    """Shrink [min, max] by a common factor in 30%..100% and keep the factor with the least MSE."""
    low, high = min(minimum, 0.0), max(maximum, 0.0)
    best = (np.inf, low, high)
    for factor in np.linspace(0.3, 1.0, 71):
        error = _quantization_mse(values, low * factor, high * factor)
        if error < best[0]:
            best = (error, low * factor, high * factor)
    return best[1], best[2]
