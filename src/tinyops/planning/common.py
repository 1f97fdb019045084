"""What every planner shares: options, the clock check, operand roles and accesses, the kernel
library's verdict on each op, the SRAM budget and the runtime's persistent SRAM."""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.cost.cost_model import OpCounts
from tinyops.cost.memory_model import FLASH, access_pattern, fastest_sram, operand_traffic_bytes
from tinyops.errors import TinyOpsError
from tinyops.analysis.analyze import Analysis
from tinyops.hw.board import Board
from tinyops.ir.graph import Graph, Op, Subgraph, Tensor
from tinyops.kernels import Runtime, kernel_library
from tinyops.kernels.profile import CoreParams
from tinyops.memory.runtime_overhead import CORTEX_M_ABI, tflm_runtime_overhead
from tinyops.ops import spec_for
from tinyops.planning.plan import Access, Plan, Role

MAC_CATEGORIES = ("conv", "depthwise", "fc")
TARGET_POINTER_BYTES = 4  # Cortex-M: 32-bit pointers in TFLM's persistent structures


@dataclass(frozen=True)
class PlanOptions:
    """What the user chose besides model and board (one object, so every planner takes the same)."""

    kernels: str = "cmsis-nn"
    clock_mhz: float | None = None
    sram_limit_bytes: int | None = None
    runtime: Runtime = "tflm"

    def __post_init__(self) -> None:
        kernel_library(self.kernels)  # a user error for an unknown library
        if self.sram_limit_bytes is not None and self.sram_limit_bytes <= 0:
            raise TinyOpsError(f"SRAM limit must be positive, got {self.sram_limit_bytes}")


def check_clock(board: Board, clock_mhz: float | None) -> float:
    clock = float(clock_mhz) if clock_mhz is not None else float(board.clock_mhz)
    if not 0 < clock <= board.max_clock_mhz:
        raise TinyOpsError(f"--clock-mhz {clock:g} is outside (0, {board.max_clock_mhz:g}] MHz "
                           f"for board {board.id}")
    return clock


def arena_memory(board: Board) -> str:
    """The SRAM region where an arena starts: the first region of the largest contiguous run."""
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


def sram_have_bytes(board: Board, sram_limit_bytes: int | None) -> int:
    """SRAM a deployment may use: the largest contiguous run, capped by the user's limit."""
    have = board.largest_contiguous_sram_bytes
    return have if sram_limit_bytes is None else min(have, sram_limit_bytes)


def runtime_overhead_bytes(graph: Graph, runtime: Runtime, kernels: str = "cmsis-nn",
                           analysis: Analysis | None = None) -> tuple[int, str]:
    """SRAM the runtime keeps besides the arena head, and what it counts.

    TFLM keeps its persistent structures (tensor and node records, quantization parameters,
    allocator state) at the arena's tail: sized with its 32-bit structure sizes by
    :func:`tinyops.memory.runtime_overhead.tflm_runtime_overhead` exactly as ``analyze`` counts them
    (the kernel library's OpData, one scratch handle per op that asks for scratch). tinyops' generated
    code has no interpreter: its op and tensor tables are constants in flash.
    """
    if runtime == "tinyops":
        return 0, "tinyops generated code: no interpreter structures in SRAM (tables are in flash)"
    if analysis is not None and analysis.kernels == kernels:
        overhead = analysis.totals.runtime_overhead_bytes
    else:
        lib = kernel_library(kernels)
        handles = sum(1 for op in graph.main.ops if lib.scratch_bytes(op))
        overhead = tflm_runtime_overhead(graph, CORTEX_M_ABI, kernels=kernels, scratch_buffers=handles).total_bytes
    return overhead, (f"TFLM persistent allocations (arena tail) for a {8 * TARGET_POINTER_BYTES}-bit target: "
                      "tensor/node records, quantization parameters, allocator state; stack not counted")


def tensor_indices(subgraph: Subgraph) -> dict[int, int]:
    """id(tensor) -> its index in the subgraph (tensors carry no index of their own)."""
    return {id(t): i for i, t in enumerate(subgraph.tensors)}


def is_mac_op(op: Op) -> bool:
    return spec_for(op).category in MAC_CATEGORIES


def roles(op: Op) -> list[tuple[Tensor, Role]]:
    """Operands of an op with their roles; the filter is input 1 of MAC ops."""
    out: list[tuple[Tensor, Role]] = []
    mac_op = is_mac_op(op)
    for i, tensor in enumerate(op.inputs):
        if tensor is None:
            continue
        if tensor.is_constant:
            out.append((tensor, "filter" if mac_op and i == 1 else "constant"))
        else:
            out.append((tensor, "input"))
    out.extend((t, "output") for t in op.outputs)
    return out


def make_accesses(op: Op, counts: OpCounts, memory_of: dict[str, str], default_memory: str,
                  cache_bytes: int, params: CoreParams, scratch_bytes: int, scratch_memory: str,
                  index_of: dict[int, int] | None = None, offset_of: dict[int, int] | None = None
                  ) -> tuple[Access, ...]:
    """Every operand of ``op`` (plus its scratch) with memory, size, bus traffic and, when known,
    tensor index and offset (``offset_of`` is keyed by tensor index)."""
    accesses: list[Access] = []
    for tensor, role in roles(op):
        memory = memory_of.get(tensor.name, default_memory)
        size = tensor.size_bytes
        index = index_of.get(id(tensor)) if index_of is not None else None
        offset = offset_of.get(index) if offset_of is not None and index is not None else None
        accesses.append(Access(tensor.name, role, memory, size,
                               operand_traffic_bytes(counts, role, size, cache_bytes, params), offset, index,
                               access_pattern(counts, role)))
    if scratch_bytes:
        accesses.append(Access(f"scratch[{op.label}]", "scratch", scratch_memory, scratch_bytes, scratch_bytes))
    return tuple(accesses)


def kernel_verdicts(graph: Graph, kernels: str, order: list[int] | None = None) -> tuple[list[str], list[str]]:
    """(reasons the plan is infeasible, warnings) from the kernel library's verdict on each op."""
    lib = kernel_library(kernels)
    reasons: list[str] = []
    estimates: dict[tuple[str, str], list[int]] = {}  # (op label with dtype, reason) -> op indices
    ops = graph.main.ops
    for index in order if order is not None else range(len(ops)):
        op = ops[index]
        verdict = lib.support(op)
        if verdict.status == "unsupported" and verdict.reason:
            reasons.append(f"op {index} {op.label}: {verdict.reason}")
        elif verdict.status == "estimate" and verdict.reason:
            data = op.input(0)
            what = op.label + (f" ({data.dtype.value})" if data is not None else "")
            estimates.setdefault((what, verdict.reason), []).append(index)
    warnings = [f"estimate: {what} op{'s' if len(where) > 1 else ''} {', '.join(map(str, where))}: {reason}"
                for (what, reason), where in estimates.items()]
    if len(graph.subgraphs) > 1:
        reasons.append("control-flow subgraphs are not planned (only the main subgraph is costed)")
    return reasons, warnings


def flash_image_offsets(tensors: list[Tensor], index_of: dict[int, int], align_bytes: int) -> dict[int, int]:
    """Offsets of constants laid out one after another (first-use order) in a memory image."""
    out: dict[int, int] = {}
    cursor = 0
    for t in tensors:
        index = index_of.get(id(t))
        if index is None or index in out:
            continue
        out[index] = cursor
        cursor += -(-t.size_bytes // align_bytes) * align_bytes
    return out


def compute_bound_cycles(plan: Plan) -> float:
    """Cycles with every operand in the fastest SRAM: same kernels, same clock, no transfers."""
    fastest = plan.memories[fastest_sram(plan.board)]
    stall = fastest.cpu_read_stall_cycles_per_byte or 0.0
    total = 0.0
    for st in plan.steps:
        unique = sum(a.size_bytes for a in st.partitions[0].accesses)
        total += st.compute_cycles + stall * unique
    return total


__all__ = ["FLASH", "MAC_CATEGORIES", "PlanOptions", "arena_memory", "check_clock", "compute_bound_cycles",
           "flash_image_offsets", "is_mac_op", "kernel_verdicts", "make_accesses", "roles",
           "runtime_overhead_bytes", "sram_have_bytes", "tensor_indices"]
