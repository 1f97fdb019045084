"""Deployments from external memory: the shared set-up and the ``external-xip`` strategy.

Every external strategy stores the constants of the MAC ops (filters, biases) in the board's
non-volatile external memory (QSPI/OSPI NOR, or an SD card over SPI) and keeps the few constants
of other ops (reshape shapes, constant operands) in internal flash. Activations live in SRAM and
spill to external RAM when the arena does not fit (:mod:`tinyops.planning.activations`).

``external-xip``: the CPU reads the filters where they are, through the D-cache: in place from
memory-mapped flash, or from SDRAM after a boot-time copy. When the weights sit on a device the
CPU cannot address (an SD card), each op's constants are copied into SRAM by the CPU's driver
just before the op (Svoboda et al. §4): that is an overlay without overlap
(:func:`tinyops.planning.overlay.plan_overlay` with ``engine="cpu"``). Every variant the board
allows is a candidate plan; the deployment driver simulates each once and keeps the fastest, so
the choice comes from the cost model.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field, replace

from tinyops.analysis.analyze import serialized_model_bytes
from tinyops.cost.cost_model import compute_cycles, op_counts
from tinyops.cost.memory_model import FLASH, memory_ports
from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board, ExternalMemory
from tinyops.ir.graph import Graph, Op
from tinyops.ir.memory import NONVOLATILE_KINDS, VOLATILE_KINDS
from tinyops.kernels.profile import CoreParams, load_params
from tinyops.planning.activations import ActivationLayout, ActivationSlot, layout_activations, scratch_name
from tinyops.planning.common import (PlanOptions, arena_memory, check_clock, is_mac_op, kernel_verdicts,
                                     make_accesses, runtime_overhead_bytes, sram_have_bytes, tensor_indices)
from tinyops.planning.plan import Access, BufferKind, Partition, PlacedBuffer, Plan, PlanStep, Transfer

IMAGE_ALIGN_BYTES = 32  # constants start on a cache line in the external image


@dataclass
class ExternalSetup:
    """What every external strategy decides first: memories, SRAM budget, activation layout."""

    graph: Graph
    board: Board
    options: PlanOptions
    clock_mhz: float
    params: CoreParams
    weights_home: ExternalMemory | None  # non-volatile store of the MAC ops' constants
    sram_memory: str
    sram_budget_bytes: int
    layout: ActivationLayout
    external_constants: dict[str, int]  # tensor name -> bytes, MAC ops' constants
    flash_constants: dict[str, int]  # other ops' constants, left in internal flash
    reasons: list[str]
    warnings: list[str]
    runtime_overhead_bytes: int
    runtime_overhead_note: str
    index_of: dict[int, int]  # id(tensor) -> tensor index in the main subgraph
    flash_offsets: dict[str, int] = field(default_factory=dict)  # other ops' constants in internal flash

    @property
    def kernels(self) -> str:
        return self.options.kernels

    @property
    def weights_bytes(self) -> int:
        return sum(self.external_constants.values())

    def model_name(self) -> str:
        return self.graph.source_path or self.graph.description or "<graph>"


def require_external(board: Board, strategy: str) -> None:
    if not board.external_memories:
        raise TinyOpsError(f"strategy {strategy} needs external memory; board {board.id} has none "
                           f"(use --strategy internal, or a board with QSPI/SDRAM/SD card)")


def prepare(graph: Graph, board: Board, strategy: str, options: PlanOptions | None = None) -> ExternalSetup:
    """Memories, SRAM budget (what the runtime's persistent allocations leave) and activation layout."""
    options = options or PlanOptions()
    kernels = options.kernels
    require_external(board, strategy)
    clock = check_clock(board, options.clock_mhz)
    params = load_params(board.core, kernels)
    homes = [m for m in board.external_memories if m.kind in NONVOLATILE_KINDS]
    # The largest-bandwidth non-volatile store holds the image.
    home = max(homes, key=lambda m: m.read_bandwidth_mb_s) if homes else None
    external: dict[str, int] = {}
    flash: dict[str, int] = {}
    for op in graph.main.ops:
        for t in op.constant_inputs:
            (external if is_mac_op(op) else flash)[t.name] = t.size_bytes
    for name in external:
        flash.pop(name, None)
    memory = arena_memory(board)
    overhead, overhead_note = runtime_overhead_bytes(graph, options.runtime, kernels)
    have = sram_have_bytes(board, options.sram_limit_bytes)
    budget = max(have - overhead, 0)
    reasons, warnings = kernel_verdicts(graph, kernels)
    if budget == 0:
        reasons.append(f"the runtime's persistent allocations ({overhead} B) leave no SRAM of the {have} B "
                       f"available for activations")
    layout = layout_activations(graph, board, memory, budget, kernels, options.runtime)
    if home is None:
        reasons.append(f"board {board.id} has no non-volatile external memory (QSPI/OSPI flash or SD card) "
                       f"for the weights")
    elif sum(external.values()) > home.size_bytes:
        reasons.append(f"model too big even for external memory: {sum(external.values())} B of weights, "
                       f"{home.name} holds {home.size_bytes} B")
    if sum(flash.values()) > board.internal_flash.size_bytes:
        reasons.append(f"constants of non-MAC ops need {sum(flash.values())} B of internal flash")
    if not layout.feasible and layout.reason:
        reasons.append(layout.reason)
    setup = ExternalSetup(graph, board, options, clock, params, home, memory, budget, layout, external, flash,
                          reasons, warnings, overhead, overhead_note, tensor_indices(graph.main))
    setup.flash_offsets = flash_offsets(setup)
    return setup


def image_offsets(setup: ExternalSetup) -> dict[str, int]:
    """Offsets of the MAC ops' constants in the external image, in first-use order."""
    return _first_use_offsets(setup, setup.external_constants)


def _first_use_offsets(setup: ExternalSetup, names: Container[str]) -> dict[str, int]:
    """Offsets of the constants named in ``names`` laid out one after another in an image, in the
    order the ops first use them."""
    out: dict[str, int] = {}
    cursor = 0
    for op_index in setup.layout.order:
        for t in setup.graph.main.ops[op_index].constant_inputs:
            if t.name in names and t.name not in out:
                out[t.name] = cursor
                cursor += -(-t.size_bytes // IMAGE_ALIGN_BYTES) * IMAGE_ALIGN_BYTES
    return out


def activation_accesses(setup: ExternalSetup, op: Op, constant_memory: dict[str, str],
                        share: float = 1.0, skip_constants: bool = False,
                        constant_offsets: dict[str, int] | None = None) -> list[Access]:
    """Accesses of one op (or one output-channel share of it) with the layout's memories and offsets."""
    layout, params = setup.layout, setup.params
    counts = op_counts(op)
    scratch_key = scratch_name(op.label, setup.graph.main.op_index(op))
    memory_of = {name: slot.memory for name, slot in layout.slots.items()}
    memory_of.update(constant_memory)
    accesses = list(make_accesses(op, counts, memory_of, setup.sram_memory, setup.board.dcache_bytes, params, 0,
                                  setup.sram_memory, setup.index_of))
    accesses += [Access(name, "scratch", slot.memory, slot.size_bytes, slot.size_bytes)
                 for name, slot in layout.slots.items() if name.startswith(scratch_key + ".")]
    out: list[Access] = []
    for acc in accesses:
        if acc.role in ("filter", "constant") and skip_constants and acc.tensor in setup.external_constants:
            continue
        slot = layout.slots.get(acc.tensor)
        offset = slot_offset(setup, slot) if slot else acc.offset_bytes
        if acc.role in ("filter", "constant"):
            offset = (constant_offsets or {}).get(acc.tensor, setup.flash_offsets.get(acc.tensor))
        size, traffic = acc.size_bytes, acc.traffic_bytes
        if acc.role == "output" and share < 1.0:
            # An output-channel slice writes its share of the output (the input is re-read whole).
            traffic = int(round(traffic * share))
        out.append(replace(acc, offset_bytes=offset, size_bytes=size, traffic_bytes=traffic))
    return out


def placed_buffers(setup: ExternalSetup, constant_memory: dict[str, str], offsets: dict[str, int]) -> list[PlacedBuffer]:
    """The memory map of the activations (SRAM or spilled), scratch and constants with fixed offsets."""
    out: list[PlacedBuffer] = []
    for name, slot in setup.layout.slots.items():
        kind: BufferKind = "tensor" if slot.tensor_index is not None else "scratch"
        out.append(PlacedBuffer(name, kind, slot.memory, slot_offset(setup, slot), slot.size_bytes, slot.first_step,
                                slot.last_step, tensor_index=slot.tensor_index))
    last = max(len(setup.layout.order) - 1, 0)
    for t in setup.graph.constant_tensors():
        if t.name in offsets and t.name in constant_memory:
            out.append(PlacedBuffer(t.name, "constant", constant_memory[t.name], offsets[t.name], t.size_bytes, 0, last,
                                    tensor_index=setup.index_of.get(id(t))))
    return out


def finish_plan(setup: ExternalSetup, strategy: str, steps: list[PlanStep], transfers: list[Transfer],
                external_bytes: dict[str, int], assumptions: dict[str, str], extra_sram_bytes: int = 0,
                reasons: list[str] | None = None, buffers: list[PlacedBuffer] | None = None) -> Plan:
    board = setup.board
    all_reasons = list(setup.reasons) + list(reasons or [])
    for name, used in external_bytes.items():
        mem = board.external(name)
        if mem is not None and used > mem.size_bytes:
            all_reasons.append(f"{name} needs {used} B; it has {mem.size_bytes} B")
    # The model's non-weight part (graph, metadata, other constants) stays in internal flash, whether
    # the model came from a file or was built in memory (zoo, explore).
    flash_bytes = max(sum(setup.flash_constants.values()),
                      serialized_model_bytes(setup.graph) - setup.weights_bytes)
    arena_bytes = max(setup.layout.sram_bytes, extra_sram_bytes)
    runtime = setup.options.runtime
    return Plan(
        model=setup.model_name(), board=board, strategy=strategy, kernels=setup.kernels,
        clock_mhz=setup.clock_mhz, params=setup.params, steps=steps, transfers=transfers,
        memories=memory_ports(board, setup.clock_mhz, setup.params),
        sram_bytes=arena_bytes + setup.runtime_overhead_bytes,
        flash_bytes=flash_bytes, external_bytes={k: v for k, v in external_bytes.items() if v},
        feasible=not all_reasons, reason="; ".join(all_reasons) or None,
        assumptions={
            "kernels": setup.kernels, "core": board.core, "clock_mhz": f"{setup.clock_mhz:g}",
            "sram_budget_bytes": f"{setup.sram_budget_bytes} in the SRAM run starting at {setup.sram_memory}",
            "weights": (f"MAC ops' constants ({setup.weights_bytes} B) stored in {setup.weights_home.name} "
                        f"({setup.weights_home.kind})" if setup.weights_home else "no external store"),
            "activations": (f"SRAM arena {setup.layout.sram_bytes} B"
                            + (f", {setup.layout.spilled_bytes} B spilled to {setup.layout.spill_memory}"
                               if setup.layout.spilled_bytes else "")),
            "params": f"{setup.params.core}/{setup.params.kernels} cost-model parameters ({setup.params.status})",
            "arena_runtime": (f"{runtime}: " + ("TFLM's own arena plan on the stored op order" if runtime == "tflm"
                                                else "tinyops' best plan (realised by tinyops' generated code only)")),
            "arena_bytes": "SRAM head: activations and scratch left in SRAM plus the overlay buffers",
            "runtime_overhead_bytes": setup.runtime_overhead_note,
            "sram_bytes": "arena_bytes + runtime_overhead_bytes (stack not counted)",
            **assumptions,
        },
        arena_runtime=runtime, arena_bytes=arena_bytes, runtime_overhead_bytes=setup.runtime_overhead_bytes,
        sram_lower_bound_bytes=setup.layout.lower_bound_bytes, buffers=list(buffers or []),
        warnings=list(setup.warnings),
        spilled_activation_bytes=({setup.layout.spill_memory: setup.layout.spilled_bytes}
                                  if setup.layout.spill_memory and setup.layout.spilled_bytes else {}),
    )


def external_bytes_of(setup: ExternalSetup, weights_memory: str | None, copied_to: str | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    if setup.weights_home is not None:
        out[setup.weights_home.name] = setup.weights_bytes
    if copied_to:
        out[copied_to] = out.get(copied_to, 0) + setup.weights_bytes
    spill, base = setup.layout.spill_memory, spill_base_bytes(setup)
    if spill and setup.layout.spilled_bytes:
        # Above the weight image (base) when they share the memory, else beside whatever is there.
        out[spill] = (base if base else out.get(spill, 0)) + setup.layout.spilled_bytes
    return out


def boot_copy_target(setup: ExternalSetup) -> ExternalMemory | None:
    """External RAM that can take a boot-time copy of the weights next to the spilled activations."""
    for mem in setup.board.external_memories:
        if mem.kind in VOLATILE_KINDS and mem.memory_mapped:
            spilled = setup.layout.spilled_bytes if setup.layout.spill_memory == mem.name else 0
            if setup.weights_bytes + spilled <= mem.size_bytes:
                return mem
    return None


def plan_xip_from(setup: ExternalSetup, memory: str, copied: bool) -> Plan:
    """Every MAC op reads its constants from ``memory`` (CPU-addressable) through the cache."""
    offsets = image_offsets(setup)
    # A boot copy sits above the spilled activations in the same RAM.
    base = setup.layout.spilled_bytes if copied and setup.layout.spill_memory == memory else 0
    base = -(-base // IMAGE_ALIGN_BYTES) * IMAGE_ALIGN_BYTES
    constant_memory = {name: memory for name in setup.external_constants}
    constant_memory.update({name: FLASH for name in setup.flash_constants})
    ext_offsets = {name: base + off for name, off in offsets.items()}
    steps: list[PlanStep] = []
    for k, op_index in enumerate(setup.layout.order):
        op = setup.graph.main.ops[op_index]
        accesses = activation_accesses(setup, op, constant_memory, constant_offsets=ext_offsets)
        counts = op_counts(op)
        steps.append(PlanStep(k, op_index, op, op.label, counts, compute_cycles(op, setup.params),
                              [Partition(0, 1.0, tuple(accesses), 0, counts.out_channels)]))
    buffers = placed_buffers(setup, constant_memory, {**ext_offsets, **setup.flash_offsets})
    how = (f"weights copied at boot from {setup.weights_home.name} to {memory}, read by the CPU through the "
           f"{setup.board.dcache_bytes} B D-cache" if copied and setup.weights_home else
           f"weights executed in place from memory-mapped {memory} through the {setup.board.dcache_bytes} B D-cache")
    ext = external_bytes_of(setup, memory, memory if copied else None)
    if copied:
        ext[memory] = base + setup.weights_bytes
    return finish_plan(setup, "external-xip", steps, [], ext, {"strategy": f"external-xip: {how}"},
                       buffers=buffers)


def flash_offsets(setup: ExternalSetup) -> dict[str, int]:
    """Offsets of the other ops' constants in the internal-flash image (first-use order)."""
    return _first_use_offsets(setup, setup.flash_constants)


def external_xip_candidates(graph: Graph, board: Board, options: PlanOptions | None = None) -> list[Plan]:
    """Every XIP variant the board allows (see module doc); the driver simulates each and keeps one."""
    from tinyops.planning.overlay import plan_overlay

    setup = prepare(graph, board, "external-xip", options)
    candidates: list[Plan] = []
    home = setup.weights_home
    if home is not None and home.memory_mapped:
        candidates.append(plan_xip_from(setup, home.name, copied=False))
    ram = boot_copy_target(setup)
    if ram is not None and home is not None:
        candidates.append(plan_xip_from(setup, ram.name, copied=True))
    if home is not None and not home.memory_mapped:
        # An SD card: the CPU's driver stages each op's constants in SRAM (no DMA overlap).
        staged = plan_overlay(graph, board, "v2", options, engine="cpu", setup=setup)
        candidates.append(replace(staged, strategy="external-xip", assumptions={
            **staged.assumptions,
            "strategy": f"external-xip: {home.name} is not memory-mapped; the CPU copies each op's constants "
                        f"(in output-channel slices that fit free SRAM) just before computing on them"}))
    if not candidates:
        candidates.append(plan_xip_from(setup, home.name if home else setup.sram_memory, copied=False))
    return [unreachable_spills(p, setup) for p in candidates + row_tiled_variants(setup, candidates)]


def spill_offsets(setup: ExternalSetup) -> dict[str, int]:
    """Offsets of the spilled activations in their external RAM."""
    return {name: slot_offset(setup, slot) for name, slot in setup.layout.slots.items()
            if slot.memory == setup.layout.spill_memory}


def spill_base_bytes(setup: ExternalSetup) -> int:
    """Where the spilled activations start in their memory: above the weight image when the weights
    live there too (the SD card), on a block boundary; 0 otherwise (a boot copy of the weights sits
    above the spilled activations instead)."""
    home = setup.weights_home
    if home is None or setup.layout.spill_memory != home.name:
        return 0
    image_end = max((off + -(-setup.external_constants[name] // IMAGE_ALIGN_BYTES) * IMAGE_ALIGN_BYTES
                     for name, off in image_offsets(setup).items()), default=0)
    block = home.block_size_bytes or IMAGE_ALIGN_BYTES
    return -(-image_end // block) * block


def slot_offset(setup: ExternalSetup, slot: ActivationSlot) -> int:
    """A layout slot's offset in its memory (spilled slots above ``spill_base_bytes``)."""
    return slot.offset_bytes + (spill_base_bytes(setup) if slot.memory == setup.layout.spill_memory else 0)


def unreachable_spills(plan: Plan, setup: ExternalSetup) -> Plan:
    """Mark ``plan`` infeasible where an op still reads or writes a spilled activation in place in a
    memory the CPU cannot address (the SD card): only row-tile copies reach it."""
    spill = setup.layout.spill_memory
    mem = setup.board.external(spill) if spill else None
    if mem is None or mem.memory_mapped:
        return plan
    stuck = [f"op {st.step} ({st.type})" for st in plan.steps
             if any(a.memory == spill and a.role in ("input", "output") for p in st.partitions for a in p.accesses)]
    if not stuck:
        return plan
    reason = (f"activations spilled to {spill} are reachable only by row-tile copies (the CPU cannot address "
              f"{mem.kind}); {len(stuck)} op(s) would access them in place: {', '.join(stuck[:4])}"
              + (" ..." if len(stuck) > 4 else ""))
    return replace(plan, feasible=False, reason="; ".join(r for r in (plan.reason, reason) if r))


def free_regions(setup: ExternalSetup, reserve_bytes: list[int] | None = None) -> list[tuple[int, int]]:
    """Per step, the SRAM [lo, hi) no activation live in the step uses: all of it above the live
    activations, or (``reserve_bytes``) only the top ``reserve_bytes[k]`` of the budget."""
    budget = setup.sram_budget_bytes
    out = []
    for k, top in enumerate(setup.layout.sram_top_per_step):
        lo = top if reserve_bytes is None else max(top, budget - reserve_bytes[k])
        out.append((lo, budget))
    return out


def row_tiled_variants(setup: ExternalSetup, plans: list[Plan]) -> list[Plan]:
    """Each plan again with its spilled activations moved in row tiles (an extra candidate; none
    when nothing is spilled or no op can be tiled)."""
    from tinyops.planning.row_tiles import tile_spilled_steps

    if not setup.layout.spilled_bytes or setup.layout.spill_memory is None:
        return []
    out = []
    for plan in plans:
        if any(tr.engine == "cpu" for tr in plan.transfers):
            continue  # CPU-staged weights (SD card): the tiles' buffers would share its free SRAM
        tiled = tile_spilled_steps(plan, setup.layout.spill_memory, spill_offsets(setup), setup.sram_memory,
                                   free_regions(setup))
        if tiled is not plan:
            out.append(tiled)
    return out


__all__ = ["ExternalSetup", "prepare", "external_xip_candidates", "plan_xip_from", "require_external",
           "activation_accesses", "finish_plan", "image_offsets", "boot_copy_target", "external_bytes_of",
           "placed_buffers", "flash_offsets", "free_regions", "row_tiled_variants", "spill_offsets",
           "spill_base_bytes", "slot_offset", "unreachable_spills"]
