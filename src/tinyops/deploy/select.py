"""Choosing among evaluated strategies: ``auto`` and the caption of ``--compare``, in one place.

A strategy that needs more hardware (external memories; external memories and a DMA engine) is
chosen over a simpler one only when it wins by at least ``min_gain_pct`` on the objective and
loses no more than ``min_gain_pct`` on the other figure (energy when optimising latency, latency
when optimising energy). Among strategies that need the same hardware the best objective wins.

Default margin: 5 %. The cost model's absolute error is larger (13-19 % MAPE, docs/cost_model.md),
but two strategies for the same model share the compute estimate (same ops, same kernels, same
clock): what separates them is the memory model, whose error the published measurements do not
isolate. TinyOpsV2's overlay gains that matter are 10 % (V2 over V1) to 40 %+ (over XIP), so a 5 %
bar keeps every such win and rejects differences that are within the model's noise, such as VWW
on the F746 (overlay-v1 0.13 % faster than internal, 11 % more energy, two external chips).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, Sequence, TypeVar, get_args

from tinyops.errors import TinyOpsError

Objective = Literal["latency", "energy"]
OBJECTIVES: tuple[Objective, ...] = get_args(Objective)
DEFAULT_MIN_GAIN_PCT = 5.0
# What a strategy needs beyond the MCU: 0 nothing, 1 external memories, 2 external memories + DMA.
HARDWARE_RANK: dict[str, int] = {"internal": 0, "external-xip": 1, "overlay-v1": 2, "overlay-v2": 2}
HARDWARE_NEEDS: dict[int, str] = {0: "internal memories only", 1: "external memories",
                                  2: "external memories and a DMA engine"}


class Candidate(Protocol):
    @property
    def strategy(self) -> str: ...
    @property
    def feasible(self) -> bool: ...
    @property
    def latency_ms(self) -> float | None: ...
    @property
    def energy_mj(self) -> float | None: ...


C = TypeVar("C", bound=Candidate)


@dataclass(frozen=True)
class Choice:
    """The chosen candidate (None: nothing feasible) and a one-line account of the choice."""

    index: int | None
    objective: Objective
    min_gain_pct: float
    note: str


def _value(c: Candidate, what: Objective) -> float:
    v = c.latency_ms if what == "latency" else c.energy_mj
    return float("inf") if v is None else float(v)


def _pct(better: float, worse: float) -> float:
    return 100.0 * (worse - better) / worse if worse else 0.0


def choose(candidates: Sequence[C], objective: str = "latency",
           min_gain_pct: float = DEFAULT_MIN_GAIN_PCT) -> Choice:
    """Pick among ``candidates`` (see module doc)."""
    if objective not in OBJECTIVES:
        raise TinyOpsError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if not 0 <= min_gain_pct < 100:
        raise TinyOpsError(f"--min-gain must be in [0, 100) %, got {min_gain_pct:g}")
    obj: Objective = "latency" if objective == "latency" else "energy"
    other: Objective = "energy" if obj == "latency" else "latency"
    feasible = [i for i, c in enumerate(candidates)
                if c.feasible and c.latency_ms is not None and c.energy_mj is not None]
    if not candidates:
        raise TinyOpsError("no strategy applies to this board")
    if not feasible:
        return Choice(None, obj, min_gain_pct, "no strategy is feasible")
    rank = lambda i: HARDWARE_RANK.get(candidates[i].strategy, 3)  # noqa: E731
    order = sorted(feasible, key=lambda i: (rank(i), round(_value(candidates[i], obj), 9), i))
    chosen = order[0]
    rejected: list[str] = []
    for i in order[1:]:
        c, best = candidates[i], candidates[chosen]
        if rank(i) == rank(chosen):
            continue  # same hardware, and sorted: not better
        gain = _pct(_value(c, obj), _value(best, obj))
        loss = -_pct(_value(c, other), _value(best, other))  # > 0: c is worse on the other figure
        if gain >= min_gain_pct and loss <= min_gain_pct:
            chosen = i
        elif gain > 0:
            why = (f"gains only {gain:.2f} % {obj}" if gain < min_gain_pct
                   else f"costs {loss:.1f} % more {other}")
            rejected.append(f"{c.strategy} {why} over {best.strategy}")
    pick = candidates[chosen]
    listing = ", ".join(f"{c.strategy} {_value(c, 'latency'):.2f} ms/{_value(c, 'energy'):.2f} mJ" if i in feasible
                        else f"{c.strategy} infeasible" for i, c in enumerate(candidates))
    note = (f"auto ({obj}, min gain {min_gain_pct:g} %): chose {pick.strategy} "
            f"({HARDWARE_NEEDS.get(rank(chosen), 'other hardware')})"
            + (f"; not worth more hardware: {'; '.join(rejected)}" if rejected else "")
            + f"; candidates: {listing}")
    return Choice(chosen, obj, min_gain_pct, note)


__all__ = ["Choice", "DEFAULT_MIN_GAIN_PCT", "HARDWARE_RANK", "OBJECTIVES", "Objective", "choose"]
