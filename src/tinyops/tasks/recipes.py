"""Training recipes of MLPerf Tiny and MicroNets, as presets (see docs/tasks.md for sources).

Epoch counts are the published ones; ``tinyops train --epochs`` overrides them (the schedules are
defined on the fraction of training done, so a shorter run keeps the shape of the schedule).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from tinyops.errors import TinyOpsError

Optimizer = Literal["adam", "sgd"]
Schedule = Literal["steps", "cosine", "constant"]


@dataclass(frozen=True)
class Recipe:
    name: str
    task: Literal["kws", "vww", "ad"]
    epochs: int
    batch_size: int
    optimizer: Optimizer
    learning_rate: float
    schedule: Schedule
    # steps: (fraction of training, learning rate) from which each rate applies; cosine: the floor.
    steps: tuple[tuple[float, float], ...] = ()
    final_learning_rate: float = 0.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    mixup: float = 0.0  # Beta(a, a) mixing coefficient; 0 = off
    specaugment: bool = False  # time and frequency masks on the features (KWS)
    qat_fraction: float = 0.3  # with --qat: the last share of the epochs trains with fake quantization
    distillation_weight: float = 0.5  # with a teacher: weight of the soft-target loss
    distillation_temperature: float = 4.0
    feature_preset: str = "mlperf-kws"
    ad_form: Literal["autoencoder", "machine-id"] = "autoencoder"

    def learning_rate_at(self, progress: float) -> float:
        """The rate after ``progress`` (0..1) of the training."""
        if self.schedule == "cosine":
            import math

            return self.final_learning_rate + 0.5 * (self.learning_rate - self.final_learning_rate) * (
                1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
        rate = self.learning_rate
        for start, value in self.steps:
            if progress >= start:
                rate = value
        return rate


RECIPES: dict[str, Recipe] = {r.name: r for r in (
    # mlcommons/tiny benchmark/training/keyword_spotting: Adam, 36 epochs, batch 100, 5e-4 / 1e-4 / 2e-5.
    Recipe("mlperf-kws", "kws", 36, 100, "adam", 5e-4, "steps", ((0.0, 5e-4), (12 / 36, 1e-4), (24 / 36, 2e-5))),
    # MicroNets v6 (KWS): 100 epochs, batch 512, LR 0.01 -> 1e-5 cosine, weight decay 1e-3, SpecAugment.
    Recipe("micronets-kws", "kws", 100, 512, "adam", 1e-2, "cosine", final_learning_rate=1e-5, weight_decay=1e-3,
           specaugment=True, feature_preset="micronets-kws"),
    # mlcommons/tiny visual_wake_words: Adam 20 epochs at 1e-3, 10 at 5e-4, 20 at 2.5e-4; batch 32.
    Recipe("mlperf-vww", "vww", 50, 32, "adam", 1e-3, "steps", ((0.0, 1e-3), (0.4, 5e-4), (0.6, 2.5e-4)),
           feature_preset="none"),
    # MicroNets v6 (VWW): 200 epochs, batch 768, SGD-style cosine 0.36 -> 0.0008, label smoothing.
    Recipe("micronets-vww", "vww", 200, 768, "sgd", 0.36, "cosine", final_learning_rate=8e-4, weight_decay=4e-5,
           label_smoothing=0.1, feature_preset="none"),
    # mlcommons/tiny anomaly_detection: Adam, MSE, 100 epochs, batch 512, 1e-3.
    Recipe("mlperf-ad", "ad", 100, 512, "adam", 1e-3, "constant", feature_preset="mlperf-ad"),
    # MicroNets v6 (AD): as KWS with 50 epochs and mixup 0.3; machine-ID classifier on 32x32 log-mels.
    Recipe("micronets-ad", "ad", 50, 512, "adam", 1e-2, "cosine", final_learning_rate=1e-5, weight_decay=1e-3,
           mixup=0.3, feature_preset="micronets-ad", ad_form="machine-id"),
)}

DEFAULT_RECIPE = {"kws": "mlperf-kws", "vww": "mlperf-vww", "ad": "mlperf-ad"}


def get_recipe(name: str, task: str | None = None) -> Recipe:
    recipe = RECIPES.get(name)
    if recipe is None:
        raise TinyOpsError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    if task is not None and recipe.task != task:
        raise TinyOpsError(f"recipe {name} is for the {recipe.task} task, not {task}")
    return recipe


def with_overrides(recipe: Recipe, epochs: int | None = None, batch_size: int | None = None,
                   learning_rate: float | None = None) -> Recipe:
    if epochs is not None and epochs < 1:
        raise TinyOpsError(f"--epochs must be at least 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise TinyOpsError(f"--batch-size must be at least 1, got {batch_size}")
    if learning_rate is not None and not learning_rate > 0:
        raise TinyOpsError(f"--learning-rate must be positive, got {learning_rate}")
    changes: dict[str, object] = {}
    if epochs is not None:
        changes["epochs"] = epochs
    if batch_size is not None:
        changes["batch_size"] = batch_size
    if learning_rate is not None:
        scale = learning_rate / recipe.learning_rate
        changes["learning_rate"] = learning_rate
        changes["steps"] = tuple((start, rate * scale) for start, rate in recipe.steps)
    return replace(recipe, **changes)  # type: ignore[arg-type]
