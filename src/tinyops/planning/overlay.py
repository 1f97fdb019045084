"""TinyOps overlays: operation partitioning and a DMA schedule that hides external-memory latency.

Each MAC op is split along its output channels into partitions whose constants (filter slice +
bias slice; the external image stores each slice contiguously) fit one overlay buffer in SRAM.
Two buffers alternate (double buffering): while the CPU computes partition g from one, the DMA
copies partition g+1 into the other, across op boundaries too (the next op's first slice loads
during the current op's last one).

- ``v1`` (TinyOps): the overlay buffers are fixed: SRAM above the activation arena's peak, split
  in two, the same for every op.
- ``v2`` (TinyOpsV2): at every step all SRAM not used by the activations live around that step
  becomes overlay space, so ops whose neighbourhood needs little activation memory get larger
  slices (fewer partitions, fewer DMA set-ups and kernel calls).

Where a buffer cannot hold even one output channel's constants, the op reads them in place (XIP)
from external memory. A partition costs a kernel call more (``cycles_per_op``) and, for im2col
convolutions, a rebuild of the im2col columns: both from the cost model's coefficients.

Buffer geometry: partition g (counted over all overlaid partitions) uses the slot at the bottom of
the free space when g is even and at its top when g is odd. A transfer waits (``after``) for the
latest earlier partition whose slot overlaps its destination and, in v2, for the end of the step
two before its own (the free space is only free from the previous step on). The verifier
(:mod:`tinyops.planning.verify`) checks exactly these facts on the finished plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinyops.cost.cost_model import compute_cycles, op_counts
from tinyops.cost.memory_model import FLASH
from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board
from tinyops.ir.graph import Graph, Op
from tinyops.planning.common import PlanOptions, is_mac_op
from tinyops.planning.external import (ExternalSetup, activation_accesses, boot_copy_target, external_bytes_of,
                                       finish_plan, image_offsets, placed_buffers, prepare)
from tinyops.planning.plan import Access, Partition, PlacedBuffer, Plan, PlanStep, StepRef, Transfer

VERSIONS = ("v1", "v2")
SLOT_ALIGN_BYTES = 16  # DMA bursts and CMSIS-NN's word loads want aligned buffers


@dataclass(frozen=True)
class OverlayWindow:
    """Free SRAM for the overlay buffers of one step: [lo, hi) split into two slots of ``slot_bytes``."""

    lo_bytes: int
    hi_bytes: int

    @property
    def slot_bytes(self) -> int:
        return max(0, (self.hi_bytes - self.lo_bytes) // 2 // SLOT_ALIGN_BYTES * SLOT_ALIGN_BYTES)

    def slot_offset(self, parity: int, size_bytes: int) -> int:
        # Even partitions at the bottom of the double buffer, odd ones at its top: the top of the two
        # slots (lo + 2 x slot), not of the free space, which the plan's SRAM figure does not count.
        if parity == 0:
            return self.lo_bytes
        return (self.lo_bytes + 2 * self.slot_bytes - size_bytes) // SLOT_ALIGN_BYTES * SLOT_ALIGN_BYTES


def overlay_windows(setup: ExternalSetup, version: str, reserve_bytes: list[int] | None = None) -> list[OverlayWindow]:
    """Per step, the overlay buffers' free SRAM. ``reserve_bytes[k]``: the top of the budget kept
    for step k's row-tile buffers (:mod:`tinyops.planning.row_tiles`); a window stays below the
    reserve of its own step and of the step before (its first slice is prefetched then)."""
    top = setup.layout.sram_top_per_step
    budget = setup.sram_budget_bytes
    align = lambda x: -(-x // SLOT_ALIGN_BYTES) * SLOT_ALIGN_BYTES  # noqa: E731
    reserve = reserve_bytes or [0] * len(top)
    if version == "v1":
        peak = align(max(top, default=0))
        return [OverlayWindow(peak, budget - max(reserve, default=0)) for _ in top]
    # v2: free over the step and the one before it (the first slice is prefetched during it).
    return [OverlayWindow(align(max(top[k], top[k - 1] if k else 0)),
                          budget - max(reserve[k], reserve[k - 1] if k else 0)) for k in range(len(top))]


def out_channels(op: Op) -> int:
    counts = op_counts(op)
    if counts.out_channels:
        return int(counts.out_channels)
    return int(op.outputs[0].shape[-1]) if op.outputs and op.outputs[0].shape else 1


def slice_bytes(op: Op, external: dict[str, int], channels: int, total_channels: int) -> int:
    """Bytes of an op's external constants for ``channels`` of its ``total_channels`` outputs."""
    total = 0
    for t in op.constant_inputs:
        if t.name not in external:
            continue
        size = t.size_bytes
        # Per-output-channel tensors are sliced; anything else travels whole with every slice.
        total += size // total_channels * channels if size % total_channels == 0 else size
    return total


def partition_overhead_cycles(op: Op, setup: ExternalSetup) -> float:
    """Extra cycles for each partition beyond the first (cost-model coefficients, see module doc)."""
    counts = op_counts(op)
    cycles = setup.params.c("cycles_per_op")
    if counts.kernel_class == "conv":
        cycles += counts.im2col_elements * setup.params.c("im2col_cycles_per_element")
    return cycles


def choose_source(setup: ExternalSetup, engine: str | None) -> tuple[str, str, bool]:
    """(memory the slices are copied from, engine, weights copied to RAM at boot?).

    The DMA reads from the reachable copy with the highest bandwidth (the boot copy in SDRAM when
    it fits, else the non-volatile store); ``engine="cpu"`` forces CPU-driven copies.
    """
    home = setup.weights_home
    if home is None:
        raise TinyOpsError(f"board {setup.board.id} has no external store for the weights")
    options = [(home.read_bandwidth_mb_s, home.name, False)]
    ram = boot_copy_target(setup)
    if ram is not None and engine != "cpu":
        options.append((ram.read_bandwidth_mb_s, ram.name, True))
    for _, name, copied in sorted(options, reverse=True):
        if engine == "cpu":
            return name, "cpu", copied
        dma = setup.board.dma_for(name, setup.sram_memory)  # only an engine able to do this copy
        if dma is not None:
            return name, dma.name, copied
    return home.name, "cpu", False


def plan_overlay(graph: Graph, board: Board, version: str = "v2", options: PlanOptions | None = None,
                 engine: str | None = None, setup: ExternalSetup | None = None) -> Plan:
    """One overlay plan with ``version``'s buffer geometry."""
    if version not in VERSIONS:
        raise TinyOpsError(f"unknown overlay version {version!r}; known: {', '.join(VERSIONS)}")
    setup = setup or prepare(graph, board, f"overlay-{version}", options)
    return _plan_overlay(graph, board, version, setup, engine)


def overlay_candidates(graph: Graph, board: Board, version: str, options: PlanOptions | None = None) -> list[Plan]:
    """The overlay plans of ``version``. For ``v2`` both buffer geometries are valid uses of the free
    SRAM (the fixed area above the activation peak is free at every step): both are candidates and
    the driver keeps the one that simulates faster."""
    from tinyops.planning.external import unreachable_spills

    setup = prepare(graph, board, f"overlay-{version}", options)
    plans = _geometries(graph, board, version, setup, None)
    return [unreachable_spills(p, setup) for p in plans + _row_tiled_overlays(graph, board, version, setup)]


def _geometries(graph: Graph, board: Board, version: str, setup: ExternalSetup,
                reserve: list[int] | None) -> list[Plan]:
    plan = _plan_overlay(graph, board, version, setup, None, reserve=reserve)
    if version != "v2" or not plan.transfers:
        return [plan]
    fixed = _plan_overlay(graph, board, "v1", setup, None, strategy="overlay-v2", reserve=reserve)
    if not fixed.transfers:
        return [plan]
    fixed.assumptions["geometry"] = "one fixed double buffer over all SRAM above the activation peak"
    plan.assumptions["geometry"] = "per-step buffers over all SRAM the live activations leave free"
    return [plan, fixed]


# Share of a spilled step's free SRAM given to its row tiles (the rest stays overlay space).
ROW_TILE_SHARE = 0.5


def tile_reserve_bytes(graph: Graph, setup: ExternalSetup, version: str = "v2") -> list[int]:
    """Per step, the top of the SRAM budget kept for row tiles at the steps whose op reads or writes
    a spilled activation and can be split along rows: ``ROW_TILE_SHARE`` of the free SRAM, capped so
    that the overlay window of the step and of the next one (which stays below it) keep the rest."""
    from tinyops.ops.rows import row_window

    spilled = {name for name, slot in setup.layout.slots.items() if slot.memory == setup.layout.spill_memory}
    budget = setup.sram_budget_bytes
    top = setup.layout.sram_top_per_step
    align = lambda x: -(-x // SLOT_ALIGN_BYTES) * SLOT_ALIGN_BYTES  # noqa: E731
    if version == "v1":
        window = [budget - align(max(top, default=0))] * len(top)
    else:
        window = [budget - align(max(top[k], top[k - 1] if k else 0)) for k in range(len(top))]
    out = []
    for k, op_index in enumerate(setup.layout.order):
        op = graph.main.ops[op_index]
        touches = any(t is not None and t.name in spilled for t in list(op.inputs) + list(op.outputs))
        free = min(window[k], window[k + 1] if k + 1 < len(window) else window[k])
        share = int(max(free, 0) * ROW_TILE_SHARE) // SLOT_ALIGN_BYTES * SLOT_ALIGN_BYTES
        out.append(share if touches and row_window(op) is not None else 0)
    return out


def _row_tiled_overlays(graph: Graph, board: Board, version: str, setup: ExternalSetup) -> list[Plan]:
    """The overlay plans again with SRAM reserved for row tiles of the spilled steps, tiled."""
    from tinyops.planning.external import free_regions, spill_offsets
    from tinyops.planning.row_tiles import tile_spilled_steps

    if not setup.layout.spilled_bytes or setup.layout.spill_memory is None:
        return []
    reserve = tile_reserve_bytes(graph, setup, version)
    if not any(reserve):
        return []
    out = []
    for plan in _geometries(graph, board, version, setup, reserve):
        tiled = tile_spilled_steps(plan, setup.layout.spill_memory, spill_offsets(setup), setup.sram_memory,
                                   free_regions(setup, reserve))
        if tiled is not plan:
            out.append(tiled)
    return out


def _plan_overlay(graph: Graph, board: Board, version: str, setup: ExternalSetup, engine: str | None,
                  strategy: str | None = None, reserve: list[int] | None = None) -> Plan:
    strategy = strategy or f"overlay-{version}"
    if setup.weights_home is None:
        return finish_plan(setup, strategy, [], [], {}, {"strategy": strategy},
                           reasons=[f"board {board.id} has no external store for the weights"])
    src, eng, copied = choose_source(setup, engine)
    src_port_addressable = next(m for m in board.external_memories if m.name == src).memory_mapped
    windows = overlay_windows(setup, version, reserve)
    constant_memory = {name: FLASH for name in setup.flash_constants}
    steps: list[PlanStep] = []
    transfers: list[Transfer] = []
    reasons: list[str] = []
    program: dict[StepRef, int] = {}  # partition -> position in CPU program order
    placed: list[tuple[StepRef, int, int]] = []  # overlay slices: (partition, offset, end)
    last_of_step: dict[int, StepRef] = {}
    busy = activation_intervals(setup)
    if reserve is not None:
        # Row-tile buffers occupy the reserved top of the budget during their step.
        for step, size in enumerate(reserve):
            if size:
                busy[step].append((setup.sram_budget_bytes - size, setup.sram_budget_bytes))
    overlaid = xip = 0
    sram_top = setup.layout.sram_bytes
    g = 0
    image = image_offsets(setup)
    # A boot copy sits above the spilled activations in the same RAM (as external-xip lays it out).
    src_base = setup.layout.spilled_bytes if copied and setup.layout.spill_memory == src else 0
    src_base = -(-src_base // 32) * 32
    overlay_windows_used: list[tuple[int, int, int]] = []  # (step, offset, bytes) of the double buffer
    src_offsets = {name: src_base + off for name, off in image.items()}  # constants read in place from src
    for k, op_index in enumerate(setup.layout.order):
        op = graph.main.ops[op_index]
        base_cycles = compute_cycles(op, setup.params)
        ext_names = [t.name for t in op.constant_inputs if t.name in setup.external_constants]
        window = windows[k]
        channels = out_channels(op)
        per_channel = slice_bytes(op, setup.external_constants, 1, channels) if ext_names else 0
        n_c = window.slot_bytes // per_channel if per_channel else 0
        if not (is_mac_op(op) and ext_names) or n_c < 1:
            if ext_names:
                if not src_port_addressable:
                    reasons.append(f"op {k} ({op.label}): one output channel's constants ({per_channel} B) do not "
                                   f"fit the {window.slot_bytes} B overlay buffer and {src} is not memory-mapped")
                xip += 1
                constant_memory.update({name: src for name in ext_names})
            accesses = activation_accesses(setup, op, constant_memory, constant_offsets=src_offsets)
            steps.append(PlanStep(k, op_index, op, op.label, op_counts(op), base_cycles,
                                  [Partition(0, 1.0, tuple(accesses), 0, op_counts(op).out_channels)]))
            ref = (k, 0)
            program[ref] = len(program)
            last_of_step[k] = ref
            continue
        align = setup.params.channel_alignment
        if align <= n_c < channels:
            n_c = n_c // align * align  # keep CMSIS-NN's channel-aligned fast paths
        n_parts = math.ceil(channels / n_c)
        overlaid += 1
        overhead = partition_overhead_cycles(op, setup)
        step_cycles = base_cycles + (n_parts - 1) * overhead
        filt = next(t for t in op.constant_inputs if t.name in setup.external_constants)
        filt_index = setup.index_of.get(id(filt))
        # The image stores the op's slices one after another from its first constant's offset.
        src_cursor = src_base + min(image[n] for n in ext_names if n in image)
        parts: list[Partition] = []
        for i in range(n_parts):
            c0, c1 = i * n_c, min(channels, (i + 1) * n_c)
            share = (c1 - c0) / channels
            nbytes = slice_bytes(op, setup.external_constants, c1 - c0, channels)
            offset = window.slot_offset(g % 2, nbytes)
            ref = (k, i)
            name = f"{filt.name}[{c0}:{c1}]" if n_parts > 1 else filt.name
            accesses = [Access(name, "filter", setup.sram_memory, nbytes, nbytes, offset, filt_index)]
            accesses += activation_accesses(setup, op, constant_memory, share, skip_constants=True)
            parts.append(Partition(i, share, tuple(accesses), c0, c1))
            after = _latest_overlap(placed, offset, offset + nbytes)
            if version == "v2":
                # Not before the last earlier step whose live activations cover the slot.
                j = _last_step_touching(busy, k - 2, offset, offset + nbytes)
                if j is not None:
                    after = _later(after, last_of_step[j], program)
                if reserve is not None:
                    # A step's last row-tile write-backs land only before the next step starts.
                    held = next((j for j in range(k - 2, -1, -1) if reserve[j]
                                 and offset + nbytes > setup.sram_budget_bytes - reserve[j]), None)
                    if held is not None:
                        after = _later(after, (held + 1, 0), program)
            transfers.append(Transfer(len(transfers), src, setup.sram_memory, nbytes, eng, ref, after,
                                      tensor=name, dst_offset_bytes=offset, src_offset_bytes=src_cursor,
                                      tensor_index=filt_index))
            src_cursor += nbytes
            program[ref] = len(program)
            placed.append((ref, offset, offset + nbytes))
            sram_top = max(sram_top, window.lo_bytes + 2 * window.slot_bytes)
            g += 1
        overlay_windows_used.append((k, window.lo_bytes, 2 * window.slot_bytes))
        last_of_step[k] = (k, n_parts - 1)
        steps.append(PlanStep(k, op_index, op, op.label, op_counts(op), step_cycles, parts))
    ext = external_bytes_of(setup, src, src if copied else None)
    if copied:
        spilled = setup.layout.spilled_bytes if setup.layout.spill_memory == src else 0
        ext[src] = spilled + setup.weights_bytes
    how = ("fixed double buffer above the activation peak" if version == "v1"
           else "all SRAM not used by live activations, per step")
    constant_home = {name: (src if copied else (setup.weights_home.name if setup.weights_home else src))
                     for name in setup.external_constants}
    constant_home.update({name: FLASH for name in setup.flash_constants})
    offsets = {name: (src_base if copied else 0) + off for name, off in image.items()}
    buffers = placed_buffers(setup, constant_home, {**offsets, **setup.flash_offsets})
    buffers += overlay_buffers(setup.sram_memory, overlay_windows_used)
    plan = finish_plan(setup, strategy, steps, transfers, ext, {
        "strategy": (f"{strategy}: MAC ops partitioned along output channels; {how}; slices copied from {src}"
                     + (f" (boot copy of {setup.weights_home.name})" if copied and setup.weights_home else "")
                     + f" by {eng}" + (", overlapping the CPU" if eng != "cpu" else ", in program order")),
        "overlays": f"{overlaid} ops overlaid in {g} partitions, {xip} ops read their constants in place",
    }, extra_sram_bytes=sram_top, reasons=reasons, buffers=buffers)
    return plan


def overlay_buffers(memory: str, used: list[tuple[int, int, int]]) -> list[PlacedBuffer]:
    """The double buffers of the overlaid steps, consecutive steps with the same geometry merged."""
    out: list[PlacedBuffer] = []
    for step, offset, size in used:
        last = out[-1] if out else None
        if last is not None and last.offset_bytes == offset and last.size_bytes == size:
            out[-1] = PlacedBuffer(last.name, "overlay", memory, offset, size, last.first_step, step)
        else:
            out.append(PlacedBuffer(f"overlay@step{step}", "overlay", memory, offset, size, step, step))
    return out


def activation_intervals(setup: ExternalSetup) -> list[list[tuple[int, int]]]:
    """Per step, the SRAM byte ranges of the activations live in it."""
    out: list[list[tuple[int, int]]] = [[] for _ in setup.layout.order]
    for slot in setup.layout.slots.values():
        if slot.memory == setup.sram_memory:
            for step in range(slot.first_step, slot.last_step + 1):
                out[step].append((slot.offset_bytes, slot.offset_bytes + slot.size_bytes))
    return out


def _last_step_touching(busy: list[list[tuple[int, int]]], start: int, lo: int, hi: int) -> int | None:
    for j in range(start, -1, -1):
        if any(a < hi and lo < b for a, b in busy[j]):
            return j
    return None


def _latest_overlap(placed: list[tuple[StepRef, int, int]], lo: int, hi: int) -> StepRef | None:
    for ref, a, b in reversed(placed):
        if a < hi and lo < b:
            return ref
    return None


def _later(a: StepRef | None, b: StepRef | None, program: dict[StepRef, int]) -> StepRef | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if program[a] >= program[b] else b


__all__ = ["VERSIONS", "plan_overlay", "overlay_candidates", "overlay_windows", "overlay_buffers",
           "partition_overhead_cycles"]
