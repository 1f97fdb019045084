"""The deployment driver, one readable sequence: plan placement, simulate each candidate once,
select, verify.

    load -> analyze -> plan memory -> plan placement (planners) -> simulate -> select -> verify

Loading and analysis are the caller's (``tinyops.frontends``, ``tinyops.analysis``); memory
planning happens inside the planners (each asks for the arena of the runtime it plans for). Every
candidate plan is simulated exactly once here and its result kept: nothing else simulates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyops.deploy.select import DEFAULT_MIN_GAIN_PCT, Choice, choose
from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board
from tinyops.ir.graph import Graph
from tinyops.planning.common import PlanOptions
from tinyops.planning.plan import AUTO, Plan
from tinyops.planning.planners import applicable, candidates
from tinyops.planning.verify import check
from tinyops.sim.simulator import SimResult, simulate


@dataclass
class Evaluated:
    """One strategy's plan with its simulation (the best of its candidates)."""

    plan: Plan
    sim: SimResult
    candidates: int = 1  # plans the strategy offered

    @property
    def strategy(self) -> str:
        return self.plan.strategy

    @property
    def feasible(self) -> bool:
        return self.plan.feasible

    @property
    def latency_ms(self) -> float:
        return self.sim.latency_ms

    @property
    def energy_mj(self) -> float:
        return self.sim.energy.total_mj


@dataclass
class Deployment:
    """What ``plan`` answers: the plan, its simulation and, for ``auto``, how it was chosen."""

    plan: Plan
    sim: SimResult
    evaluated: list[Evaluated] = field(default_factory=list)
    choice: Choice | None = None


def evaluate(graph: Graph, board: Board, strategy: str, options: PlanOptions | None = None) -> Evaluated:
    """Plan one strategy, simulate each of its candidates once, keep the fastest feasible one."""
    plans = candidates(graph, board, strategy, options)
    sims = [simulate(p) for p in plans]
    best = min(range(len(plans)), key=lambda i: (not plans[i].feasible, sims[i].latency_ms, i))
    return Evaluated(plans[best], sims[best], len(plans))


def evaluate_all(graph: Graph, board: Board, options: PlanOptions | None = None,
                 strategies: list[str] | None = None) -> list[Evaluated]:
    """Every applicable strategy (or ``strategies``), planned and simulated."""
    return [evaluate(graph, board, name, options) for name in strategies or applicable(board)]


def verified(plan: Plan) -> Plan:
    """A feasible plan proven free of overlaps and races (an infeasible one is reported, not verified:
    its buffers may not fit by construction, and the user gets the reason, not the verifier's lines)."""
    return check(plan) if plan.feasible else plan


def select(evaluated: list[Evaluated], objective: str = "latency",
           min_gain_pct: float = DEFAULT_MIN_GAIN_PCT) -> tuple[Evaluated, Choice]:
    """``auto``'s pick; with nothing feasible, the first plan with every strategy's reason."""
    choice = choose(evaluated, objective, min_gain_pct)
    if choice.index is None:
        first = evaluated[0]
        reasons = "; ".join(f"{e.plan.strategy}: {e.plan.reason}" for e in evaluated)
        plan = first.plan
        plan.feasible, plan.reason = False, f"no strategy is feasible ({reasons})"
        return first, choice
    best = evaluated[choice.index]
    best.plan.assumptions["auto"] = choice.note
    return best, choice


def deploy(graph: Graph, board: Board, strategy: str = "internal", options: PlanOptions | None = None,
           objective: str = "latency", min_gain_pct: float = DEFAULT_MIN_GAIN_PCT) -> Deployment:
    """Plan ``strategy`` (or choose one: ``auto``), simulate, verify."""
    options = options or PlanOptions()
    if strategy == AUTO:
        evaluated = evaluate_all(graph, board, options)
        if not evaluated:
            raise TinyOpsError(f"no strategy applies to board {board.id}")
        best, choice = select(evaluated, objective, min_gain_pct)
        return Deployment(verified(best.plan), best.sim, evaluated, choice)
    one = evaluate(graph, board, strategy, options)
    return Deployment(verified(one.plan), one.sim, [one])


def compare(graph: Graph, board: Board, options: PlanOptions | None = None, objective: str = "latency",
            min_gain_pct: float = DEFAULT_MIN_GAIN_PCT) -> tuple[list[Evaluated], Choice]:
    """``--compare``: every applicable strategy, verified and simulated, and ``auto``'s pick."""
    evaluated = evaluate_all(graph, board, options)
    for e in evaluated:
        verified(e.plan)
    return evaluated, choose(evaluated, objective, min_gain_pct)


__all__ = ["Deployment", "Evaluated", "compare", "deploy", "evaluate", "evaluate_all", "select", "verified"]
