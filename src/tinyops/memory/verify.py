"""An independent check that a memory plan is safe to run.

It trusts nothing the planner computed except offsets, scratch sizes and the recorded in-place
choices: lifetimes are recomputed from the graph and the plan's order. Two buffers live at the same
time may share bytes only through recorded aliases: a view shares its source's bytes for as long
as both live; a write alias (elementwise, depthwise, pointwise, pad) at time t lets its output
overlap its source's bytes only at t, the one moment the kernel reads one while writing the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.ir.graph import Subgraph
from tinyops.memory.inplace import Alias, candidates
from tinyops.memory.lifetimes import ALIGNMENT_BYTES, check_order, needs_arena
from tinyops.memory.plan import MemoryPlan, PlannedBuffer


class PlanVerificationError(AssertionError):
    """The plan would corrupt data (or is inconsistent with the graph)."""


@dataclass(frozen=True)
class _Span:
    first: int
    last: int


def _true_lifetimes(subgraph: Subgraph, order: list[int]) -> dict[int, _Span]:
    """Per arena tensor index: [creation, last use] in allocation-scope time, from scratch."""
    index_of = {id(t): i for i, t in enumerate(subgraph.tensors)}
    first: dict[int, int] = {index_of[id(t)]: 0 for t in subgraph.inputs}
    last: dict[int, int] = dict(first)
    for step, op_index in enumerate(order):
        op = subgraph.ops[op_index]
        for tensor in op.outputs:
            first.setdefault(index_of[id(tensor)], step + 1)
            last[index_of[id(tensor)]] = step + 1
        for operand in op.inputs:
            if operand is not None:
                last[index_of[id(operand)]] = max(last.get(index_of[id(operand)], step + 1), step + 1)
    end = len(order)
    for tensor in subgraph.outputs:
        last[index_of[id(tensor)]] = end
        first.setdefault(index_of[id(tensor)], end)
    return {i: _Span(first.get(i, -1), last.get(i, -1)) for i, t in enumerate(subgraph.tensors) if needs_arena(t)}


def _check_alias(subgraph: Subgraph, alias: Alias, offsets: dict[int, int]) -> None:
    op = subgraph.ops[alias.op_index]
    source, target = subgraph.tensors[alias.source_index], subgraph.tensors[alias.tensor_index]
    if target not in op.outputs or source not in op.inputs:
        raise PlanVerificationError(f"alias {target.name!r} <- {source.name!r}: op {alias.op_index} does not link them")
    allowed = {(c.kind, c.relative_offset_bytes, c.extra_bytes) for c in candidates(op)
               if op.inputs[c.input_position] is source}
    if (alias.kind, alias.relative_offset_bytes, alias.extra_bytes) not in allowed:
        raise PlanVerificationError(f"op {alias.op_index} ({op.label}) cannot run in place as {alias.kind!r}")
    if offsets[alias.tensor_index] - offsets[alias.source_index] != alias.relative_offset_bytes:
        raise PlanVerificationError(f"alias {target.name!r}: offset is not its source's + {alias.relative_offset_bytes}")
    # The byte relation each kernel needs, restated here rather than taken from the planner.
    if alias.kind == "pad":
        expected_offset = source.size_bytes - target.size_bytes  # the input ends where the output ends
        fits = target.size_bytes >= source.size_bytes
    else:
        expected_offset = 0  # output starts at the input's first byte
        fits = {"view": target.size_bytes == source.size_bytes,
                "elementwise": target.size_bytes <= source.size_bytes,
                "depthwise": target.size_bytes <= source.size_bytes,
                "pointwise": True}.get(alias.kind, False)
    if alias.relative_offset_bytes != expected_offset or not fits:
        raise PlanVerificationError(f"alias {target.name!r} <- {source.name!r}: wrong byte relation for {alias.kind!r}")
    if alias.kind == "pointwise":
        rows = target.num_elements // max(target.shape[-1], 1)
        widening = target.size_bytes // max(rows, 1) > source.size_bytes // max(rows, 1)
        if alias.backward != widening:
            raise PlanVerificationError(f"alias {target.name!r}: pointwise must walk pixels backward iff they widen")


def verify_plan(plan: MemoryPlan, subgraph: Subgraph) -> None:
    """Raise PlanVerificationError unless the plan is a safe layout of ``subgraph``'s arena."""
    try:
        check_order(subgraph, plan.order)
    except ValueError as exc:
        raise PlanVerificationError(str(exc)) from None
    spans = _true_lifetimes(subgraph, plan.order)
    tensors = {b.tensor_index: b for b in plan.tensors}
    missing = set(spans) - set(tensors)
    if missing:
        raise PlanVerificationError(f"tensors without a place in the arena: {sorted(missing)}")
    for buffer in plan.buffers:
        if buffer.offset < 0 or buffer.offset % ALIGNMENT_BYTES:
            raise PlanVerificationError(f"{buffer.name}: offset {buffer.offset} is not a 16-byte aligned arena offset")
        if buffer.offset + buffer.size_bytes > plan.arena_bytes:
            raise PlanVerificationError(f"{buffer.name}: ends past the arena ({plan.arena_bytes} bytes)")
        if buffer.kind == "tensor":
            assert buffer.tensor_index is not None
            if buffer.size_bytes < subgraph.tensors[buffer.tensor_index].size_bytes:
                raise PlanVerificationError(f"{buffer.name}: planned smaller than the tensor")
    step_of = {op: step for step, op in enumerate(plan.order)}
    offsets = {b.tensor_index: b.offset for b in plan.tensors if b.tensor_index is not None}
    parent: dict[int, Alias] = {}
    for alias in plan.aliases:
        _check_alias(subgraph, alias, offsets)
        if alias.tensor_index in parent:
            raise PlanVerificationError(f"tensor {alias.tensor_index} aliases two sources")
        parent[alias.tensor_index] = alias

    def lifetime(buffer: PlannedBuffer) -> _Span:
        if buffer.kind == "tensor":
            assert buffer.tensor_index is not None
            return spans[buffer.tensor_index]
        if buffer.op_index is None or buffer.op_index not in step_of:
            raise PlanVerificationError(f"{buffer.name}: scratch buffer of an unknown op")
        moment = step_of[buffer.op_index] + 1
        return _Span(moment, moment)

    def ancestry(tensor_index: int) -> list[int]:
        chain = [tensor_index]
        while chain[-1] in parent:
            chain.append(parent[chain[-1]].source_index)
        return chain

    def sharing_allowed(a: PlannedBuffer, b: PlannedBuffer, overlap: _Span) -> bool:
        if a.tensor_index is None or b.tensor_index is None:
            return False  # scratch never shares
        chain_a, chain_b = ancestry(a.tensor_index), ancestry(b.tensor_index)
        common = next((t for t in chain_a if t in chain_b), None)
        if common is None:
            return False
        edges = [parent[t] for t in chain_a[:chain_a.index(common)]] + \
                [parent[t] for t in chain_b[:chain_b.index(common)]]
        for edge in edges:
            if edge.writes:
                moment = step_of[edge.op_index] + 1
                if not overlap.first == overlap.last == moment:
                    return False  # the source's bytes are overwritten while still needed
        return True

    buffers = plan.buffers
    lives = [lifetime(b) for b in buffers]
    for i, a in enumerate(buffers):
        for j in range(i + 1, len(buffers)):
            b = buffers[j]
            first, last = max(lives[i].first, lives[j].first), min(lives[i].last, lives[j].last)
            if first > last:
                continue
            if a.offset < b.offset + b.size_bytes and b.offset < a.offset + a.size_bytes and a.size_bytes and b.size_bytes:
                if not sharing_allowed(a, b, _Span(first, last)):
                    raise PlanVerificationError(
                        f"{a.name} [{a.offset}, {a.offset + a.size_bytes}) and {b.name} "
                        f"[{b.offset}, {b.offset + b.size_bytes}) share bytes while both live at time {first}")
    if plan.lower_bound_bytes > plan.arena_bytes:
        raise PlanVerificationError("lower bound above the arena: the bound or the arena is wrong")
