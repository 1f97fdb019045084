"""The memory plan other stages consume, and `plan_memory`, which makes it.

Two planners:
- ``tflm``: TFLM's GreedyMemoryPlanner on the stored order, no in-place, TFLM's scratch requests:
  its arena is the "Arena allocation head" the TFLM interpreter reports.
- ``best``: for the stored order and (with ``reorder``) the order of lowest peak, with in-place
  choices (``inplace``), tries every placement strategy and keeps the smallest arena. TFLM's own
  plan is one of the candidates, so ``best`` is never above TFLM.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Sequence, get_args

from tinyops.ir.graph import Graph, Subgraph
from tinyops.kernels import KERNEL_LIBRARIES
from tinyops.memory.inplace import ALL_KINDS, Alias, choose_aliases
from tinyops.memory.lifetimes import (ALIGNMENT_BYTES, Buffer, align_up, build_buffers, check_order,
                                      check_plannable, time_to_step)
from tinyops.memory.placement import build_regions, lower_bound, place
from tinyops.memory.reorder import best_order
from tinyops.memory.tflm_planner import ONLINE, greedy_offsets

Planner = Literal["tflm", "best"]
PLANNERS: tuple[Planner, ...] = get_args(Planner)
OFFLINE_METADATA_NAME = "OfflineMemoryAllocation"


@dataclass(frozen=True)
class PlannedBuffer:
    """Where one buffer lives and when. Times are allocation scopes (op at step k runs at k + 1)."""

    name: str
    kind: str  # "tensor" | "scratch"
    size_bytes: int
    aligned_bytes: int
    offset: int
    first_time: int
    last_time: int
    first_op: int  # step in the plan's order (graph inputs: 0)
    last_op: int
    tensor_index: int | None = None
    op_index: int | None = None  # scratch: requesting op (index in the stored op list)
    inplace_of: str | None = None  # name of the tensor whose bytes this one reuses
    inplace_kind: str | None = None  # view | elementwise | depthwise | pointwise | pad


@dataclass
class MemoryPlan:
    planner: str
    kernels: str
    order: list[int]  # op indices (stored order) in execution order
    buffers: list[PlannedBuffer]  # tensors by index, then scratch in request order
    aliases: list[Alias]
    arena_bytes: int
    lower_bound_bytes: int
    tflm_arena_bytes: int
    strategy: str = "tflm-greedy"
    proven_optimal: bool = False
    reorder_exact: bool = True
    planning_time_ms: float = 0.0
    alignment_bytes: int = ALIGNMENT_BYTES
    candidates: dict[str, int] = field(default_factory=dict)  # arena per (order, in-place) variant tried

    @property
    def tensors(self) -> list[PlannedBuffer]:
        return [b for b in self.buffers if b.kind == "tensor"]

    @property
    def scratch(self) -> list[PlannedBuffer]:
        return [b for b in self.buffers if b.kind == "scratch"]

    @property
    def reordered(self) -> bool:
        return self.order != sorted(self.order)

    @property
    def gap_bytes(self) -> int:
        return self.arena_bytes - self.lower_bound_bytes

    def offset_of(self, tensor_index: int) -> int | None:
        for buffer in self.buffers:
            if buffer.tensor_index == tensor_index:
                return buffer.offset
        return None

    def live_bytes_per_step(self) -> list[int]:
        """Bytes occupied while each op step runs (an alias group counts its span once)."""
        steps = len(self.order)
        per_time = [0] * (steps + 1)  # time 0: graph inputs before the first op
        buffers = [Buffer(key, b.name, b.kind, b.size_bytes, b.first_time, b.last_time, b.tensor_index, b.op_index)
                   for key, b in enumerate(self.buffers)]
        for region in build_regions(buffers, self.aliases):
            for box in region.boxes:
                for moment in range(max(box.first_time, 0), min(box.last_time, steps) + 1):
                    per_time[moment] += box.hi - box.lo
        curve = per_time[1:] or [0]
        curve[0] = max(curve[0], per_time[0])
        return curve

    def to_json(self) -> dict[str, Any]:
        return {
            "planner": self.planner,
            "kernels": self.kernels,
            "arena_bytes": self.arena_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "gap_bytes": self.gap_bytes,
            "tflm_arena_bytes": self.tflm_arena_bytes,
            "reduction_vs_tflm": round(1 - self.arena_bytes / self.tflm_arena_bytes, 4) if self.tflm_arena_bytes else 0.0,
            "strategy": self.strategy,
            "proven_optimal": self.proven_optimal,
            "reordered": self.reordered,
            "reorder_exact": self.reorder_exact,
            "planning_time_ms": round(self.planning_time_ms, 2),
            "alignment_bytes": self.alignment_bytes,
            "order": list(self.order),
            "tensors": [{"name": b.name, "index": b.tensor_index, "size_bytes": b.size_bytes,
                         "offset": b.offset, "first_op": b.first_op, "last_op": b.last_op,
                         "inplace_of": b.inplace_of, "inplace_kind": b.inplace_kind} for b in self.tensors],
            "scratch": [{"name": b.name, "op": b.op_index, "size_bytes": b.size_bytes, "offset": b.offset,
                         "step": b.first_op} for b in self.scratch],
            "aliases": [{"tensor": a.tensor_index, "source": a.source_index, "op": a.op_index, "kind": a.kind,
                         "relative_offset_bytes": a.relative_offset_bytes, "extra_bytes": a.extra_bytes,
                         "backward": a.backward,
                         "tflm_follows": a.tflm_follows} for a in self.aliases],
            "live_bytes": self.live_bytes_per_step(),
            "candidates": dict(self.candidates),
        }


def _subgraph_of(graph_or_subgraph: Graph | Subgraph) -> tuple[Subgraph, Graph | None]:
    subgraph = check_plannable(graph_or_subgraph)
    return subgraph, graph_or_subgraph if isinstance(graph_or_subgraph, Graph) else None


def existing_offline_offsets(graph: Graph | None, subgraph: Subgraph) -> list[int] | None:
    """Offsets from an OfflineMemoryAllocation metadata entry already in the model, per tensor."""
    if graph is None or OFFLINE_METADATA_NAME not in graph.metadata:
        return None
    import numpy as np

    words = np.frombuffer(graph.metadata[OFFLINE_METADATA_NAME], dtype="<i4")
    if words.size < 3 or int(words[2]) != len(subgraph.tensors) or words.size < 3 + len(subgraph.tensors):
        return None
    return [int(v) for v in words[3:3 + len(subgraph.tensors)]]


def _tflm_plan(subgraph: Subgraph, order: list[int], kernels: str,
               offline_by_tensor: list[int] | None = None) -> tuple[list[Buffer], list[int], int]:
    buffers = build_buffers(subgraph, order, kernels)
    offline = None
    if offline_by_tensor is not None:
        offline = [offline_by_tensor[b.tensor_index] if b.tensor_index is not None else ONLINE for b in buffers]
    result = greedy_offsets([b.aligned_bytes for b in buffers], [b.first_time for b in buffers],
                            [b.last_time for b in buffers], offline)
    return buffers, result.offsets, result.arena_bytes


def tflm_arena_bytes(graph_or_subgraph: Graph | Subgraph, kernels: str = "tflm-reference") -> int:
    """Our reproduction of TFLM's arena head for the model as stored."""
    subgraph, graph = _subgraph_of(graph_or_subgraph)
    offline = existing_offline_offsets(graph, subgraph)
    return _tflm_plan(subgraph, list(range(len(subgraph.ops))), kernels, offline)[2]


def _inplace_buffers(buffers: list[Buffer], aliases: Sequence[Alias], order: Sequence[int]) -> list[Buffer]:
    """Replace the normal scratch of in-place depthwise / pointwise ops with their copy buffer."""
    inplace_ops = {a.op_index: a for a in aliases if a.extra_bytes > 0}
    if not inplace_ops:
        return buffers
    step_of = {op: step for step, op in enumerate(order)}
    kept = [b for b in buffers if not (b.kind == "scratch" and b.op_index in inplace_ops)]
    # The in-place kernel keeps its copy in its own scratch: the buffer is the larger of the two
    # (tinyops' depthwise kernel pads the channel plane and adds a row of accumulators).
    own: dict[int, int] = {}
    for b in buffers:
        if b.kind == "scratch" and b.op_index in inplace_ops:
            own[b.op_index] = own.get(b.op_index, 0) + b.size_bytes
    for op_index, alias in inplace_ops.items():
        moment = step_of[op_index] + 1
        size = max(alias.extra_bytes, own.get(op_index, 0))
        kept.append(Buffer(0, f"{alias.kind}_copy@op{op_index}", "scratch", size, moment, moment,
                           op_index=op_index))
    return [Buffer(key, b.name, b.kind, b.size_bytes, b.first_time, b.last_time, b.tensor_index, b.op_index)
            for key, b in enumerate(kept)]


def _assemble(planner: str, kernels: str, subgraph: Subgraph, order: list[int], buffers: list[Buffer],
              offsets: list[int], aliases: Sequence[Alias], arena: int, bound: int, tflm_arena: int) -> MemoryPlan:
    names = {i: (t.name or f"tensor_{i}") for i, t in enumerate(subgraph.tensors)}
    alias_of = {a.tensor_index: a for a in aliases}
    steps = len(order)
    planned = []
    for buffer, offset in zip(buffers, offsets):
        alias = alias_of.get(buffer.tensor_index) if buffer.tensor_index is not None else None
        planned.append(PlannedBuffer(
            buffer.name, buffer.kind, buffer.size_bytes, buffer.aligned_bytes, offset, buffer.first_time,
            buffer.last_time, time_to_step(buffer.first_time, steps), time_to_step(buffer.last_time, steps),
            buffer.tensor_index, buffer.op_index, names[alias.source_index] if alias else None,
            alias.kind if alias else None))
    return MemoryPlan(planner, kernels, list(order), planned, list(aliases), arena, bound, tflm_arena)


def plan_for_order(subgraph: Subgraph, order: list[int], kernels: str, inplace_kinds: Sequence[str],
                   tflm_arena: int, budget_s: float = 0.3) -> MemoryPlan:
    """The best placement we find for one fixed order and set of allowed in-place kinds."""
    buffers = build_buffers(subgraph, order, kernels)
    aliases = choose_aliases(subgraph, order, buffers, inplace_kinds)
    buffers = _inplace_buffers(buffers, aliases, order)
    regions = build_regions(buffers, aliases)
    placement = place(regions, budget_s=budget_s)
    offsets = [0] * len(buffers)
    for region, base in zip(regions, placement.bases):
        for key, relative in region.members:
            offsets[key] = base + relative
    plan = _assemble("best", kernels, subgraph, order, buffers, offsets, aliases, placement.arena_bytes,
                     lower_bound(regions), tflm_arena)
    plan.strategy = placement.strategy
    plan.proven_optimal = placement.proven_optimal
    return plan


# (graph object, arguments) -> plan, only inside `reuse_memory_plans()`.
_REUSE: ContextVar[dict[tuple[Any, ...], tuple[Any, MemoryPlan]] | None] = ContextVar("memory_plan_reuse",
                                                                                       default=None)


@contextmanager
def reuse_memory_plans() -> Iterator[None]:
    """Inside the block, `plan_memory` plans a graph once per set of arguments and returns that plan
    again (the same object: treat it as read-only). The activation plan does not depend on the board
    or the placement strategy, so a sweep that plans one model on many boards and strategies need
    not re-run the (time-budgeted) search each time. The graph must not be mutated in the block.
    """
    token = _REUSE.set({})
    try:
        yield
    finally:
        _REUSE.reset(token)


def plan_memory(graph_or_subgraph: Graph | Subgraph, planner: str = "best", reorder: bool = True,
                inplace: bool = True, kernels: str = "tflm-reference",
                inplace_kinds: Sequence[str] | None = None, order: Sequence[int] | None = None) -> MemoryPlan:
    """Plan the activation arena of a model (subgraph 0) or of one subgraph.

    ``inplace_kinds`` narrows the in-place kinds (default: all when ``inplace``); ``order`` fixes the
    op order instead of searching one.
    """
    reuse = _REUSE.get()
    if reuse is not None:
        key = (id(graph_or_subgraph), planner, reorder, inplace, kernels,
               None if inplace_kinds is None else tuple(inplace_kinds), None if order is None else tuple(order))
        hit = reuse.get(key)
        if hit is not None and hit[0] is graph_or_subgraph:
            return hit[1]
        plan = _plan_memory(graph_or_subgraph, planner, reorder, inplace, kernels, inplace_kinds, order)
        reuse[key] = (graph_or_subgraph, plan)  # holding the graph keeps its id() from being reused
        return plan
    return _plan_memory(graph_or_subgraph, planner, reorder, inplace, kernels, inplace_kinds, order)


def _plan_memory(graph_or_subgraph: Graph | Subgraph, planner: str, reorder: bool, inplace: bool, kernels: str,
                 inplace_kinds: Sequence[str] | None, order: Sequence[int] | None) -> MemoryPlan:
    if planner not in PLANNERS:
        raise ValueError(f"unknown planner {planner!r}; choose one of {', '.join(PLANNERS)}")
    if kernels.partition("@")[0] not in KERNEL_LIBRARIES:  # "ID@VERSION": the version only changes costs
        raise ValueError(f"unknown kernel library {kernels!r}; choose one of {', '.join(KERNEL_LIBRARIES)}")
    started = time.perf_counter()
    subgraph, graph = _subgraph_of(graph_or_subgraph)
    stored = list(range(len(subgraph.ops)))
    offline = existing_offline_offsets(graph, subgraph)
    tflm_buffers, tflm_offsets, tflm_arena = _tflm_plan(subgraph, stored, kernels, offline)
    tflm_bound = lower_bound(build_regions(tflm_buffers, []))
    if planner == "tflm":
        plan = _assemble("tflm", kernels, subgraph, stored, tflm_buffers, tflm_offsets, [], tflm_arena,
                         tflm_bound, tflm_arena)
        plan.planning_time_ms = (time.perf_counter() - started) * 1000
        return plan

    kinds = tuple(ALL_KINDS if inplace_kinds is None else inplace_kinds) if inplace else ()
    orders: list[tuple[str, list[int]]] = []
    reorder_exact = True
    if order is not None:
        check_order(subgraph, order)
        orders.append(("given", list(order)))
    else:
        orders.append(("stored", stored))
        if reorder and len(stored) > 1:
            found = best_order(subgraph, kernels, kinds)
            reorder_exact = found.exact
            if found.order != stored:
                check_order(subgraph, found.order)
                orders.append(("reordered", found.order))
    # TFLM's own plan is a candidate, so we never do worse than TFLM.
    fallback = plan_for_order(subgraph, orders[0][1], kernels, (), tflm_arena)
    # (Not when the model carries its own offline plan, e.g. Vela's: that one overlaps buffers on
    # purpose, so we can neither verify it nor build on it.)
    if fallback.arena_bytes > tflm_arena and orders[0][0] == "stored" and offline is None:
        fallback = _assemble("best", kernels, subgraph, stored, tflm_buffers, tflm_offsets, [], tflm_arena,
                             tflm_bound, tflm_arena)
        fallback.strategy = "tflm-greedy"
    tried = {f"{orders[0][0]}/no-inplace": fallback.arena_bytes}
    best = fallback
    for label, candidate_order in orders:
        variants = [kinds] if kinds else []
        for variant in variants:
            plan = plan_for_order(subgraph, candidate_order, kernels, variant, tflm_arena)
            tried[f"{label}/inplace"] = plan.arena_bytes
            if plan.arena_bytes < best.arena_bytes:
                best = plan
        if label != orders[0][0]:
            plan = plan_for_order(subgraph, candidate_order, kernels, (), tflm_arena)
            tried[f"{label}/no-inplace"] = plan.arena_bytes
            if plan.arena_bytes < best.arena_bytes:
                best = plan
    best.candidates = tried
    best.reorder_exact = reorder_exact
    best.planning_time_ms = (time.perf_counter() - started) * 1000
    return best


__all__ = ["MemoryPlan", "PlannedBuffer", "plan_memory", "reuse_memory_plans", "plan_for_order", "tflm_arena_bytes", "align_up"]
