"""Where the activations of an external-memory deployment live: an SRAM arena, spilling to external RAM.

The external strategies share this. The memory planner (:func:`tinyops.memory.plan_memory`)
gives the op order, the lifetimes and the offsets (for the ``tflm`` runtime TFLM's own planner on
the stored order, which stock TFLM reproduces; for ``tinyops`` the ``best`` plan with the in-place
kinds that survive output-channel partitioning); when its arena fits the SRAM budget every
activation stays in SRAM at the planner's offset. Otherwise the largest tensors live at the
over-budget moments are spilled to the board's external RAM (FMC SDRAM/SRAM) one at a time
until the rest packs under the budget (the planner's own placement search packs both sides).
What is left of SRAM at each step is what the overlay strategies use for filter buffers.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board, ExternalMemory
from tinyops.ir.graph import Graph
from tinyops.ir.memory import VOLATILE_KINDS
from tinyops.kernels import InplaceKind, Runtime
from tinyops.memory import MemoryPlan, PlannedBuffer, plan_memory
from tinyops.memory.lifetimes import Buffer, build_buffers, time_to_step
from tinyops.memory.placement import build_regions, lower_bound, place

# In-place kinds that stay correct when an op is split along output channels: a pointwise or
# depthwise op writing over its own input would overwrite channels a later slice still reads.
PARTITION_SAFE_INPLACE: tuple[InplaceKind, ...] = ("view", "elementwise", "pad")
# Spilling stops after this many tensors: a model that still does not fit is reported infeasible.
MAX_SPILLS = 400


@dataclass(frozen=True)
class ActivationSlot:
    """One activation (or scratch) buffer: its memory, offset and the plan steps it is live in."""

    name: str
    tensor_index: int | None
    memory: str
    offset_bytes: int
    size_bytes: int
    first_step: int
    last_step: int


@dataclass
class ActivationLayout:
    order: list[int]  # op indices in execution order (plan step k runs op order[k])
    sram_memory: str  # name of the first region of the SRAM run the arena uses
    sram_budget_bytes: int
    spill_memory: str | None
    slots: dict[str, ActivationSlot]  # tensor name (or scratch[op label]) -> slot
    sram_top_per_step: list[int]  # highest SRAM byte used by activations live at each step
    feasible: bool = True
    reason: str | None = None
    lower_bound_bytes: int = 0  # live activations + scratch at the worst step: no layout needs less

    @property
    def sram_bytes(self) -> int:
        return max(self.sram_top_per_step, default=0)

    @property
    def spilled_bytes(self) -> int:
        """Bytes of external RAM the spilled activations need (their packed arena)."""
        return max((s.offset_bytes + s.size_bytes for s in self.slots.values()
                    if s.memory == self.spill_memory), default=0)

    def memory_of(self, name: str, default: str) -> str:
        slot = self.slots.get(name)
        return slot.memory if slot else default


def spill_ram(board: Board) -> ExternalMemory | None:
    """The external RAM the CPU can load and store (FMC SDRAM first, then FMC SRAM)."""
    for kind in VOLATILE_KINDS:
        mem = board.external(kind)
        if mem is not None and mem.memory_mapped:
            return mem
    return None


def spill_store(board: Board) -> ExternalMemory | None:
    """Where activations that do not fit SRAM go: external RAM, else a block device (the SD card).

    The CPU cannot address a block device: a tensor spilled there is reachable only by the copies
    of a row-tiled plan (:mod:`tinyops.planning.row_tiles`), and each tensor starts on a block of
    its own so two tensors never share a block that a read-modify-write would touch."""
    ram = spill_ram(board)
    if ram is not None:
        return ram
    return next((m for m in board.external_memories if m.block_size_bytes and not m.memory_mapped), None)


def _step_span(buffer: Buffer, num_steps: int) -> tuple[int, int]:
    return time_to_step(buffer.first_time, num_steps), time_to_step(buffer.last_time, num_steps)


def _slot_name(buffer: Buffer | PlannedBuffer, graph: Graph) -> str:
    if buffer.kind == "scratch" and buffer.op_index is not None:
        # An op may ask for several scratch buffers (TFLM's MEAN asks for three): one slot each.
        return f"{scratch_name(graph.main.ops[buffer.op_index].label, buffer.op_index)}.{buffer.name.split('@')[0]}"
    return buffer.name


def scratch_name(label: str, op_index: int) -> str:
    """Scratch buffers are named per op (op labels repeat across a model)."""
    return f"scratch[{label}]@op{op_index}"


def _live_top(slots: list[ActivationSlot], memory: str, num_steps: int) -> list[int]:
    top = [0] * num_steps
    for s in slots:
        if s.memory != memory:
            continue
        for step in range(s.first_step, s.last_step + 1):
            top[step] = max(top[step], s.offset_bytes + s.size_bytes)
    return top


def activation_memory_plan(graph: Graph, kernels: str, runtime: Runtime) -> MemoryPlan:
    """The arena plan an external strategy starts from, for the runtime that will run it."""
    if runtime == "tflm":
        return plan_memory(graph, planner="tflm", kernels=kernels)
    return plan_memory(graph, kernels=kernels, inplace_kinds=PARTITION_SAFE_INPLACE)


def layout_activations(graph: Graph, board: Board, sram_memory: str, sram_budget_bytes: int,
                       kernels: str = "cmsis-nn", runtime: Runtime = "tflm") -> ActivationLayout:
    """Activations in SRAM up to ``sram_budget_bytes``, the rest in external RAM (see module doc)."""
    memory_plan = activation_memory_plan(graph, kernels, runtime)
    order = list(memory_plan.order)
    steps = len(order)
    if memory_plan.arena_bytes <= sram_budget_bytes:
        slots = [ActivationSlot(_slot_name(b, graph) if b.kind == "scratch" else b.name, b.tensor_index, sram_memory, b.offset,
                                b.aligned_bytes, b.first_op, b.last_op) for b in memory_plan.buffers]
        by_name = {s.name: s for s in slots}
        return ActivationLayout(order, sram_memory, sram_budget_bytes, None, by_name,
                                _live_top(slots, sram_memory, steps), lower_bound_bytes=memory_plan.lower_bound_bytes)
    ram = spill_store(board)
    # Without in-place aliases from here on: a spilled tensor cannot share bytes with one in SRAM.
    buffers = [b for b in build_buffers(graph.main, order, kernels) if b.first_time >= 0]
    buffers = [Buffer(i, b.name, b.kind, b.size_bytes, b.first_time, b.last_time, b.tensor_index, b.op_index)
               for i, b in enumerate(buffers)]
    if ram is None:
        need = lower_bound(build_regions(buffers, []))
        slots = [ActivationSlot(_slot_name(b, graph), b.tensor_index, sram_memory, 0, b.aligned_bytes, *_step_span(b, steps))
                 for b in buffers]
        return ActivationLayout(order, sram_memory, sram_budget_bytes, None, {s.name: s for s in slots},
                                [need] * steps, False,
                                f"activations need {need} B of SRAM at their peak, the budget is "
                                f"{sram_budget_bytes} B and {board.id} has no external RAM to spill to",
                                memory_plan.lower_bound_bytes)
    keep, spilled = list(buffers), []
    bases: list[int] = []
    for _ in range(MAX_SPILLS):
        regions = build_regions(_renumber(keep), [])
        if lower_bound(regions) <= sram_budget_bytes:
            placed = place(regions, budget_s=0.05)
            if placed.arena_bytes <= sram_budget_bytes:
                bases = placed.bases
                break
        victim = _largest_at_peak(keep, sram_budget_bytes)
        if victim is None or victim.kind == "scratch" and not _spillable_scratch(victim):
            break
        keep.remove(victim)
        spilled.append(victim)
    else:
        bases = []
    if not bases and keep:
        need = lower_bound(build_regions(_renumber(keep), []))
        slots = [ActivationSlot(_slot_name(b, graph), b.tensor_index, sram_memory, 0, b.aligned_bytes, *_step_span(b, steps))
                 for b in buffers]
        return ActivationLayout(order, sram_memory, sram_budget_bytes, ram.name, {s.name: s for s in slots},
                                [need] * steps, False,
                                f"even after spilling {len(spilled)} activations to {ram.name}, one op's "
                                f"scratch and operands need {need} B of SRAM (budget {sram_budget_bytes} B)",
                                memory_plan.lower_bound_bytes)
    out: list[ActivationSlot] = []
    for b, base in zip(keep, _region_bases(keep, bases)):
        out.append(ActivationSlot(_slot_name(b, graph), b.tensor_index, sram_memory, base, b.aligned_bytes, *_step_span(b, steps)))
    if spilled:
        block = ram.block_size_bytes if not ram.memory_mapped else 0
        ext_regions = build_regions(_renumber(spilled, block), [])
        ext = place(ext_regions, budget_s=0.05)
        for b, base in zip(spilled, _region_bases(spilled, ext.bases)):
            if block and base % block:
                raise TinyOpsError("internal error: a tensor spilled to a block device does not start on a block")
            out.append(ActivationSlot(_slot_name(b, graph), b.tensor_index, ram.name, base, b.aligned_bytes, *_step_span(b, steps)))
    layout = ActivationLayout(order, sram_memory, sram_budget_bytes, ram.name, {s.name: s for s in out},
                              _live_top(out, sram_memory, steps), lower_bound_bytes=memory_plan.lower_bound_bytes)
    if layout.spilled_bytes > ram.size_bytes:
        layout.feasible = False
        layout.reason = (f"spilled activations need {layout.spilled_bytes} B of {ram.name}; "
                         f"it has {ram.size_bytes} B")
    return layout


def _renumber(buffers: list[Buffer], block_bytes: int = 0) -> list[Buffer]:
    """build_regions indexes buffers by key: keys must be positions in the list. With
    ``block_bytes`` every size is rounded up to whole blocks (offsets then stay on block bounds)."""
    size = (lambda n: -(-n // block_bytes) * block_bytes) if block_bytes else (lambda n: n)  # noqa: E731
    return [Buffer(i, b.name, b.kind, size(b.size_bytes), b.first_time, b.last_time, b.tensor_index, b.op_index)
            for i, b in enumerate(buffers)]


def _region_bases(buffers: list[Buffer], bases: list[int]) -> list[int]:
    """Without aliases every buffer is its own region, in list order."""
    if len(bases) != len(buffers):
        raise TinyOpsError("internal error: activation placement returned a different number of buffers")
    return bases


def _spillable_scratch(buffer: Buffer) -> bool:
    # Scratch (im2col columns) is the kernel's own working memory: it stays in SRAM.
    return False


def _largest_at_peak(buffers: list[Buffer], budget_bytes: int) -> Buffer | None:
    """The largest tensor live at a moment whose live bytes exceed the budget (else at the peak)."""
    last = max((b.last_time for b in buffers), default=0)
    live = [0] * (last + 2)
    for b in buffers:
        for t in range(max(b.first_time, 0), b.last_time + 1):
            live[t] += b.aligned_bytes
    over = {t for t, v in enumerate(live) if v > budget_bytes} or {max(range(len(live)), key=live.__getitem__)}
    candidates = [b for b in buffers if b.kind == "tensor"
                  and any(b.first_time <= t <= b.last_time for t in over)]
    return max(candidates, key=lambda b: (b.aligned_bytes, -b.key), default=None)
