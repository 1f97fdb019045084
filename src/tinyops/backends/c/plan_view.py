"""The one place the C generator reads plans: a :class:`~tinyops.planning.plan.Plan` (and, for
the ``internal`` strategy, the :class:`~tinyops.memory.plan.MemoryPlan` of the chosen arena planner)
turned into the layout code generation needs.

Every tensor the arena holds gets a byte offset, every op a list of partitions with output-channel
ranges, every DMA transfer a destination offset and the partition that waits for it, and every
constant the board memory the plan stores it in: all read from the plan's concrete fields
(``Partition.channel_start``/``channel_stop``, ``Access.tensor_index``/``offset_bytes``,
``Transfer.tensor_index``/``dst_offset_bytes``). Plans are made for the ``tinyops`` kernel library
and runtime (its scratch rules, every in-place kind, no interpreter overhead).

Strategies:
- ``internal``: the arena of the memory planner (``tflm``: TFLM's greedy plan, ``best``: ours with
  in-place ops), constants in internal flash, one partition per op.
- ``external-xip`` / ``overlay-v1`` / ``overlay-v2``: the plan's activation layout (offsets on its
  accesses), constants where its accesses put them, overlay partitions and transfers as planned.
  Row-tiled candidates (activations streamed through SRAM tiles) are not executed by the generator
  yet: the fastest feasible candidate without row tiles is used, and a strategy that only has
  row-tiled plans is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyops.errors import TinyOpsError
from tinyops.hw.board import FLASH_NAME, Board
from tinyops.ir.graph import Graph, Op, Tensor
from tinyops.memory.plan import PLANNERS, MemoryPlan, plan_memory
from tinyops.ops import spec_for
from tinyops.planning.common import MAC_CATEGORIES, PlanOptions, arena_memory
from tinyops.planning.plan import Partition, Plan, StepRef
from tinyops.planning.planners import candidates
from tinyops.planning.verify import check
from tinyops.sim.simulator import simulate

KERNELS = "tinyops"
ARENA_ALIGN_BYTES = 16


@dataclass(frozen=True)
class TensorSlot:
    index: int
    name: str
    offset_bytes: int  # in the arena
    size_bytes: int


@dataclass(frozen=True)
class ScratchSlot:
    name: str
    offset_bytes: int
    size_bytes: int


@dataclass(frozen=True)
class TransferView:
    id: int
    tensor_index: int  # the filter whose channel slice travels
    channel_lo: int
    channel_hi: int
    source_memory: str  # board memory the slice is copied from
    dst_offset_bytes: int  # in the arena (the overlay buffer)
    plan_bytes: int  # what the plan moves (filter + bias slice); the C code moves the filter rows
    needed_by: StepRef
    after: StepRef | None  # the partition whose end frees the destination


@dataclass(frozen=True)
class PartitionView:
    index: int
    channel_lo: int
    channel_hi: int  # exclusive; 0..out_channels for an unpartitioned op
    overlay_offset_bytes: int | None  # filter rows read from the arena here (after the transfer)
    transfer: int | None


@dataclass(frozen=True)
class StepView:
    step: int
    op_index: int
    op: Op
    partitions: tuple[PartitionView, ...]
    scratch: tuple[ScratchSlot, ...]
    inplace_kind: str | None
    # Arena byte ranges in use while this step runs (None: not known, e.g. around overlay buffers).
    busy: tuple[tuple[int, int], ...] | None = None

    def free_gap(self, size_bytes: int, arena_bytes: int, align_bytes: int = 16) -> int | None:
        """The lowest aligned arena offset with ``size_bytes`` free during this step."""
        if self.busy is None:
            return None
        cursor = 0
        for lo, hi in sorted(self.busy):
            if lo - cursor >= size_bytes:
                return cursor
            cursor = max(cursor, -(-hi // align_bytes) * align_bytes)
        return cursor if arena_bytes - cursor >= size_bytes else None


@dataclass
class DeploymentView:
    model: str
    graph: Graph
    board: Board
    strategy: str
    planner: str
    arena_memory: str
    arena_bytes: int
    tensors: dict[int, TensorSlot]
    constant_memory: dict[int, str]  # tensor index -> board memory ("flash", "qspi", "sdram"...)
    boot_copies: dict[str, str]  # external RAM -> the non-volatile memory its image is copied from
    steps: list[StepView]
    transfers: list[TransferView]
    plan: Plan
    prediction: dict[str, int] = field(default_factory=dict)  # what the plan predicts, bytes
    label: str = ""  # where the code is for, in comments (the board id unless set)

    def __post_init__(self) -> None:
        self.label = self.label or self.board.id

    def step_of_op(self, op_index: int) -> StepView:
        return next(s for s in self.steps if s.op_index == op_index)


def out_channels(op: Op) -> int:
    out = op.outputs[0] if op.outputs else None
    return int(out.shape[-1]) if out is not None and out.shape else 1


def _whole(op: Op) -> tuple[PartitionView, ...]:
    return (PartitionView(0, 0, out_channels(op), None, None),)


def _sram_for_plan(graph: Graph, board: Board, reserve_bytes: int) -> int:
    from tinyops.backends.c.targets import sram_run

    return max(sram_run(board)[2] - reserve_bytes, 1)


def _row_tiled(plan: Plan) -> bool:
    return (any(p.row_tiled for st in plan.steps for p in st.partitions)
            or any(b.kind == "tile" for b in plan.buffers)
            or any(t.direction == "out" or t.row_start is not None for t in plan.transfers))


def choose_plan(graph: Graph, board: Board, strategy: str, options: PlanOptions) -> Plan:
    """The strategy's fastest feasible candidate that the generator can execute (no row tiles)."""
    plans = candidates(graph, board, strategy, options)
    flat = [p for p in plans if not _row_tiled(p)]
    if not flat:
        raise TinyOpsError(f"every {strategy} plan for {board.id} streams activations through SRAM row tiles, "
                           f"which generate cannot execute yet; try another --strategy")
    feasible = [p for p in flat if p.feasible]
    if len(feasible) > 1:
        return min(feasible, key=lambda p: simulate(p).latency_ms)
    return feasible[0] if feasible else flat[0]


def view(graph: Graph, board: Board, strategy: str = "internal", planner: str = "best",
         inplace_kinds: tuple[str, ...] | None = None, reserve_bytes: int = 8192,
         check_fit: bool = True) -> DeploymentView:
    """The concrete layout of ``strategy`` on ``board`` (``planner`` picks the internal arena).

    External strategies are planned with ``reserve_bytes`` (stack, .bss) kept out of the SRAM the
    plan may fill; the kernels' scratch is part of the plan (the tinyops library's scratch rules).
    """
    if len(graph.subgraphs) > 1:
        raise TinyOpsError("the model has control-flow subgraphs; generate supports one subgraph")
    from tinyops.backends.c.emit import check_supported

    check_supported(graph)  # an op without a C kernel is refused first, with its kind and index
    if planner not in PLANNERS:
        raise TinyOpsError(f"unknown planner {planner!r}; choose one of {', '.join(PLANNERS)}")
    # The plan may give overlay buffers every SRAM byte the activations leave; the firmware also
    # needs its stack and .bss there.
    limit = None if strategy == "internal" else _sram_for_plan(graph, board, reserve_bytes)
    plan = choose_plan(graph, board, strategy, PlanOptions(kernels=KERNELS, runtime="tinyops",
                                                            sram_limit_bytes=limit))
    if check_fit and not plan.feasible:
        raise TinyOpsError(f"the {plan.strategy} plan does not fit {board.id}: {plan.reason}")
    if plan.feasible:
        check(plan)  # no overlapping buffers, every transfer waited for before its data is read
    if plan.strategy == "internal":
        return _internal_view(graph, board, plan, planner, inplace_kinds)
    return _external_view(graph, board, plan)


def _internal_view(graph: Graph, board: Board, plan: Plan, planner: str,
                   inplace_kinds: tuple[str, ...] | None) -> DeploymentView:
    memory = plan_memory(graph, planner=planner, kernels=KERNELS, inplace_kinds=inplace_kinds)
    subgraph = graph.main
    tensors = {b.tensor_index: TensorSlot(b.tensor_index, b.name, b.offset, b.size_bytes)
               for b in memory.tensors if b.tensor_index is not None}
    kinds = {a.op_index: a.kind for a in memory.aliases}
    scratch: dict[int, list[ScratchSlot]] = {}
    for b in memory.scratch:
        if b.op_index is not None:
            scratch.setdefault(b.op_index, []).append(ScratchSlot(b.name, b.offset, b.size_bytes))
    busy: list[list[tuple[int, int]]] = [[] for _ in memory.order]
    for b in memory.buffers:
        for k in range(max(b.first_op, 0), min(b.last_op, len(busy) - 1) + 1):
            busy[k].append((b.offset, b.offset + b.aligned_bytes))
    steps = [StepView(k, i, subgraph.ops[i], _whole(subgraph.ops[i]), tuple(scratch.get(i, ())), kinds.get(i),
                      tuple(busy[k])) for k, i in enumerate(memory.order)]
    constants = {i: FLASH_NAME for i, t in enumerate(subgraph.tensors) if t.is_constant}
    return DeploymentView(plan.model, graph, board, "internal", planner, arena_memory(board), memory.arena_bytes,
                          tensors, constants, {}, steps, [], plan,
                          _prediction(plan, memory.arena_bytes, memory))


def _prediction(plan: Plan, arena_bytes: int, memory: MemoryPlan | None) -> dict[str, int]:
    out = {"arena_bytes": arena_bytes, "plan_sram_bytes": plan.sram_bytes, "plan_flash_bytes": plan.flash_bytes}
    out.update({f"plan_{name}_bytes": size for name, size in plan.external_bytes.items()})
    if memory is not None:
        out["tflm_arena_bytes"] = memory.tflm_arena_bytes
    return out


def _channels(op: Op, part: Partition) -> tuple[int, int]:
    if part.channel_stop > part.channel_start:
        return part.channel_start, part.channel_stop
    return 0, out_channels(op)


def _external_view(graph: Graph, board: Board, plan: Plan) -> DeploymentView:
    subgraph = graph.main
    sram = arena_memory(board)
    tensors: dict[int, TensorSlot] = {}
    constants = {i: FLASH_NAME for i, t in enumerate(subgraph.tensors) if t.is_constant}
    steps: list[StepView] = []
    transfers_by_ref = {t.needed_by: t for t in plan.transfers}
    transfers: list[TransferView] = []
    for st in plan.steps:
        op = st.op
        parts: list[PartitionView] = []
        scratch: list[ScratchSlot] = []
        for part in st.partitions:
            lo, hi = _channels(op, part)
            overlay = None
            for acc in part.accesses:
                if acc.role == "scratch":
                    if acc.offset_bytes is not None and part.index == 0:
                        scratch.append(ScratchSlot(acc.tensor, acc.offset_bytes, acc.size_bytes))
                    continue
                index = acc.tensor_index
                if index is None:
                    raise TinyOpsError(f"the plan gives {acc.tensor!r} of op {st.op_index} no tensor index")
                if acc.role in ("filter", "constant"):
                    if acc.memory == sram:
                        if acc.offset_bytes is None:
                            raise TinyOpsError(f"overlay slice {acc.tensor} has no buffer offset in the plan")
                        overlay = acc.offset_bytes
                    else:
                        constants[index] = acc.memory
                    continue
                if acc.memory != sram:
                    raise TinyOpsError(f"activation {acc.tensor!r} is planned in {acc.memory}; generate supports "
                                       f"activations in the SRAM arena only (no spilling to external RAM)")
                if acc.offset_bytes is None:
                    raise TinyOpsError(f"the plan gives activation {acc.tensor!r} no arena offset")
                tensors[index] = TensorSlot(index, acc.tensor, acc.offset_bytes, subgraph.tensors[index].size_bytes)
            transfer = transfers_by_ref.get((st.step, part.index))
            transfer_id = None
            if transfer is not None and overlay is not None:
                filt = _filter_index(op, subgraph.tensors)
                if transfer.tensor_index != filt:
                    raise TinyOpsError(f"transfer {transfer.id} of op {st.op_index} moves a constant other than "
                                       f"its filter; generate overlays filters only")
                if transfer.dst_offset_bytes != overlay:
                    raise TinyOpsError(f"transfer {transfer.id} lands at {transfer.dst_offset_bytes}, but op "
                                       f"{st.op_index} reads its filter slice at {overlay}")
                transfer_id = transfer.id
                transfers.append(TransferView(transfer.id, filt, lo, hi, transfer.src, overlay,
                                              transfer.bytes, transfer.needed_by, transfer.after))
            if overlay is not None and transfer_id is None:
                raise TinyOpsError(f"overlay slice of op {st.op_index} has no transfer in the plan")
            parts.append(PartitionView(part.index, lo, hi, overlay, transfer_id))
        steps.append(StepView(st.step, st.op_index, op, tuple(parts), tuple(scratch), None))
    for moved in transfers:
        constants[moved.tensor_index] = moved.source_memory
    boot = {}
    for memory in set(constants.values()):
        ext = next((m for m in board.external_memories if m.name == memory), None)
        if ext is not None and ext.volatile:
            home = next((m.name for m in board.external_memories if not m.volatile and m.memory_mapped), None)
            if home is None:
                raise TinyOpsError(f"weights in {memory} need a non-volatile image to copy from at boot")
            boot[memory] = home
    ends = [(t.offset_bytes + t.size_bytes, t.name) for t in tensors.values()]
    ends += [(t.dst_offset_bytes + t.plan_bytes, f"overlay slice of transfer {t.id}") for t in transfers]
    ends += [(s.offset_bytes + s.size_bytes, s.name) for st in steps for s in st.scratch]
    end, what = max(ends, default=(0, ""))
    if end > plan.arena_bytes:
        raise TinyOpsError(f"the {plan.strategy} plan places {what} up to byte {end}, beyond its "
                           f"{plan.arena_bytes} B arena")
    arena = -(-plan.arena_bytes // ARENA_ALIGN_BYTES) * ARENA_ALIGN_BYTES
    return DeploymentView(plan.model, graph, board, plan.strategy, "plan", sram, arena, tensors, constants, boot,
                          steps, transfers, plan, _prediction(plan, arena, None))


def _filter_index(op: Op, tensors: list[Tensor]) -> int:
    if spec_for(op).category not in MAC_CATEGORIES or op.input(1) is None:
        raise TinyOpsError(f"{op.label}: the plan overlays the constants of an op without a filter")
    filt = op.input(1)
    return next(i for i, t in enumerate(tensors) if t is filt)


__all__ = ["DeploymentView", "StepView", "PartitionView", "TransferView", "TensorSlot", "ScratchSlot", "view",
           "PLANNERS", "choose_plan", "out_channels"]
