"""Operator reordering: the topological order whose peak of live bytes is lowest (Liberis & Lane).

The memory in use while an op runs depends only on which ops ran before it (a set S) and on the
op itself, so the best order is a shortest-path-like dynamic programme over the sets S reachable
in topological order. We sweep it level by level (|S| = 0, 1, 2, ...), keeping per set the lowest
peak reached so far. When a level holds more sets than ``beam_width`` we keep the most promising
ones (lowest peak, then fewest live bytes) and the result is a heuristic instead of an optimum.

Storage follows the in-place rules: a view shares its input's bytes, and an op that may write over
an input dying at that op saves the bytes the in-place rule says it saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tinyops.ir.graph import Subgraph
from tinyops.memory.inplace import candidates
from tinyops.memory.lifetimes import align_up, needs_arena
from tinyops.kernels import scratch_requests


@dataclass(frozen=True)
class ReorderResult:
    order: list[int]
    peak_bytes: int  # the objective: peak live bytes under the model above
    exact: bool  # no level was pruned: the order is optimal for that objective
    states_explored: int


@dataclass
class _Storage:
    size_bytes: int
    creator: int  # op producing it, -1 for graph inputs
    consumers: int  # bitmask of ops reading any tensor of this storage
    pinned: bool  # holds a graph output: never freed


class _Model:
    """Per op: which storage it creates and reads, its scratch and its best in-place saving."""

    def __init__(self, subgraph: Subgraph, kernels: str, inplace_kinds: Sequence[str]) -> None:
        ops = subgraph.ops
        self.count = len(ops)
        producer = {id(t): i for i, op in enumerate(ops) for t in op.outputs}
        storage_of: dict[int, int] = {}
        self.storage: list[_Storage] = []
        for tensor in subgraph.inputs:
            if needs_arena(tensor) and id(tensor) not in storage_of:
                storage_of[id(tensor)] = len(self.storage)
                self.storage.append(_Storage(align_up(tensor.size_bytes), -1, 0, False))
        for index, op in enumerate(ops):  # stored order is topological: a view's input comes first
            view = "view" in inplace_kinds and any(c.kind == "view" for c in candidates(op))
            for tensor in op.outputs:
                if not needs_arena(tensor):
                    continue
                source = op.inputs[0] if view else None
                if source is not None and id(source) in storage_of:
                    storage_of[id(tensor)] = storage_of[id(source)]
                else:
                    storage_of[id(tensor)] = len(self.storage)
                    self.storage.append(_Storage(align_up(tensor.size_bytes), index, 0, False))
        for index, op in enumerate(ops):
            for operand in op.inputs:
                if operand is not None and id(operand) in storage_of:
                    self.storage[storage_of[id(operand)]].consumers |= 1 << index
        for tensor in subgraph.outputs:
            if id(tensor) in storage_of:
                self.storage[storage_of[id(tensor)]].pinned = True
        self.predecessors = [0] * self.count
        for index, op in enumerate(ops):
            for operand in op.inputs:
                if operand is not None and id(operand) in producer:
                    self.predecessors[index] |= 1 << producer[id(operand)]
        self.created = [[s for s, st in enumerate(self.storage) if st.creator == i] for i in range(self.count)]
        self.new_bytes = [sum(self.storage[s].size_bytes for s in self.created[i]) for i in range(self.count)]
        self.scratch_bytes = [sum(align_up(b) for b in scratch_requests(op, kernels)) for op in ops]
        # In-place writes: (storage of the overwritten input, bytes saved, extra buffer) per op.
        self.writes: list[list[tuple[int, int, int]]] = []
        for op in ops:
            options = []
            for option in candidates(op):
                if option.kind == "view" or option.kind not in inplace_kinds:
                    continue
                source = op.inputs[option.input_position]
                if source is None or id(source) not in storage_of:
                    continue
                out_bytes = align_up(op.outputs[0].size_bytes)
                in_bytes = align_up(source.size_bytes)
                saved = in_bytes if option.kind == "pad" else min(in_bytes, out_bytes)
                options.append((storage_of[id(source)], saved, align_up(option.extra_bytes)))
            self.writes.append(options)
        self.inplace_drops_scratch = [any(o.extra_bytes for o in candidates(op)) for op in ops]

    def live_storages(self, executed: int) -> list[int]:
        """Storages created and still needed after the ops in ``executed`` ran."""
        live = []
        for index, storage in enumerate(self.storage):
            created = storage.creator < 0 or executed >> storage.creator & 1
            if created and (storage.pinned or storage.consumers & ~executed):
                live.append(index)
        return live

    def step_bytes(self, executed: int, live: list[int], live_bytes: int, op: int) -> int:
        """Bytes in use while ``op`` runs after the ops in ``executed``."""
        total = live_bytes + self.new_bytes[op] + self.scratch_bytes[op]
        best_saving = 0
        after = executed | 1 << op
        for storage, saved, extra in self.writes[op]:
            record = self.storage[storage]
            if record.pinned or record.consumers & ~after:
                continue  # the input's bytes are still needed later
            saving = saved - extra
            if extra and self.inplace_drops_scratch[op]:
                saving += self.scratch_bytes[op]  # the in-place kernel replaces the normal one
            best_saving = max(best_saving, saving)
        return total - best_saving


def order_peak(subgraph: Subgraph, order: Sequence[int], kernels: str = "tflm-reference",
               inplace_kinds: Sequence[str] = ()) -> int:
    """The reordering objective evaluated on one order."""
    model = _Model(subgraph, kernels, inplace_kinds)
    executed, peak = 0, 0
    for op in order:
        live = model.live_storages(executed)
        live_bytes = sum(model.storage[s].size_bytes for s in live)
        peak = max(peak, model.step_bytes(executed, live, live_bytes, op))
        executed |= 1 << op
    return peak


def best_order(subgraph: Subgraph, kernels: str = "tflm-reference", inplace_kinds: Sequence[str] = (),
               beam_width: int = 2000) -> ReorderResult:
    """The order with the lowest peak (exact unless a level outgrew ``beam_width``)."""
    model = _Model(subgraph, kernels, inplace_kinds)
    count = model.count
    if count == 0:
        return ReorderResult([], 0, True, 0)
    # level: executed set -> (peak so far, live bytes after, order so far)
    level: dict[int, tuple[int, int, tuple[int, ...]]] = {0: (0, 0, ())}
    exact = True
    explored = 0
    for _ in range(count):
        following: dict[int, tuple[int, int, tuple[int, ...]]] = {}
        for executed, (peak, _, order) in level.items():
            live = model.live_storages(executed)
            live_bytes = sum(model.storage[s].size_bytes for s in live)
            for op in range(count):
                if executed >> op & 1 or model.predecessors[op] & ~executed:
                    continue
                explored += 1
                new_peak = max(peak, model.step_bytes(executed, live, live_bytes, op))
                after = executed | 1 << op
                known = following.get(after)
                if known is None or new_peak < known[0]:
                    following[after] = (new_peak, 0, order + (op,))
        if len(following) > beam_width:
            exact = False
            scored = []
            for executed, (peak, _, order) in following.items():
                rest = sum(model.storage[s].size_bytes for s in model.live_storages(executed))
                scored.append((peak, rest, executed, order))
            scored.sort(key=lambda item: (item[0], item[1]))
            following = {e: (p, r, o) for p, r, e, o in scored[:beam_width]}
        level = following
    (peak, _, order), = level.values()
    return ReorderResult(list(order), peak, exact, explored)
