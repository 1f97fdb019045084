"""The strategies `tinyops plan --strategy` knows, and ``auto``, which lets the cost model choose.

``auto`` plans every strategy the board allows, simulates each and keeps the feasible plan with
the lowest latency (``objective="energy"``: the lowest energy). Nothing here knows about boards:
on a board whose D-cache already hides external latency the overlay strategies simply do not
simulate faster than external-xip, so ``auto`` does not pick them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board
from tinyops.ir.graph import Graph
from tinyops.planning.external import plan_external_xip
from tinyops.planning.overlay import plan_overlay
from tinyops.planning.plan import Plan, plan_internal
from tinyops.sim.simulator import SimResult, simulate

OBJECTIVES = ("latency", "energy")
Builder = Callable[..., Plan]


def _internal(graph: Graph, board: Board, kernels: str, clock_mhz: float | None,
              sram_limit_bytes: int | None) -> Plan:
    return plan_internal(graph, board, kernels, clock_mhz)


def _xip(graph: Graph, board: Board, kernels: str, clock_mhz: float | None, sram_limit_bytes: int | None) -> Plan:
    return plan_external_xip(graph, board, kernels, clock_mhz, sram_limit_bytes)


def _v1(graph: Graph, board: Board, kernels: str, clock_mhz: float | None, sram_limit_bytes: int | None) -> Plan:
    return plan_overlay(graph, board, "v1", kernels, clock_mhz, sram_limit_bytes)


def _v2(graph: Graph, board: Board, kernels: str, clock_mhz: float | None, sram_limit_bytes: int | None) -> Plan:
    return plan_overlay(graph, board, "v2", kernels, clock_mhz, sram_limit_bytes)


BUILDERS: dict[str, Builder] = {
    "internal": _internal,
    "external-xip": _xip,
    "overlay-v1": _v1,
    "overlay-v2": _v2,
}
EXTERNAL = ("external-xip", "overlay-v1", "overlay-v2")
STRATEGY_NAMES: tuple[str, ...] = (*BUILDERS, "auto")


@dataclass
class Evaluated:
    plan: Plan
    sim: SimResult

    @property
    def latency_ms(self) -> float:
        return self.sim.latency_ms

    @property
    def energy_mj(self) -> float:
        return self.sim.energy.total_mj


def applicable(board: Board) -> list[str]:
    """The strategies a board can run: the external ones need external memory."""
    return [s for s in BUILDERS if s not in EXTERNAL or board.external_memories]


def build(graph: Graph, board: Board, strategy: str, kernels: str = "cmsis-nn", clock_mhz: float | None = None,
          sram_limit_bytes: int | None = None) -> Plan:
    if strategy == "auto":
        return choose(evaluate_all(graph, board, kernels, clock_mhz, sram_limit_bytes)).plan
    builder = BUILDERS.get(strategy)
    if builder is None:
        raise TinyOpsError(f"unknown strategy {strategy!r}; available: {', '.join(STRATEGY_NAMES)}")
    return builder(graph, board, kernels, clock_mhz, sram_limit_bytes)


def evaluate_all(graph: Graph, board: Board, kernels: str = "cmsis-nn", clock_mhz: float | None = None,
                 sram_limit_bytes: int | None = None, strategies: list[str] | None = None) -> list[Evaluated]:
    """Every applicable strategy, planned and simulated (verification is the caller's choice)."""
    out = []
    for name in strategies or applicable(board):
        plan = BUILDERS[name](graph, board, kernels, clock_mhz, sram_limit_bytes)
        out.append(Evaluated(plan, simulate(plan)))
    return out


def choose(evaluated: list[Evaluated], objective: str = "latency") -> Evaluated:
    """The feasible plan with the best objective (ties: the simpler strategy, listed first)."""
    if objective not in OBJECTIVES:
        raise TinyOpsError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if not evaluated:
        raise TinyOpsError("no strategy applies to this board")
    feasible = [e for e in evaluated if e.plan.feasible]
    if not feasible:
        # Nothing fits: report the first plan with every strategy's reason.
        first = evaluated[0]
        reasons = "; ".join(f"{e.plan.strategy}: {e.plan.reason}" for e in evaluated)
        return Evaluated(replace(first.plan, reason=f"no strategy is feasible ({reasons})"), first.sim)
    key = (lambda e: e.latency_ms) if objective == "latency" else (lambda e: e.energy_mj)
    best = min(feasible, key=lambda e: (round(key(e), 9), evaluated.index(e)))
    best.plan.assumptions["auto"] = (f"auto ({objective}): chose {best.plan.strategy} among "
                                     + ", ".join(f"{e.plan.strategy} {'%.1f ms' % e.latency_ms}"
                                                 f"/{'%.1f mJ' % e.energy_mj}{'' if e.plan.feasible else ' (infeasible)'}"
                                                 for e in evaluated))
    return best


__all__ = ["BUILDERS", "STRATEGY_NAMES", "OBJECTIVES", "EXTERNAL", "Evaluated", "applicable", "build",
           "evaluate_all", "choose"]
