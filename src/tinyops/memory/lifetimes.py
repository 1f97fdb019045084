"""The buffers an arena must hold for one operator order: activation tensors and kernel scratch.

Time follows TFLM's allocation scopes so that our `tflm` planner sees exactly the overlaps TFLM
sees: subgraph inputs are created at time 0, the op at step k of the order runs at time k + 1,
subgraph outputs stay live until the last op's time. A scratch buffer lives during its op only.
A buffer that is consumed but never created (a non-constant tensor without producer) starts at
time -1, as in TFLM. Variable tensors (RNN state) persist in TFLM's tail, so they are left out,
as are constants and empty tensors.

Buffers come in TFLM's id order: tensors by index, then scratch requests in execution order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from tinyops.errors import UnsupportedOpError
from tinyops.ir.graph import Graph, Subgraph, Tensor
from tinyops.kernels import scratch_requests

ALIGNMENT_BYTES = 16  # TFLM's MicroArenaBufferAlignment(): every buffer size and offset is a multiple
UNCREATED_TIME = -1
CONTROL_FLOW_KINDS = ("IF", "WHILE", "CALL_ONCE")


def align_up(size_bytes: int, alignment_bytes: int = ALIGNMENT_BYTES) -> int:
    return (size_bytes + alignment_bytes - 1) // alignment_bytes * alignment_bytes


def op_time(step: int) -> int:
    """Time of the op at position ``step`` of the order."""
    return step + 1


def time_to_step(time: int, num_steps: int) -> int:
    """The op step a time falls in (graph-input time 0 counts as step 0)."""
    return min(max(time - 1, 0), max(num_steps - 1, 0))


@dataclass(frozen=True)
class Buffer:
    """One arena buffer with its lifetime in allocation-scope time (both ends inclusive)."""

    key: int  # position in the buffer list (TFLM's buffer id order)
    name: str
    kind: str  # "tensor" | "scratch"
    size_bytes: int
    first_time: int
    last_time: int
    tensor_index: int | None = None  # tensors: index in the subgraph
    op_index: int | None = None  # scratch: the requesting op (index in the stored op list)

    @property
    def aligned_bytes(self) -> int:
        return align_up(self.size_bytes)

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first_time <= other.last_time and other.first_time <= self.last_time


def check_plannable(graph_or_subgraph: Graph | Subgraph) -> Subgraph:
    """The subgraph to plan; refuses control flow, which we do not plan (TFLM nests its scopes)."""
    if isinstance(graph_or_subgraph, Graph):
        if len(graph_or_subgraph.subgraphs) > 1:
            raise UnsupportedOpError(
                f"the model has {len(graph_or_subgraph.subgraphs)} subgraphs; memory planning supports "
                "single-subgraph models only (inline control flow first)")
        subgraph = graph_or_subgraph.main
    else:
        subgraph = graph_or_subgraph
    for op in subgraph.ops:
        if op.kind in CONTROL_FLOW_KINDS:
            raise UnsupportedOpError(
                f"op {op.kind} calls other subgraphs; memory planning of control flow is not supported")
    return subgraph


def check_order(subgraph: Subgraph, order: Sequence[int]) -> None:
    """Raise ValueError unless ``order`` is a permutation of the ops that respects data dependencies."""
    if sorted(order) != list(range(len(subgraph.ops))):
        raise ValueError("order is not a permutation of the subgraph's ops")
    produced: set[int] = set()
    producer_of = {id(t): i for i, op in enumerate(subgraph.ops) for t in op.outputs}
    for op_index in order:
        for tensor in subgraph.ops[op_index].inputs:
            if tensor is None:
                continue
            source = producer_of.get(id(tensor))
            if source is not None and source not in produced and source != op_index:
                raise ValueError(f"op {op_index} runs before op {source}, which produces its input")
        produced.add(op_index)


def needs_arena(tensor: Tensor) -> bool:
    """Whether TFLM plans the tensor in the arena head (non-constant, non-variable, non-empty)."""
    return tensor.data is None and not tensor.is_variable and tensor.size_bytes > 0


def build_buffers(subgraph: Subgraph, order: Sequence[int] | None = None,
                  kernels: str = "tflm-reference") -> list[Buffer]:
    """Tensor and scratch buffers of ``subgraph`` run in ``order`` (default: as stored)."""
    steps = list(range(len(subgraph.ops))) if order is None else list(order)
    index_of = {id(t): i for i, t in enumerate(subgraph.tensors)}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for tensor in subgraph.inputs:
        index = index_of[id(tensor)]
        first.setdefault(index, 0)
        last[index] = 0
    scratch: list[tuple[int, int, int]] = []  # (op index, time, bytes)
    for step, op_index in enumerate(steps):
        time = op_time(step)
        op = subgraph.ops[op_index]
        for tensor in op.outputs:
            first.setdefault(index_of[id(tensor)], time)
        for operand in op.inputs:
            if operand is not None:
                last[index_of[id(operand)]] = time
        for tensor in op.outputs:
            last[index_of[id(tensor)]] = time
        scratch.extend((op_index, time, size) for size in scratch_requests(op, kernels))
    end_time = op_time(len(steps) - 1) if steps else 0
    for tensor in subgraph.outputs:
        index = index_of[id(tensor)]
        first.setdefault(index, end_time)
        last[index] = end_time
    buffers: list[Buffer] = []
    for index, tensor in enumerate(subgraph.tensors):
        if needs_arena(tensor):
            buffers.append(Buffer(len(buffers), tensor.name or f"tensor_{index}", "tensor", tensor.size_bytes,
                                  first.get(index, UNCREATED_TIME), last.get(index, UNCREATED_TIME),
                                  tensor_index=index))
    for number, (op_index, time, size) in enumerate(scratch):
        buffers.append(Buffer(len(buffers), f"scratch_{number}@op{op_index}", "scratch", size, time, time,
                              op_index=op_index))
    return buffers


def live_bytes_per_time(buffers: Sequence[Buffer], num_times: int, aligned: bool = True) -> list[int]:
    """Bytes live at each time 0..num_times-1 (buffers starting at -1 count from time 0)."""
    delta = [0] * (num_times + 1)
    for buffer in buffers:
        size = buffer.aligned_bytes if aligned else buffer.size_bytes
        start = max(buffer.first_time, 0)
        if buffer.last_time < 0 or start >= num_times:
            continue
        delta[start] += size
        delta[min(buffer.last_time, num_times - 1) + 1] -= size
    curve, running = [], 0
    for value in delta[:-1]:
        running += value
        curve.append(running)
    return curve
