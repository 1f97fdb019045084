"""Per-op and whole-model analysis: MACs, weights, activations, working set, scratch, fit on a board."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyops.analysis.dead_channels import dead_output_channels, live_macs
from tinyops.analysis.liveness import activation_lifetimes, live_bytes_per_step, variable_bytes
from tinyops.ops.weight_formats import decode_buffer_bytes, weight_format
from tinyops.ir.graph import Graph, Op, Tensor
from tinyops.kernels import kernel_library
from tinyops.memory.plan import plan_memory
from tinyops.memory.runtime_overhead import tflm_runtime_overhead
from tinyops.ops import spec_for

if TYPE_CHECKING:
    from tinyops.hw.board import Board

# Op categories whose constant inputs are learned parameters; the constant inputs of other ops
# (RESHAPE's shape, PAD's paddings, MEAN's axes...) are configuration, not weights.
WEIGHT_CATEGORIES = {"conv", "depthwise", "fc", "elementwise", "activation", "opaque"}
DEFAULT_KERNELS = "cmsis-nn"


@dataclass
class OpAnalysis:
    index: int
    subgraph: int
    type: str
    category: str
    output_shapes: list[list[int]]
    macs: int
    elementary_ops: int
    params: int
    weight_bytes: int  # constant data + bias + per-channel quantization parameters
    input_bytes: int  # activations read (non-constant inputs)
    output_bytes: int
    working_set_bytes: int  # inputs + outputs + weights (Svoboda et al.)
    scratch_bytes: int  # what the kernel library asks the arena for (im2col etc.)
    opaque: bool
    dead_channels: int = 0  # output channels whose filter is all zero: a constant, whatever the input
    live_macs: int = 0  # macs less those of the dead output channels


@dataclass
class Totals:
    ops: int
    macs: int
    params: int
    weight_bytes: int
    other_constant_bytes: int
    flash_bytes: int  # the serialized model: what sits in flash
    model_overhead_bytes: int  # flash bytes that are neither weights nor other constants
    peak_activation_bytes: int  # max over steps of the live activation bytes, model's own order
    peak_step: int
    state_bytes: int  # variable tensors (RNN state), persistent
    max_scratch_bytes: int
    sram_lower_bound_bytes: int  # max over steps of live activations + that op's scratch, + state
    arena_bytes: int  # TFLM's arena head: the `tflm` planner's offsets, this library's scratch
    runtime_overhead_bytes: int  # TFLM's persistent (tail) allocations on a 32-bit target, state included
    sram_bytes: int  # arena + runtime overhead + weight decode buffer: the RAM needed ("fits" uses this)
    weight_format: str = "int8"  # int8 | int4 | codebook: how the weights are stored
    weight_decode_sram_bytes: int = 0  # code-book: buffer for the largest decoded weight tensor
    opaque_ops: list[str] = field(default_factory=list)
    dead_channels: int = 0  # output channels of conv/depthwise/FC ops whose filter is all zero
    live_macs: int = 0  # macs less the dead channels' (what a tool that drops them computes, before folding)


@dataclass
class BoardFit:
    id: str
    fits_sram: bool
    fits_flash: bool
    sram_needed_bytes: int
    sram_available_bytes: int
    sram_margin_bytes: int
    flash_needed_bytes: int
    flash_available_bytes: int
    flash_margin_bytes: int


@dataclass
class Analysis:
    model: str
    kernels: str
    ops: list[OpAnalysis]
    totals: Totals
    live_bytes: list[int]  # per step of the main subgraph
    board: BoardFit | None = None
    assumptions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "kernels": self.kernels,
            "ops": [asdict(op) for op in self.ops],
            "totals": asdict(self.totals),
            "live_bytes": self.live_bytes,
            "board": None if self.board is None else asdict(self.board),
            "assumptions": self.assumptions,
        }


def _weight_tensors(op: Op) -> list[Tensor]:
    if spec_for(op).category not in WEIGHT_CATEGORIES:
        return []
    return op.constant_inputs


def _constant_bytes(tensor: Tensor) -> int:
    return tensor.size_bytes + tensor.quant_param_bytes


def analyze_op(op: Op, index: int, subgraph_index: int, kernels: str) -> OpAnalysis:
    spec = spec_for(op)
    weights = _weight_tensors(op)
    weight_bytes = sum(_constant_bytes(t) for t in weights)
    input_bytes = sum(t.size_bytes for t in op.activation_inputs)
    output_bytes = sum(t.size_bytes for t in op.outputs)
    dead = dead_output_channels(op)
    return OpAnalysis(
        index=index,
        subgraph=subgraph_index,
        type=op.label,
        category=spec.category,
        output_shapes=[list(t.shape) for t in op.outputs],
        macs=int(spec.count_macs(op)),
        elementary_ops=int(spec.count_elementary_ops(op)),
        params=sum(t.num_elements for t in weights),
        weight_bytes=weight_bytes,
        input_bytes=input_bytes,
        output_bytes=output_bytes,
        working_set_bytes=input_bytes + output_bytes + weight_bytes,
        scratch_bytes=kernel_library(kernels).scratch_bytes(op),
        opaque=spec.opaque,
        dead_channels=0 if dead is None else dead.count,
        live_macs=live_macs(op, dead),
    )


def serialized_model_bytes(graph: Graph, prefer_file: bool = True) -> int:
    """Bytes of the model as stored in flash: its file when it was loaded from one (``prefer_file``),
    else the graph written as a .tflite flatbuffer."""
    from pathlib import Path

    if prefer_file and graph.source_path and Path(graph.source_path).is_file():
        return Path(graph.source_path).stat().st_size
    from tinyops.backends.tflite_writer import to_tflite_bytes

    return len(to_tflite_bytes(graph))


def analyze(graph: Graph, board: "Board | None" = None, kernels: str = DEFAULT_KERNELS,
            flash_bytes: int | None = None) -> Analysis:
    """Analyze a model; ``flash_bytes`` is the serialized size (computed by writing it if not given)."""
    ops = [analyze_op(op, op_index, sg_index, kernels) for sg_index, op_index, op in graph.all_ops()]

    weight_ids: set[int] = set()
    weight_bytes = params = 0
    for subgraph in graph.subgraphs:
        for op in subgraph.ops:
            for tensor in _weight_tensors(op):
                if id(tensor.data) not in weight_ids:
                    weight_ids.add(id(tensor.data))
                    weight_bytes += _constant_bytes(tensor)
                    params += tensor.num_elements
    other_constant_bytes = sum(_constant_bytes(t) for t in graph.constant_tensors() if id(t.data) not in weight_ids)
    if flash_bytes is None:
        flash_bytes = serialized_model_bytes(graph, prefer_file=False)

    main = graph.main
    live = live_bytes_per_step(activation_lifetimes(main), len(main.ops))
    main_scratch = np.array([op.scratch_bytes for op in ops if op.subgraph == 0] or [0], dtype=np.int64)
    state = variable_bytes(main)
    peak_step = int(np.argmax(live)) if live.size else 0
    arena_bytes = plan_memory(graph, planner="tflm", kernels=kernels).arena_bytes
    overhead = tflm_runtime_overhead(graph, kernels=kernels,
                                     scratch_buffers=sum(1 for op in ops if op.scratch_bytes and op.subgraph == 0))
    decode_sram = decode_buffer_bytes(graph)
    totals = Totals(
        ops=len(ops),
        macs=sum(op.macs for op in ops),
        params=params,
        weight_bytes=weight_bytes,
        other_constant_bytes=other_constant_bytes,
        flash_bytes=flash_bytes,
        model_overhead_bytes=max(flash_bytes - weight_bytes - other_constant_bytes, 0),
        peak_activation_bytes=int(live.max()) if live.size else 0,
        peak_step=peak_step,
        state_bytes=state,
        max_scratch_bytes=int(main_scratch.max()),
        sram_lower_bound_bytes=(int((live + main_scratch[: live.size]).max()) + state if live.size else state)
        + decode_sram,
        arena_bytes=arena_bytes,
        runtime_overhead_bytes=overhead.total_bytes,
        sram_bytes=arena_bytes + overhead.total_bytes + decode_sram,
        weight_format=weight_format(graph),
        weight_decode_sram_bytes=decode_sram,
        opaque_ops=sorted({op.type for op in ops if op.opaque}),
        dead_channels=sum(op.dead_channels for op in ops),
        live_macs=sum(op.live_macs for op in ops),
    )
    assumptions = {
        "kernels": f"{kernels} (scratch buffers as its kernels request them)",
        "order": "the model's own operator order",
        "sram": "sram_bytes = arena_bytes (TFLM's arena head, planned as TFLM's greedy planner does, "
                f"with {kernels} scratch) + runtime_overhead_bytes (TFLM's persistent allocations on a 32-bit "
                f"Cortex-M: eval tensors, nodes, {kernels} kernel OpData, per-channel multipliers, variable "
                "tensors, scratch handles, allocator objects); sram_lower_bound_bytes is live activations + scratch + state at the "
                "worst step, what any planner needs at least; stack and application RAM are not counted",
        "flash": "the serialized model; application code and the runtime are not counted",
        "dead_channels": "output channels of conv/depthwise/FC ops whose filter is all zero (their output is "
                         "a constant: requantized bias after the fused activation); live_macs leaves their MACs "
                         "out; `analyze --drop-dead-channels OUT` removes those whose removal is bit-exact",
        "weight_bytes": "constant data incl. bias and per-channel quantization parameters (12 B/channel)",
    }
    if decode_sram:
        assumptions["weight_decode"] = (f"code-book weights are decoded once per inference into a {decode_sram} B "
                                        "SRAM buffer (the largest weight tensor), counted in both SRAM figures")
    if overhead.unknown_ops:
        assumptions["runtime_overhead"] = (f"kernels of {', '.join(overhead.unknown_ops)} not in the overhead "
                                           "table: counted with a 64-byte OpData each (an estimate)")
    fit = None
    if board is not None:
        sram_available = board.largest_contiguous_sram_bytes
        flash_available = board.internal_flash.size_bytes
        fit = BoardFit(
            id=board.id,
            fits_sram=totals.sram_bytes <= sram_available,
            fits_flash=flash_bytes <= flash_available,
            sram_needed_bytes=totals.sram_bytes,
            sram_available_bytes=sram_available,
            sram_margin_bytes=sram_available - totals.sram_bytes,
            flash_needed_bytes=flash_bytes,
            flash_available_bytes=flash_available,
            flash_margin_bytes=flash_available - flash_bytes,
        )
        assumptions["board"] = (f"{board.id}: largest contiguous SRAM block {sram_available} B, "
                                f"internal flash {flash_available} B")
    return Analysis(
        model=graph.source_path or graph.description or "<graph>",
        kernels=kernels,
        ops=ops,
        totals=totals,
        live_bytes=[int(v) for v in live],
        board=fit,
        assumptions=assumptions,
    )
