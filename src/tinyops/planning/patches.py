"""Patch-based inference of a model's first stages (MCUNetV2-style fusion over row tiles).

The first stages of a high-resolution model hold the largest activations. Instead of running
them op by op over whole maps, run them tile by tile: split the last op of a *fused group* (a
prefix of the model in execution order) into ``n`` row tiles and, walking backwards, give every
op of the group the output rows its consumers in the group need for that tile (the receptive
field grows op by op, so neighbouring tiles overlap: those rows are computed twice, the
**recompute**). Only the group's input and final output exist whole; every map inside the group
exists one tile at a time, from the op that writes it to the last op that reads it. This module computes the geometry (rows per op per tile, as numbers),
the recompute in MACs, the SRAM it needs, and its cost in cycles from the cost model.

SRAM figures are live-bytes lower bounds (what any arena needs at least), for the whole model and
for its first stages: the group's SRAM while it runs is its input + its output + one tile of every
map inside it. MCUNetV2 (Lin et al. 2021) splits the first stages into 2-D patches; here the tiles
are strips of whole rows (the layout row-tiled plans use), which saves less than 2-D patches when
maps are wide.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.analysis.liveness import activation_lifetimes, live_bytes_per_step
from tinyops.cost.cost_model import compute_cycles, op_counts
from tinyops.ir.graph import Graph, Op, Tensor
from tinyops.kernels.profile import CoreParams
from tinyops.ops.rows import row_bytes, row_window, split_rows

MAX_TILES = 8
# Fused groups may recompute at most this share of their MACs (MCUNetV2 reports ~10-30% overhead
# for its patch stage before receptive-field redistribution): a larger group saves more SRAM but
# its halos grow op by op.
MAX_RECOMPUTE_PCT = 50.0


@dataclass(frozen=True)
class FusedGroup:
    """The first ``len(ops)`` ops run tile by tile over ``tiles`` strips of the last op's output."""

    ops: tuple[int, ...]  # op indices, in execution (stored) order
    tiles: int
    rows: tuple[tuple[tuple[int, int], ...], ...]  # rows[t][i]: output rows of ops[i] in tile t
    macs: int
    recompute_macs: int
    sram_bytes: int  # live bytes while the group runs: its input and output whole + the live inner tiles
    untiled_sram_bytes: int  # live-bytes peak of the same ops run whole, op by op
    extra_cycles: float  # recompute + one more kernel call (and im2col rebuild) per tile and op

    @property
    def recompute_pct(self) -> float:
        return 100.0 * self.recompute_macs / self.macs if self.macs else 0.0


@dataclass(frozen=True)
class PatchPlan:
    """A model's best fused group and what it changes."""

    group: FusedGroup | None
    peak_bytes: int  # live-bytes peak of the whole model, patch-based first stages
    untiled_peak_bytes: int  # live-bytes peak of the whole model, op by op
    rest_peak_bytes: int  # live-bytes peak of the ops after the group

    @property
    def saving(self) -> float:
        return self.untiled_peak_bytes / self.peak_bytes if self.peak_bytes else 1.0


def _producers(graph: Graph) -> dict[int, int]:
    return {id(t): i for i, op in enumerate(graph.main.ops) for t in op.outputs}


def _prefix_is_closed(graph: Graph, end: int) -> Tensor | None:
    """The one tensor ops[0..end] hand to later ops (None if several cross, or one is a model output)."""
    inside = {id(t) for op in graph.main.ops[:end + 1] for t in op.outputs}
    crossing = {id(t): t for op in graph.main.ops[end + 1:] for t in op.inputs
                if t is not None and id(t) in inside}
    last = graph.main.ops[end].outputs[0]
    if list(crossing) != [id(last)] or any(id(t) in inside for t in graph.main.outputs):
        return None
    return last


def fuse_prefix(graph: Graph, end: int, tiles: int, params: CoreParams | None = None) -> FusedGroup | None:
    """The group of ops 0..end split into ``tiles`` strips, or None when it cannot be fused
    (an op without row geometry, a map inside the group used after it)."""
    ops = graph.main.ops[:end + 1]
    windows = [row_window(op) for op in ops]
    if any(w is None for w in windows) or _prefix_is_closed(graph, end) is None:
        return None
    producer = _producers(graph)
    out_rows = ops[-1].outputs[0].shape[1]
    strips = split_rows(out_rows, -(-out_rows // tiles))
    rows_per_tile: list[tuple[tuple[int, int], ...]] = []
    tile_bytes: dict[int, int] = {}  # id(inner tensor) -> largest tile
    computed = [0] * len(ops)
    for r0, r1 in strips:
        need: dict[int, tuple[int, int]] = {end: (r0, r1)}
        for i in range(end, -1, -1):
            if i not in need:
                need[i] = (0, 0)  # nothing of this op feeds the tile (cannot happen in a chain)
                continue
            window = windows[i]
            assert window is not None
            a, b = need[i]
            if b <= a:
                continue
            i0, i1 = window.input_rows(a, b)
            for t in ops[i].inputs:
                if t is None or t.is_constant or id(t) not in producer:
                    continue
                j = producer[id(t)]
                lo, hi = need.get(j, (i0, i1))
                need[j] = (min(lo, i0), max(hi, i1)) if j in need else (i0, i1)
        rows_per_tile.append(tuple(need.get(i, (0, 0)) for i in range(len(ops))))
        for i, (a, b) in enumerate(rows_per_tile[-1]):
            computed[i] += max(0, b - a)
            if i < end:
                t = ops[i].outputs[0]
                tile_bytes[id(t)] = max(tile_bytes.get(id(t), 0), (b - a) * row_bytes(t.shape, t.dtype.storage_bytes(1)))
    macs = sum(op_counts(op).macs for op in ops)
    recompute = 0
    extra = 0.0
    for i, op in enumerate(ops):
        rows = op.outputs[0].shape[1]
        surplus = computed[i] - rows
        recompute += op_counts(op).macs * surplus // max(rows, 1)
        if params is not None:
            extra += compute_cycles(op, params) * surplus / max(rows, 1)
            extra += (len(strips) - 1) * _call_cycles(op, params)
    group_inputs = {id(t): t for op in ops for t in op.inputs
                    if t is not None and not t.is_constant and id(t) not in producer}
    whole = sum(t.size_bytes for t in group_inputs.values()) + ops[-1].outputs[0].size_bytes
    # One tile of an inner map is live from the op that writes it to the last op that reads it.
    last_use = {id(op.outputs[0]): max((k for k, o in enumerate(ops) if any(t is op.outputs[0] for t in o.inputs)),
                                       default=i) for i, op in enumerate(ops[:-1])}
    inner = 0
    for step in range(len(ops)):
        live = sum(size for i, op in enumerate(ops[:-1]) for size in [tile_bytes.get(id(op.outputs[0]), 0)]
                   if i <= step <= last_use[id(op.outputs[0])])
        inner = max(inner, live)
    sram = whole + inner
    curve = live_bytes_per_step(activation_lifetimes(graph.main), len(graph.main.ops))
    return FusedGroup(tuple(range(end + 1)), len(strips), tuple(rows_per_tile), macs, recompute, sram,
                      int(curve[:end + 1].max()), extra)


def _call_cycles(op: Op, params: CoreParams) -> float:
    counts = op_counts(op)
    cycles = params.c("cycles_per_op")
    if counts.kernel_class == "conv":
        cycles += counts.im2col_elements * params.c("im2col_cycles_per_element")
    return cycles


def best_patch_plan(graph: Graph, params: CoreParams | None = None, max_tiles: int = MAX_TILES,
                    max_recompute_pct: float = MAX_RECOMPUTE_PCT) -> PatchPlan:
    """The fused prefix and tile count with the lowest whole-model live-bytes peak among those
    recomputing at most ``max_recompute_pct`` of their MACs (ties: less recompute)."""
    curve = live_bytes_per_step(activation_lifetimes(graph.main), len(graph.main.ops))
    untiled = int(curve.max()) if curve.size else 0
    best: PatchPlan = PatchPlan(None, untiled, untiled, untiled)
    for end in range(len(graph.main.ops) - 1):
        if row_window(graph.main.ops[end]) is None:
            break
        rest = int(curve[end + 1:].max())
        if rest >= best.peak_bytes:
            continue  # the ops after the group already need more than the best plan so far
        for tiles in range(2, max_tiles + 1):
            group = fuse_prefix(graph, end, tiles, params)
            if group is None:
                break
            if group.recompute_pct > max_recompute_pct:
                continue
            peak = max(group.sram_bytes, rest)
            better = peak < best.peak_bytes or (peak == best.peak_bytes and best.group is not None
                                                and group.recompute_macs < best.group.recompute_macs)
            if better:
                best = PatchPlan(group, peak, untiled, rest)
    return best


__all__ = ["FusedGroup", "MAX_RECOMPUTE_PCT", "MAX_TILES", "PatchPlan", "best_patch_plan", "fuse_prefix"]
