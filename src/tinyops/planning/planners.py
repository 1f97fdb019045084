"""The planners, one per strategy: each turns a graph + board + options into candidate plans.

A planner never simulates: where several plans are valid (external-xip's variants, overlay-v2's
two buffer geometries) it returns them all and the deployment driver (:mod:`tinyops.deploy`)
simulates each once and keeps the best.
"""

from __future__ import annotations

from typing import Callable

from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board
from tinyops.ir.graph import Graph
from tinyops.planning.common import PlanOptions
from tinyops.planning.external import external_xip_candidates, require_external
from tinyops.planning.internal import plan_internal
from tinyops.planning.overlay import overlay_candidates
from tinyops.planning.plan import EXTERNAL_STRATEGIES, STRATEGIES, STRATEGY_CHOICES, Plan, StrategyName

Planner = Callable[[Graph, Board, PlanOptions], list[Plan]]

PLANNERS: dict[StrategyName, Planner] = {
    "internal": lambda graph, board, options: [plan_internal(graph, board, options)],
    "external-xip": external_xip_candidates,
    "overlay-v1": lambda graph, board, options: overlay_candidates(graph, board, "v1", options),
    "overlay-v2": lambda graph, board, options: overlay_candidates(graph, board, "v2", options),
}


def applicable(board: Board) -> list[StrategyName]:
    """The strategies a board can run: the external ones need external memory."""
    return [s for s in STRATEGIES if s not in EXTERNAL_STRATEGIES or board.external_memories]


def candidates(graph: Graph, board: Board, strategy: str, options: PlanOptions | None = None) -> list[Plan]:
    """Every candidate plan of one strategy (at least one)."""
    options = options or PlanOptions()
    if strategy not in PLANNERS:
        raise TinyOpsError(f"unknown strategy {strategy!r}; available: {', '.join(STRATEGY_CHOICES)}")
    if strategy in EXTERNAL_STRATEGIES:
        require_external(board, strategy)
    return PLANNERS[strategy](graph, board, options)  # type: ignore[index]


__all__ = ["PLANNERS", "Planner", "applicable", "candidates"]
