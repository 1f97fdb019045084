"""The plan data model: the one concrete description of a deployment every stage after planning reads.

A :class:`Plan` says, for one model on one board with one kernel library and one runtime:

- ``steps``: the ops in execution order; each :class:`PlanStep` is split into :class:`Partition` s
  (one for an unpartitioned op) that compute output channels ``[channel_start, channel_stop)``;
  each partition lists its operands as :class:`Access` es (tensor index, role, memory, offset, size,
  bytes that cross the memory's bus);
- ``transfers``: copies the plan schedules (DMA or CPU-driven). ``needed_by`` is the partition that
  waits for the copy, ``after`` the partition whose end frees its destination;
- ``buffers``: the memory map: every activation tensor, scratch buffer, constant and overlay buffer
  as a :class:`PlacedBuffer` with a memory, an offset and a size (and the steps it is live in);
- the SRAM figures, each saying what it counts (``sram_lower_bound_bytes``, ``arena_bytes``,
  ``runtime_overhead_bytes``, ``sram_bytes`` = the whole), flash and external bytes, feasibility
  with its reason, ``warnings`` (ops costed under stated assumptions), and ``arena_runtime``: the
  runtime the arena layout assumes (``tflm``: stock TFLM can run it; ``tinyops``: only tinyops'
  generated code realises it).

Planners (:mod:`tinyops.planning.planners`) make plans and never simulate; the simulator reads them;
the C code generator emits them. Everything here is plain data: keep it stable (docs/tinyops.md,
"Plan data model").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from tinyops.cost.memory_model import AccessPattern
from tinyops.hw.board import Board
from tinyops.ir.graph import Op
from tinyops.kernels import Runtime

if TYPE_CHECKING:
    from tinyops.cost.cost_model import OpCounts
    from tinyops.cost.memory_model import MemoryPort
    from tinyops.kernels.profile import CoreParams

StrategyName = Literal["internal", "external-xip", "overlay-v1", "overlay-v2"]
STRATEGIES: tuple[StrategyName, ...] = get_args(StrategyName)
AUTO = "auto"
STRATEGY_CHOICES: tuple[str, ...] = (*STRATEGIES, AUTO)
# Strategies that need external memories (and, for the overlays, a DMA engine).
EXTERNAL_STRATEGIES: tuple[StrategyName, ...] = ("external-xip", "overlay-v1", "overlay-v2")
Role = Literal["filter", "constant", "input", "output", "scratch"]
ROLES: tuple[Role, ...] = get_args(Role)
BufferKind = Literal["tensor", "constant", "scratch", "overlay", "tile"]
Direction = Literal["in", "out"]
StepRef = tuple[int, int]  # (step, partition)
CPU_ENGINE = "cpu"


@dataclass(frozen=True)
class Access:
    """One operand of one partition: where it lives and how many bytes reach that memory."""

    tensor: str  # display label: the tensor's name, "name[c0:c1]" for a filter slice, "scratch[...]"
    role: Role
    memory: str
    size_bytes: int
    traffic_bytes: int  # bytes that actually cross the memory's bus (re-reads past the cache)
    offset_bytes: int | None = None  # in the memory (None: not fixed by this plan)
    tensor_index: int | None = None  # index in graph.main.tensors; None for scratch
    pattern: AccessPattern = "sequential"  # the order the kernel loads it in (strided: new row/command per load)


@dataclass(frozen=True)
class Partition:
    """A slice of an op's work: output channels [channel_start, channel_stop) (all of them when
    the op is not split) of output rows [row_start, row_stop) (all rows when both are 0), reading
    input rows [input_row_start, input_row_stop) (the rows plus the receptive field's halo; see
    :mod:`tinyops.ops.rows`). Row tiles of one channel slice follow each other top to bottom."""

    index: int
    share: float  # fraction of the op's arithmetic done in this partition
    accesses: tuple[Access, ...]
    channel_start: int = 0
    channel_stop: int = 0  # 0 with channel_start 0: the op has no channel axis to split
    row_start: int = 0
    row_stop: int = 0  # 0 with row_start 0: all output rows
    input_row_start: int = 0
    input_row_stop: int = 0
    recompute_macs: int = 0  # MACs this partition repeats because a neighbour computes them too

    @property
    def row_tiled(self) -> bool:
        return self.row_stop > 0


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
    tensor: str | None = None  # label of the access it fills (see Access.tensor)
    dst_offset_bytes: int | None = None
    src_offset_bytes: int | None = None
    tensor_index: int | None = None
    # "in": fills a buffer ``needed_by`` reads. "out": writes back an output tile; it starts after
    # ``after`` (the partition that wrote it) and must have landed before ``needed_by`` runs (the
    # partition that reuses its source buffer, or the next step).
    direction: Direction = "in"
    waits_for: tuple[int, ...] = ()  # transfer ids that must have landed before this one starts
    # The NHWC slice of an activation that a row-tile transfer moves (None: plain contiguous bytes).
    # Rows are ``row_bytes`` apart in the external copy; a channel slice is strided within a row.
    row_start: int | None = None
    row_stop: int | None = None
    channel_start: int | None = None
    channel_stop: int | None = None


@dataclass(frozen=True)
class PlacedBuffer:
    """One entry of the plan's memory map."""

    name: str
    kind: BufferKind
    memory: str
    offset_bytes: int
    size_bytes: int
    first_step: int  # live from this step ... (constants: 0)
    last_step: int  # ... to this one, inclusive (constants: the last step)
    tensor_index: int | None = None  # tensors and constants
    op_index: int | None = None  # scratch: the requesting op

    @property
    def end_bytes(self) -> int:
        return self.offset_bytes + self.size_bytes


@dataclass
class PlanStep:
    step: int
    op_index: int  # index in graph.main.ops
    op: Op
    type: str
    counts: OpCounts
    compute_cycles: float  # arithmetic with operands in SRAM (cost model)
    partitions: list[Partition]
    fused_group: int | None = None  # ops fused over the same row tiles share a group number

    @property
    def macs(self) -> int:
        return self.counts.macs

    @property
    def tiles(self) -> dict[str, int]:
        """How the op is split: distinct output-channel ranges x distinct output-row ranges."""
        channels = {(p.channel_start, p.channel_stop) for p in self.partitions}
        rows = {(p.row_start, p.row_stop) for p in self.partitions}
        return {"channels": len(channels), "rows": len(rows)}


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
    sram_bytes: int  # the whole SRAM the deployment needs: arena_bytes + runtime_overhead_bytes (+ decode buffer)
    flash_bytes: int
    external_bytes: dict[str, int]
    feasible: bool
    reason: str | None
    assumptions: dict[str, str] = field(default_factory=dict)
    arena_runtime: Runtime = "tflm"
    arena_bytes: int = 0  # the planned arena head (activations, scratch, overlay buffers)
    runtime_overhead_bytes: int = 0  # the runtime's persistent allocations (TFLM: arena tail)
    sram_lower_bound_bytes: int = 0  # live activations + scratch at the worst op: no plan does better
    buffers: list[PlacedBuffer] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    spilled_activation_bytes: dict[str, int] = field(default_factory=dict)  # external memory -> bytes

    def placement(self) -> dict[str, str]:
        """Tensor label -> memory, over the whole plan (the last placement wins for staged copies)."""
        out: dict[str, str] = {}
        for step in self.steps:
            for part in step.partitions:
                for acc in part.accesses:
                    out[acc.tensor] = acc.memory
        return out

    @property
    def overlay_buffer_bytes(self) -> int:
        """The most SRAM the overlay buffers take at any step (0 without overlays)."""
        return max((b.size_bytes for b in self.buffers if b.kind == "overlay"), default=0)

    @property
    def dma_bytes(self) -> int:
        """Bytes the plan copies with DMA engines (CPU-driven copies not counted)."""
        return sum(t.bytes for t in self.transfers if t.engine != CPU_ENGINE)

    @property
    def needs_dma(self) -> bool:
        return any(t.engine != CPU_ENGINE for t in self.transfers)


__all__ = ["AUTO", "Access", "BufferKind", "CPU_ENGINE", "Direction", "EXTERNAL_STRATEGIES", "Partition", "PlacedBuffer", "Plan",
           "PlanStep", "ROLES", "Role", "STRATEGIES", "STRATEGY_CHOICES", "StepRef", "StrategyName", "Transfer"]
