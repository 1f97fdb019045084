"""Deployments from external memory: the shared set-up and the ``external-xip`` strategy.

Every external strategy stores the constants of the MAC ops (filters, biases) in the board's
non-volatile external memory (QSPI/OSPI NOR, or an SD card over SPI) and keeps the few constants
of other ops (reshape shapes, constant operands) in internal flash. Activations live in SRAM and
spill to external RAM when the arena does not fit (:mod:`tinyops.planning.activations`).

``external-xip``: the CPU reads the filters where they are, through the D-cache: in place from
memory-mapped flash, or from SDRAM after a boot-time copy. When the weights sit on a device the
CPU cannot address (an SD card), each op's constants are copied into SRAM by the CPU's driver
just before the op (Svoboda et al. §4): that is an overlay without overlap
(:func:`tinyops.planning.overlay.plan_overlay` with ``engine="cpu"``). Each variant the board
allows is simulated and the fastest is kept, so the choice comes from the cost model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tinyops.analysis.analyze import serialized_model_bytes
from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board, ExternalMemory
from tinyops.ir.graph import Graph, Op
from tinyops.ops import spec_for
from tinyops.planning.activations import ActivationLayout, layout_activations, scratch_name
from tinyops.planning.plan import (Access, Partition, Plan, PlanStep, _check_clock, arena_memory,
                                   make_accesses)
from tinyops.sim.cost_model import compute_cycles, op_counts
from tinyops.sim.memory_model import FLASH, memory_ports
from tinyops.sim.params import CoreParams, load_params

NONVOLATILE_KINDS = ("qspi-flash", "ospi-flash", "sdcard-spi")
MAC_CATEGORIES = ("conv", "depthwise", "fc")
IMAGE_ALIGN_BYTES = 32  # constants start on a cache line in the external image


@dataclass
class ExternalSetup:
    """What every external strategy decides first: memories, SRAM budget, activation layout."""

    graph: Graph
    board: Board
    kernels: str
    clock_mhz: float
    params: CoreParams
    weights_home: ExternalMemory | None  # non-volatile store of the MAC ops' constants
    sram_memory: str
    sram_budget_bytes: int
    layout: ActivationLayout
    external_constants: dict[str, int]  # tensor name -> bytes, MAC ops' constants
    flash_constants: dict[str, int]  # other ops' constants, left in internal flash
    reasons: list[str]

    @property
    def weights_bytes(self) -> int:
        return sum(self.external_constants.values())

    def model_name(self) -> str:
        return self.graph.source_path or self.graph.description or "<graph>"


def is_mac_op(op: Op) -> bool:
    return spec_for(op).category in MAC_CATEGORIES


def require_external(board: Board, strategy: str) -> None:
    if not board.external_memories:
        raise TinyOpsError(f"strategy {strategy} needs external memory; board {board.id} has none "
                           f"(use --strategy internal, or a board with QSPI/SDRAM/SD card)")


def sram_budget(board: Board, sram_limit_bytes: int | None) -> tuple[str, int]:
    """The SRAM run the arena and overlay buffers share, and its usable size."""
    have = board.largest_contiguous_sram_bytes
    if sram_limit_bytes is not None:
        if sram_limit_bytes <= 0:
            raise TinyOpsError(f"SRAM limit must be positive, got {sram_limit_bytes}")
        have = min(have, sram_limit_bytes)
    return arena_memory(board), have


def prepare(graph: Graph, board: Board, strategy: str, kernels: str = "cmsis-nn",
            clock_mhz: float | None = None, sram_limit_bytes: int | None = None) -> ExternalSetup:
    require_external(board, strategy)
    clock = _check_clock(board, clock_mhz)
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
    memory, budget = sram_budget(board, sram_limit_bytes)
    layout = layout_activations(graph, board, memory, budget, kernels)
    reasons: list[str] = []
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
    if len(graph.subgraphs) > 1:
        reasons.append("control-flow subgraphs are not planned (only the main subgraph is costed)")
    return ExternalSetup(graph, board, kernels, clock, params, home, memory, budget, layout, external, flash,
                         reasons)


def image_offsets(setup: ExternalSetup) -> dict[str, int]:
    """Offsets of the MAC ops' constants in the external image, in first-use order."""
    out: dict[str, int] = {}
    cursor = 0
    for op_index in setup.layout.order:
        for t in setup.graph.main.ops[op_index].constant_inputs:
            if t.name in setup.external_constants and t.name not in out:
                out[t.name] = cursor
                cursor += -(-t.size_bytes // IMAGE_ALIGN_BYTES) * IMAGE_ALIGN_BYTES
    return out


def activation_accesses(setup: ExternalSetup, op: Op, constant_memory: dict[str, str],
                        share: float = 1.0, skip_constants: bool = False) -> list[Access]:
    """Accesses of one op (or one output-channel share of it) with the layout's memories and offsets."""
    layout, params = setup.layout, setup.params
    counts = op_counts(op)
    scratch_key = scratch_name(op.label, setup.graph.main.op_index(op))
    scratch = layout.slots.get(scratch_key)
    memory_of = {name: slot.memory for name, slot in layout.slots.items()}
    memory_of.update(constant_memory)
    accesses = make_accesses(op, counts, memory_of, setup.sram_memory, setup.board.dcache_bytes, params,
                             scratch.size_bytes if scratch else 0, setup.sram_memory)
    out: list[Access] = []
    for acc in accesses:
        if acc.role in ("filter", "constant") and skip_constants and acc.tensor in setup.external_constants:
            continue
        if acc.role == "scratch":
            acc = replace(acc, tensor=scratch_key)
        slot = layout.slots.get(acc.tensor)
        offset = slot.offset_bytes if slot else acc.offset_bytes
        size, traffic = acc.size_bytes, acc.traffic_bytes
        if acc.role == "output" and share < 1.0:
            # An output-channel slice writes its share of the output (the input is re-read whole).
            traffic = int(round(traffic * share))
        out.append(replace(acc, offset_bytes=offset, size_bytes=size, traffic_bytes=traffic))
    return out


def finish_plan(setup: ExternalSetup, strategy: str, steps: list[PlanStep], transfers: list, external_bytes: dict[str, int],
                assumptions: dict[str, str], extra_sram_bytes: int = 0, reasons: list[str] | None = None) -> Plan:
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
    sram_bytes = max(setup.layout.sram_bytes, extra_sram_bytes)
    return Plan(
        model=setup.model_name(), board=board, strategy=strategy, kernels=setup.kernels,
        clock_mhz=setup.clock_mhz, params=setup.params, steps=steps, transfers=transfers,
        memories=memory_ports(board, setup.clock_mhz, setup.params), sram_bytes=sram_bytes,
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
            **assumptions,
        },
    )


def external_bytes_of(setup: ExternalSetup, weights_memory: str | None, copied_to: str | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    if setup.weights_home is not None:
        out[setup.weights_home.name] = setup.weights_bytes
    if copied_to:
        out[copied_to] = out.get(copied_to, 0) + setup.weights_bytes
    if setup.layout.spill_memory and setup.layout.spilled_bytes:
        out[setup.layout.spill_memory] = out.get(setup.layout.spill_memory, 0) + setup.layout.spilled_bytes
    return out


def boot_copy_target(setup: ExternalSetup) -> ExternalMemory | None:
    """External RAM that can take a boot-time copy of the weights next to the spilled activations."""
    for mem in setup.board.external_memories:
        if mem.kind in ("fmc-sdram", "fmc-sram") and mem.memory_mapped:
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
    steps: list[PlanStep] = []
    for k, op_index in enumerate(setup.layout.order):
        op = setup.graph.main.ops[op_index]
        accesses = []
        for acc in activation_accesses(setup, op, constant_memory):
            if acc.tensor in offsets:
                acc = replace(acc, offset_bytes=base + offsets[acc.tensor])
            accesses.append(acc)
        steps.append(PlanStep(k, op_index, op, op.label, op_counts(op), compute_cycles(op, setup.params),
                              [Partition(0, 1.0, tuple(accesses))]))
    how = (f"weights copied at boot from {setup.weights_home.name} to {memory}, read by the CPU through the "
           f"{setup.board.dcache_bytes} B D-cache" if copied and setup.weights_home else
           f"weights executed in place from memory-mapped {memory} through the {setup.board.dcache_bytes} B D-cache")
    ext = external_bytes_of(setup, memory, memory if copied else None)
    if copied:
        ext[memory] = base + setup.weights_bytes
    return finish_plan(setup, "external-xip", steps, [], ext, {"strategy": f"external-xip: {how}"})


def plan_external_xip(graph: Graph, board: Board, kernels: str = "cmsis-nn", clock_mhz: float | None = None,
                      sram_limit_bytes: int | None = None) -> Plan:
    """The fastest XIP variant the board allows, chosen by simulating each (see module doc)."""
    from tinyops.planning.overlay import plan_overlay
    from tinyops.sim.simulator import simulate

    setup = prepare(graph, board, "external-xip", kernels, clock_mhz, sram_limit_bytes)
    candidates: list[Plan] = []
    home = setup.weights_home
    if home is not None and home.memory_mapped:
        candidates.append(plan_xip_from(setup, home.name, copied=False))
    ram = boot_copy_target(setup)
    if ram is not None and home is not None:
        candidates.append(plan_xip_from(setup, ram.name, copied=True))
    if home is not None and not home.memory_mapped:
        # An SD card: the CPU's driver stages each op's constants in SRAM (no DMA overlap).
        staged = plan_overlay(graph, board, "v2", kernels, clock_mhz, sram_limit_bytes, engine="cpu", setup=setup)
        candidates.append(replace(staged, strategy="external-xip", assumptions={
            **staged.assumptions,
            "strategy": f"external-xip: {home.name} is not memory-mapped; the CPU copies each op's constants "
                        f"(in output-channel slices that fit free SRAM) just before computing on them"}))
    if not candidates:
        return plan_xip_from(setup, home.name if home else setup.sram_memory, copied=False)
    if len(candidates) == 1:
        return candidates[0]
    timed = [(simulate(p).latency_ms, i, p) for i, p in enumerate(candidates)]
    return min(timed, key=lambda t: (not t[2].feasible, t[0], t[1]))[2]


__all__ = ["ExternalSetup", "prepare", "plan_external_xip", "plan_xip_from", "require_external",
           "activation_accesses", "finish_plan", "image_offsets", "is_mac_op", "boot_copy_target",
           "external_bytes_of"]
