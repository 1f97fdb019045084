"""Deployment plans: for every op, where each operand lives, how the op is partitioned and which
transfers (DMA or CPU-driven) bring data where the CPU needs it. The simulator executes a plan.

Strategies produce plans. This module has the ``internal`` strategy (the TFLM deployment:
weights in internal flash, activations in one SRAM arena). The external-memory strategies
(external-xip, overlay-v1/v2) fill the same structures: they put filters in QSPI/SDRAM, split
ops into :class:`Partition` slices along output channels, and add :class:`Transfer` s whose
``needed_by``/``after`` edges let DMA prefetch slice i+1 into an overlay buffer while the CPU
computes slice i.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from tinyops.analysis.analyze import Analysis, analyze
from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board
from tinyops.ir.graph import Graph, Op, Tensor
from tinyops.ops import spec_for
from tinyops.sim.cost_model import OpCounts, compute_cycles, op_counts
from tinyops.sim.memory_model import FLASH, MemoryPort, fastest_sram, memory_ports, operand_traffic_bytes
from tinyops.sim.params import CoreParams, load_params

STRATEGIES: tuple[str, ...] = ("internal", "external-xip", "overlay-v1", "overlay-v2", "auto")
ROLES = ("filter", "constant", "input", "output", "scratch")
StepRef = tuple[int, int]  # (step, partition)


@dataclass(frozen=True)
class Access:
    """One operand of one op (or partition): where it lives and how many bytes reach that memory."""

    tensor: str
    role: str  # filter | constant | input | output | scratch
    memory: str
    size_bytes: int
    traffic_bytes: int  # bytes that actually cross the memory's bus (re-reads past the cache)
    offset_bytes: int | None = None  # in the memory, when the plan fixes it


@dataclass(frozen=True)
class Partition:
    """A slice of an op's work; the internal strategy has one per op with share 1."""

    index: int
    share: float  # fraction of the op's arithmetic done in this partition
    accesses: tuple[Access, ...]


@dataclass(frozen=True)
class Transfer:
    """A copy the plan schedules: DMA (overlaps the CPU) or CPU-driven (e.g. a polled SPI driver)."""

    id: int
    src: str
    dst: str
    bytes: int
    engine: str  # a DMA engine of the board (e.g. "DMA2") or "cpu"
    needed_by: StepRef  # the partition whose compute waits for this transfer
    after: StepRef | None = None  # the partition whose end frees the destination buffer
    tensor: str | None = None
    dst_offset_bytes: int | None = None


@dataclass
class PlanStep:
    step: int
    op_index: int
    op: Op
    type: str
    counts: OpCounts
    compute_cycles: float  # arithmetic with operands in SRAM (cost model)
    partitions: list[Partition]

    @property
    def macs(self) -> int:
        return self.counts.macs


@dataclass
class Plan:
    model: str
    board: Board
    strategy: str
    kernels: str
    clock_mhz: float
    params: CoreParams
    steps: list[PlanStep]
    transfers: list[Transfer]
    memories: dict[str, MemoryPort]
    sram_bytes: int
    flash_bytes: int
    external_bytes: dict[str, int]
    feasible: bool
    reason: str | None
    assumptions: dict[str, str] = field(default_factory=dict)

    def placement(self) -> dict[str, str]:
        """Tensor name -> memory, over the whole plan (the last placement wins for staged copies)."""
        out: dict[str, str] = {}
        for step in self.steps:
            for part in step.partitions:
                for acc in part.accesses:
                    out[acc.tensor] = acc.memory
        return out


def _tensor_label(tensor: Tensor, index: int) -> str:
    return tensor.name or f"t{index}"


def _roles(op: Op) -> list[tuple[Tensor, str]]:
    """Operands of an op with their roles; the filter is input 1 of MAC ops."""
    out: list[tuple[Tensor, str]] = []
    mac_op = spec_for(op).category in ("conv", "depthwise", "fc")
    for i, tensor in enumerate(op.inputs):
        if tensor is None:
            continue
        if tensor.is_constant:
            out.append((tensor, "filter" if mac_op and i == 1 else "constant"))
        else:
            out.append((tensor, "input"))
    out.extend((t, "output") for t in op.outputs)
    return out


def arena_memory(board: Board) -> str:
    """The SRAM region where a TFLM arena starts: the first region of the largest contiguous run."""
    regions = sorted((r for r in board.sram_regions if r.usable_for_data), key=lambda r: r.base)
    best_name, best, run, start, end = regions[0].name, 0, 0, regions[0].name, None
    for r in regions:
        if r.base == end:
            run += r.size_bytes
        else:
            run, start = r.size_bytes, r.name
        end = r.end
        if run > best:
            best, best_name = run, start
    return best_name


def _check_clock(board: Board, clock_mhz: float | None) -> float:
    clock = float(clock_mhz) if clock_mhz is not None else float(board.max_clock_mhz)
    if not 0 < clock <= board.max_clock_mhz:
        raise TinyOpsError(f"--clock-mhz {clock:g} is outside (0, {board.max_clock_mhz:g}] MHz "
                           f"for board {board.id}")
    return clock


def make_accesses(op: Op, counts: OpCounts, memory_of: dict[str, str], default_memory: str,
                  cache_bytes: int, params: CoreParams, scratch_bytes: int,
                  scratch_memory: str) -> tuple[Access, ...]:
    accesses: list[Access] = []
    for tensor, role in _roles(op):
        name = tensor.name
        memory = memory_of.get(name, default_memory)
        size = tensor.size_bytes
        accesses.append(Access(name, role, memory, size,
                               operand_traffic_bytes(counts, role, size, cache_bytes, params)))
    if scratch_bytes:
        accesses.append(Access(f"scratch[{op.label}]", "scratch", scratch_memory, scratch_bytes,
                               scratch_bytes))
    return tuple(accesses)


def plan_internal(graph: Graph, board: Board, kernels: str = "cmsis-nn",
                  clock_mhz: float | None = None, analysis: Analysis | None = None) -> Plan:
    """TFLM deployment: constants in internal flash, activations and scratch in one SRAM arena."""
    clock = _check_clock(board, clock_mhz)
    params = load_params(board.core, kernels)
    if analysis is None:
        flash_bytes = None
        if graph.source_path and Path(graph.source_path).is_file():
            flash_bytes = Path(graph.source_path).stat().st_size
        analysis = analyze(graph, board, kernels=kernels, flash_bytes=flash_bytes)
    arena = arena_memory(board)
    memory_of = {t.name: FLASH for t in graph.constant_tensors()}
    cache = board.dcache_bytes
    steps: list[PlanStep] = []
    for step, (op, info) in enumerate(zip(graph.main.ops, analysis.ops)):
        counts = op_counts(op)
        accesses = make_accesses(op, counts, memory_of, arena, cache, params, info.scratch_bytes, arena)
        steps.append(PlanStep(step, step, op, op.label, counts, compute_cycles(op, params),
                              [Partition(0, 1.0, accesses)]))
    totals = analysis.totals
    sram_needed = totals.sram_lower_bound_bytes
    sram_have = board.largest_contiguous_sram_bytes
    flash_have = board.internal_flash.size_bytes
    reasons = []
    if sram_needed > sram_have:
        reasons.append(f"activations + scratch need {sram_needed} B of SRAM; the largest contiguous "
                       f"SRAM block of {board.id} has {sram_have} B")
    if totals.flash_bytes > flash_have:
        reasons.append(f"the model needs {totals.flash_bytes} B of flash; {board.id} has {flash_have} B")
    if len(graph.subgraphs) > 1:
        reasons.append("control-flow subgraphs are not planned (only the main subgraph is costed)")
    return Plan(
        model=graph.source_path or graph.description or "<graph>",
        board=board, strategy="internal", kernels=kernels, clock_mhz=clock, params=params,
        steps=steps, transfers=[], memories=memory_ports(board, clock, params),
        sram_bytes=sram_needed, flash_bytes=totals.flash_bytes, external_bytes={},
        feasible=not reasons, reason="; ".join(reasons) or None,
        assumptions={
            "strategy": "internal: TFLM deployment, weights and constants in internal flash, "
                        f"activations and scratch in one arena starting in {arena}",
            "kernels": kernels, "core": board.core, "clock_mhz": f"{clock:g}",
            "sram_bytes": "arena lower bound: live activations + the op's scratch + state "
                          "(TFLM's own bookkeeping not counted)",
            "flash_bytes": "the serialized model (application code and runtime not counted)",
            "params": f"{params.core}/{params.kernels} cost-model parameters ({params.status})",
        },
    )


def with_constants_in(plan: Plan, memory: str, staging: str | None = None, engine: str = "cpu") -> Plan:
    """The plan with every op's constants moved to ``memory``.

    If the CPU cannot load from ``memory`` (an SPI SD card), each op's constants are copied into
    ``staging`` SRAM by ``engine`` just before the op, as Svoboda et al.'s SD-card deployment does.
    """
    if memory not in plan.memories:
        raise TinyOpsError(f"board {plan.board.id} has no memory {memory!r}; "
                           f"known: {', '.join(sorted(plan.memories))}")
    port = plan.memories[memory]
    stage = staging or arena_memory(plan.board)
    transfers: list[Transfer] = []
    steps: list[PlanStep] = []
    for st in plan.steps:
        parts = []
        for part in st.partitions:
            accesses = []
            for acc in part.accesses:
                if acc.role in ("filter", "constant"):
                    if port.cpu_addressable:
                        acc = replace(acc, memory=memory)
                    else:
                        transfers.append(Transfer(len(transfers), memory, stage, acc.size_bytes, engine,
                                                  (st.step, part.index), tensor=acc.tensor))
                        acc = replace(acc, memory=stage)
                accesses.append(acc)
            parts.append(replace(part, accesses=tuple(accesses)))
        steps.append(replace(st, partitions=parts))
    ext = dict(plan.external_bytes)
    if port.external:
        moved = {a.tensor: a.size_bytes for s in plan.steps for p in s.partitions for a in p.accesses
                 if a.role in ("filter", "constant")}
        ext[memory] = ext.get(memory, 0) + sum(moved.values())
    return replace(plan, steps=steps, transfers=transfers, external_bytes=ext,
                   strategy=f"{plan.strategy}+constants-in-{memory}",
                   assumptions={**plan.assumptions, "constants": f"in {memory}"
                                + ("" if port.cpu_addressable else f", copied to {stage} by {engine} before each op")})


def build_plan(graph: Graph, board: Board, strategy: str = "internal", kernels: str = "cmsis-nn",
               clock_mhz: float | None = None) -> Plan:
    if strategy == "internal":
        return plan_internal(graph, board, kernels, clock_mhz)
    if strategy in STRATEGIES:
        from tinyops.planning.strategies import build  # the external strategies (issue #6)

        return build(graph, board, strategy, kernels, clock_mhz)
    raise TinyOpsError(f"unknown strategy {strategy!r}; available: {', '.join(STRATEGIES)}")


def compute_bound_cycles(plan: Plan) -> float:
    """Cycles with every operand in the fastest SRAM: same kernels, same clock, no transfers."""
    fastest = plan.memories[fastest_sram(plan.board)]
    stall = fastest.cpu_read_stall_cycles_per_byte or 0.0
    total = 0.0
    for st in plan.steps:
        unique = sum(a.size_bytes for a in st.partitions[0].accesses)
        total += st.compute_cycles + stall * unique
    return total
