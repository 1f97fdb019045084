"""Task metrics: accuracy and confusion matrix (KWS, VWW); ROC AUC and pAUC per machine ID (AD).

AUC is the Mann-Whitney statistic (ties count one half). pAUC is the area under the ROC curve up to
a false-positive rate of ``max_fpr`` (0.1 in DCASE 2020 Task 2), linearly interpolated at the
limit and McClish-standardised to [0.5, 1] as scikit-learn's ``roc_auc_score(max_fpr=...)`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyops.errors import TinyOpsError


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    return float(np.mean(labels == predictions)) if labels.size else 0.0


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) counts: row = true label, column = predicted label."""
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
    return matrix


def roc_curve(anomalous: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) from (0, 0) to (1, 1), one point per distinct score."""
    truth = np.asarray(anomalous, bool)
    order = np.argsort(-np.asarray(scores, np.float64), kind="mergesort")
    sorted_scores, sorted_truth = np.asarray(scores, np.float64)[order], truth[order]
    last_of_run = np.r_[np.nonzero(np.diff(sorted_scores))[0], sorted_truth.size - 1]
    true_positives = np.cumsum(sorted_truth)[last_of_run]
    false_positives = (last_of_run + 1) - true_positives
    positives, negatives = truth.sum(), (~truth).sum()
    if positives == 0 or negatives == 0:
        raise TinyOpsError("ROC AUC needs both normal and anomalous samples")
    fpr = np.r_[0.0, false_positives / negatives]
    tpr = np.r_[0.0, true_positives / positives]
    return fpr, tpr


def roc_auc(anomalous: np.ndarray, scores: np.ndarray, max_fpr: float | None = None) -> float:
    """Area under the ROC curve; with ``max_fpr`` the McClish-standardised partial AUC."""
    fpr, tpr = roc_curve(anomalous, scores)
    if max_fpr is None or max_fpr >= 1.0:
        return float(np.trapezoid(tpr, fpr))
    stop = int(np.searchsorted(fpr, max_fpr, side="right"))
    x, y = fpr[:stop], tpr[:stop]
    if x[-1] < max_fpr:  # interpolate the curve at the limit
        tpr_at_limit = np.interp(max_fpr, fpr[stop - 1:stop + 1], tpr[stop - 1:stop + 1])
        x, y = np.r_[x, max_fpr], np.r_[y, tpr_at_limit]
    partial = float(np.trapezoid(y, x))
    chance, best = 0.5 * max_fpr ** 2, max_fpr
    return 0.5 * (1.0 + (partial - chance) / (best - chance))


@dataclass(frozen=True)
class MachineScore:
    machine_id: str
    auc: float
    pauc: float
    normal_files: int
    anomalous_files: int


def scores_per_machine(machine_ids: list[str], anomalous: np.ndarray, scores: np.ndarray,
                       max_fpr: float = 0.1) -> list[MachineScore]:
    """AUC and pAUC of each machine ID's files (the DCASE 2020 Task 2 protocol), sorted by ID."""
    ids = np.asarray(machine_ids)
    truth, values = np.asarray(anomalous, bool), np.asarray(scores, np.float64)
    result = []
    for machine in sorted(set(machine_ids)):
        mask = ids == machine
        result.append(MachineScore(machine, roc_auc(truth[mask], values[mask]),
                                   roc_auc(truth[mask], values[mask], max_fpr),
                                   int((~truth[mask]).sum()), int(truth[mask].sum())))
    return result
