"""Pareto fronts of an explore table, the point of diminishing returns, and the external-memory finding.

Fronts minimise a cost (latency, energy or MACs) and maximise accuracy. A point is on the front
when no other point is at least as cheap and at least as accurate, and strictly better in one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, TypeVar

from tinyops.search.explore import AUTO, Row

T = TypeVar("T")
INTERNAL = "internal"


def pareto_front(items: Iterable[T], cost: Callable[[T], float], value: Callable[[T], float]) -> list[T]:
    """The non-dominated items (low cost, high value), cheapest first."""
    ordered = sorted(items, key=lambda i: (cost(i), -value(i)))
    front: list[T] = []
    best = float("-inf")
    for item in ordered:
        if value(item) > best:
            front.append(item)
            best = value(item)
    return front


def _float(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def deployable(rows: Iterable[Row], metric: str = "latency_ms") -> list[Row]:
    """Feasible rows with a simulated ``metric`` and an accuracy: the points fronts are drawn from."""
    return [r for r in rows if r["feasible"] == "true" and _float(r[metric]) is not None
            and _float(r["accuracy"]) is not None]


def config_of(row: Row) -> tuple[str, str, str]:
    return (row["family"], row["width"], row["resolution"])


@dataclass(frozen=True)
class FrontPoint:
    family: str
    width: str
    resolution: str
    strategy: str
    cost: float
    accuracy: float
    accuracy_source: str
    internal_feasible: bool  # could the internal strategy deploy this configuration on the board?

    def label(self) -> str:
        return f"{self.family}-w{self.width}-r{self.resolution}"


def board_front(rows: Sequence[Row], board: str, metric: str = "latency_ms",
                strategies: Sequence[str] | None = None) -> list[FrontPoint]:
    """The front of ``board`` over the given strategies (default: all but ``auto``, which repeats one)."""
    on_board = [r for r in rows if r["board"] == board]
    internal_ok = {config_of(r) for r in on_board if r["strategy"] == INTERNAL and r["feasible"] == "true"}
    points = [r for r in deployable(on_board, metric)
              if (r["strategy"] in strategies if strategies is not None else r["strategy"] != AUTO)]
    front = pareto_front(points, lambda r: float(r[metric]), lambda r: float(r["accuracy"]))
    return [FrontPoint(r["family"], r["width"], r["resolution"], r["strategy"], float(r[metric]),
                       float(r["accuracy"]), r["accuracy_source"], config_of(r) in internal_ok) for r in front]


@dataclass(frozen=True)
class BoardFinding:
    """Whether external memory moves the board's front beyond what the internal strategy can deploy."""

    board: str
    metric: str
    front: list[FrontPoint]
    internal_front: list[FrontPoint]
    external_only: list[FrontPoint]  # front points whose configuration internal cannot deploy
    best_internal_accuracy: float | None
    best_accuracy: float | None

    def as_dict(self) -> dict[str, object]:
        def point(p: FrontPoint) -> dict[str, object]:
            return {"config": p.label(), "strategy": p.strategy, self.metric: round(p.cost, 3),
                    "accuracy": p.accuracy, "accuracy_source": p.accuracy_source,
                    "internal_feasible": p.internal_feasible}

        return {"board": self.board, "metric": self.metric, "front": [point(p) for p in self.front],
                "internal_front": [point(p) for p in self.internal_front],
                "external_only_on_front": len(self.external_only),
                "best_internal_accuracy": self.best_internal_accuracy, "best_accuracy": self.best_accuracy}


def board_finding(rows: Sequence[Row], board: str, metric: str = "latency_ms") -> BoardFinding:
    front = board_front(rows, board, metric)
    internal = board_front(rows, board, metric, strategies=[INTERNAL])
    return BoardFinding(board, metric, front, internal, [p for p in front if not p.internal_feasible],
                        max((p.accuracy for p in internal), default=None),
                        max((p.accuracy for p in front), default=None))


@dataclass(frozen=True)
class CurvePoint:
    width: float
    resolution: str
    macs: int
    accuracy: float
    accuracy_source: str


def accuracy_curves(rows: Iterable[Row], family: str) -> dict[float, list[CurvePoint]]:
    """Per width, the (MACs, accuracy) points over resolutions (Figure 1's curves), by MACs."""
    seen: dict[tuple[str, str], CurvePoint] = {}
    for r in rows:
        if r["family"] != family or _float(r["accuracy"]) is None:
            continue
        seen.setdefault((r["width"], r["resolution"]), CurvePoint(float(r["width"]), r["resolution"], int(r["macs"]),
                                                                  float(r["accuracy"]), r["accuracy_source"]))
    curves: dict[float, list[CurvePoint]] = {}
    for p in seen.values():
        curves.setdefault(p.width, []).append(p)
    return {w: sorted(ps, key=lambda p: p.macs) for w, ps in sorted(curves.items())}


def diminishing_returns(curves: dict[float, list[CurvePoint]]) -> dict[float, CurvePoint | None]:
    """Per width, the point of diminishing returns (TinyOpsV2 §2, Figure 1).

    Definition used here: the highest-MAC point of the width that is still on the accuracy-vs-MACs
    front of all widths. Beyond it, raising the resolution buys less accuracy than a higher width
    gives for the same or fewer MACs (the paper's prox-w0.30-r176 vs prox-w0.50-r112). None: no point
    of that width is on the front (the width is dominated at every resolution swept).
    """
    everything = [p for ps in curves.values() for p in ps]
    front = {id(p) for p in pareto_front(everything, lambda p: float(p.macs), lambda p: p.accuracy)}
    out: dict[float, CurvePoint | None] = {}
    for width, points in curves.items():
        on = [p for p in points if id(p) in front]
        out[width] = max(on, key=lambda p: p.macs) if on else None
    return out


def mac_shares(rows: Iterable[Row], family: str, resolution: str | None = None) -> dict[float, dict[str, float]]:
    """Per width, the share of MACs in each kernel class (Figure 2's skew) at one resolution."""
    from tinyops.search.explore import MAC_CLASSES

    picked: dict[float, dict[str, float]] = {}
    candidates = [r for r in rows if r["family"] == family]
    if resolution is None and candidates:
        resolutions = sorted({r["resolution"] for r in candidates}, key=lambda s: int(s.split("x")[0]))
        resolution = resolutions[len(resolutions) // 2]
    for r in candidates:
        if r["resolution"] != resolution or float(r["width"]) in picked:
            continue
        total = sum(int(r[f"macs_{c}"]) for c in MAC_CLASSES) or 1
        picked[float(r["width"])] = {c: int(r[f"macs_{c}"]) / total for c in MAC_CLASSES}
    return dict(sorted(picked.items()))


__all__ = ["pareto_front", "deployable", "board_front", "board_finding", "BoardFinding", "FrontPoint",
           "accuracy_curves", "diminishing_returns", "mac_shares", "CurvePoint"]
