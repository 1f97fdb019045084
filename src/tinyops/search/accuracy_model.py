"""Top-1 accuracy of zoo configurations nobody published: a documented, zoo-wide scaling fit.

The published table (``tinyops.zoo.published_accuracy``) has a handful of points per family.
To place every (family, width, resolution) of a sweep on an accuracy axis, as the TinyOpsV2
paper's Figure 1 does, we fit one model to all ImageNet top-1 rows::

    top1 = c_family + a1 x + a2 x^2 + b1 y + b2 y^2 + g x y,   x = ln(width), y = ln(resolution / 224)

Per-family intercepts carry each architecture's quality; the shared slopes carry how width and
resolution trade off (concave in both, i.e. diminishing returns, with an interaction term because
resolution pays off differently at different widths). With 27 rows over 9 families and 14
coefficients the fit's RMS error is ~0.4 points and its leave-one-out RMS error ~0.9 points
(`AccuracyModel.loo_rms_pp`, reported with every sweep). Caveats, stated in the CSV's
``assumptions``: int8 and float32 figures are mixed (int8 preferred where both exist, as
``published_accuracy`` does; post-training int8 typically costs < 1 point); outside the fitted
widths/resolutions the estimate is an extrapolation and says so.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from tinyops.zoo import accuracy_table
from tinyops.zoo.accuracy import AccuracyRecord

DATASET = "imagenet"
METRIC = "top1"
REFERENCE_RESOLUTION = 224
SLOPES = ("ln_w", "ln_w^2", "ln_r", "ln_r^2", "ln_w*ln_r")
PUBLISHED = "published"
ESTIMATED = "estimated"


def _features(width: float, resolution: tuple[int, int]) -> list[float]:
    x = math.log(width)
    y = math.log(math.sqrt(resolution[0] * resolution[1]) / REFERENCE_RESOLUTION)
    return [x, x * x, y, y * y, x * y]


def _dedupe(records: Iterable[AccuracyRecord]) -> list[AccuracyRecord]:
    """One row per configuration: a user's row first, then int8 over float (as published_accuracy)."""
    chosen: dict[tuple[str, float, tuple[int, int]], AccuracyRecord] = {}
    for r in records:
        key = (r.family, round(r.width, 6), r.resolution)
        old = chosen.get(key)
        if old is None or (old.origin == r.origin and old.precision != "int8" and r.precision == "int8"):
            chosen[key] = r
    return list(chosen.values())


@dataclass(frozen=True)
class Estimate:
    value: float
    source: str  # published | estimated
    note: str  # the citation, or how the estimate was made


@dataclass
class AccuracyModel:
    intercepts: dict[str, float]
    slopes: dict[str, float]
    rows: list[AccuracyRecord]
    rms_pp: float
    loo_rms_pp: float
    width_range: tuple[float, float]
    resolution_range: tuple[int, int]
    extra_csv: tuple[str, ...] = ()
    _published: dict[tuple[str, float, tuple[int, int]], AccuracyRecord] = field(default_factory=dict, repr=False)

    @property
    def families(self) -> list[str]:
        return sorted(self.intercepts)

    def predict(self, family: str, width: float, resolution: tuple[int, int]) -> float | None:
        if family not in self.intercepts:
            return None
        value = self.intercepts[family] + sum(c * f for c, f in zip(self.slopes.values(), _features(width, resolution)))
        return min(max(value, 0.1), 100.0)  # a probability in percent, whatever the extrapolation does

    def estimate(self, family: str, width: float, resolution: tuple[int, int]) -> Estimate | None:
        """The published figure when there is one, else the fit (None: no ImageNet row for the family)."""
        record = self._published.get((family, round(width, 6), resolution))
        if record is not None:
            return Estimate(record.value, PUBLISHED, f"{record.source} ({record.precision})")
        value = self.predict(family, width, resolution)
        if value is None:
            return None
        side = math.sqrt(resolution[0] * resolution[1])
        inside = (self.width_range[0] <= width <= self.width_range[1]
                  and self.resolution_range[0] <= side <= self.resolution_range[1])
        note = (f"zoo-wide fit of {len(self.rows)} published ImageNet top-1 rows vs ln width, ln resolution "
                f"(leave-one-out RMS {self.loo_rms_pp:.1f} pp)")
        if not inside:
            note += (f"; EXTRAPOLATED outside the fitted widths {self.width_range[0]:g}-{self.width_range[1]:g} "
                     f"and resolutions {self.resolution_range[0]}-{self.resolution_range[1]}")
        return Estimate(round(value, 2), ESTIMATED, note)

    def describe(self) -> dict[str, object]:
        return {"formula": "top1 = c_family + a1 ln w + a2 (ln w)^2 + b1 ln(r/224) + b2 ln(r/224)^2 + g ln w ln(r/224)",
                "rows": len(self.rows), "families": self.families, "rms_pp": round(self.rms_pp, 3),
                "loo_rms_pp": round(self.loo_rms_pp, 3),
                "slopes": {k: round(v, 4) for k, v in self.slopes.items()},
                "intercepts": {k: round(v, 3) for k, v in self.intercepts.items()},
                "width_range": list(self.width_range), "resolution_range": list(self.resolution_range),
                "extra_csv": list(self.extra_csv)}


def _solve(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    return coefficients


def fit_accuracy_model(extra_csv: Iterable[str | os.PathLike[str]] = ()) -> AccuracyModel:
    """Fit the model to the bundled ImageNet top-1 rows (plus the user's CSV rows, which win)."""
    extra = tuple(str(p) for p in extra_csv)
    rows = _dedupe(r for r in accuracy_table(extra) if r.dataset == DATASET and r.metric == METRIC)
    families = sorted({r.family for r in rows})
    design = np.array([[1.0 if r.family == f else 0.0 for f in families] + _features(r.width, r.resolution)
                       for r in rows])
    target = np.array([r.value for r in rows])
    coefficients = _solve(design, target)
    residuals = design @ coefficients - target
    # Leave-one-out error over rows whose family keeps at least one other row (else its
    # intercept is undetermined and the row says nothing about the shared slopes).
    loo = []
    for i in range(len(rows)):
        keep = np.arange(len(rows)) != i
        if design[keep, : len(families)].sum(axis=0).min() == 0:
            continue
        loo.append(float(design[i] @ _solve(design[keep], target[keep]) - target[i]))
    sides = [math.sqrt(r.resolution[0] * r.resolution[1]) for r in rows]
    model = AccuracyModel(
        intercepts={f: float(c) for f, c in zip(families, coefficients[: len(families)])},
        slopes={name: float(c) for name, c in zip(SLOPES, coefficients[len(families):])},
        rows=rows, rms_pp=float(np.sqrt(np.mean(residuals ** 2))),
        loo_rms_pp=float(np.sqrt(np.mean(np.square(loo)))) if loo else float("nan"),
        width_range=(min(r.width for r in rows), max(r.width for r in rows)),
        resolution_range=(int(min(sides)), int(max(sides))), extra_csv=extra)
    model._published = {(r.family, round(r.width, 6), r.resolution): r for r in rows}
    return model


def published_other(family: str, width: float, resolution: tuple[int, int],
                    extra_csv: Iterable[str | os.PathLike[str]] = ()) -> Estimate | None:
    """Non-ImageNet families (keyword spotting...): only a published figure, never an estimate."""
    from tinyops.zoo import published_accuracy

    record = published_accuracy(family, width, resolution, extra_csv=extra_csv)
    if record is None:
        return None
    return Estimate(record.value, PUBLISHED, f"{record.source} ({record.dataset} {record.metric}, {record.precision})")


__all__ = ["AccuracyModel", "Estimate", "fit_accuracy_model", "published_other", "PUBLISHED", "ESTIMATED"]
