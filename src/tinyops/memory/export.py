"""Hand a plan to stock TFLM: reordered ops plus an ``OfflineMemoryAllocation`` metadata buffer.

The metadata is little-endian int32: [version 0, subgraph 0, number of offsets, one offset per
tensor of every subgraph...], -1 for tensors TFLM should plan itself (constants, variables, and
all tensors of other subgraphs). TFLM places the offline tensors at their offsets without checking
them, then plans its scratch buffers online around them with its greedy rule, so we predict the
head it will report by running our copy of that rule the same way.

In-place kinds TFLM's kernels cannot follow (depthwise, pointwise, pad) are left out of the
exported plan: the model is re-planned for the same order with only the kinds TFLM follows.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tinyops.ir.graph import Graph, Subgraph
from tinyops.memory.inplace import TFLM_FOLLOWS
from tinyops.memory.lifetimes import build_buffers, check_plannable
from tinyops.memory.plan import OFFLINE_METADATA_NAME, MemoryPlan, plan_for_order, plan_memory, tflm_arena_bytes
from tinyops.memory.tflm_planner import ONLINE, greedy_offsets

METADATA_VERSION = 0


@dataclass
class ExportedPlan:
    graph: Graph  # the reordered model carrying the metadata
    plan: MemoryPlan  # the plan TFLM will follow
    offsets: list[int]  # per tensor of subgraph 0, -1 for online
    tflm_head_bytes: int  # the head TFLM will report for ``graph``
    left_out: dict[str, int]  # in-place kinds left out of the export -> how many


def offline_metadata(offsets: list[int], total_tensors: int) -> bytes:
    words = [METADATA_VERSION, 0, total_tensors] + offsets + [ONLINE] * (total_tensors - len(offsets))
    return np.asarray(words, dtype="<i4").tobytes()


def tflm_followable(plan: MemoryPlan, graph: Graph) -> MemoryPlan:
    """``plan`` itself if TFLM can follow it, else a plan for the same order without the other kinds."""
    if all(a.tflm_follows for a in plan.aliases):
        return plan
    subgraph = check_plannable(graph)
    return plan_for_order(subgraph, plan.order, plan.kernels, TFLM_FOLLOWS, plan.tflm_arena_bytes)


def predicted_tflm_head(subgraph: Subgraph, order: list[int], kernels: str, offsets: list[int]) -> tuple[int, list[int]]:
    """Head TFLM reports for tensors fixed at ``offsets`` and scratch planned online (its ids)."""
    buffers = build_buffers(subgraph, order, kernels)
    offline = [offsets[b.tensor_index] if b.tensor_index is not None else ONLINE for b in buffers]
    result = greedy_offsets([b.aligned_bytes for b in buffers], [b.first_time for b in buffers],
                            [b.last_time for b in buffers], offline)
    return result.arena_bytes, result.offsets


def export_plan(graph: Graph, plan: MemoryPlan) -> ExportedPlan:
    """The reordered model with the offline plan, and what TFLM will report for it."""
    subgraph = check_plannable(graph)
    left_out: dict[str, int] = {}
    for alias in plan.aliases:
        if not alias.tflm_follows:
            left_out[alias.kind] = left_out.get(alias.kind, 0) + 1
    followed = tflm_followable(plan, graph)
    if followed.arena_bytes > plan.tflm_arena_bytes:
        # Nothing gained for TFLM: hand it the plan of its own greedy planner on the stored order.
        followed = plan_memory(graph, planner="tflm", kernels=plan.kernels)
    offsets = [ONLINE] * len(subgraph.tensors)
    for buffer in followed.tensors:
        assert buffer.tensor_index is not None
        offsets[buffer.tensor_index] = buffer.offset
    # Scratch buffers stay online: TFLM may fit them differently from our plan, so predict its head.
    head, _ = predicted_tflm_head(subgraph, followed.order, plan.kernels, offsets)
    reordered = Subgraph(subgraph.name, subgraph.tensors, [subgraph.ops[i] for i in followed.order],
                         subgraph.inputs, subgraph.outputs)
    total = sum(len(s.tensors) for s in graph.subgraphs)
    metadata = dict(graph.metadata)
    metadata[OFFLINE_METADATA_NAME] = offline_metadata(offsets, total)
    exported = dataclasses.replace(graph, subgraphs=[reordered] + graph.subgraphs[1:], metadata=metadata)
    return ExportedPlan(exported, followed, offsets, head, left_out)


__all__ = ["ExportedPlan", "export_plan", "offline_metadata", "predicted_tflm_head", "tflm_arena_bytes"]
