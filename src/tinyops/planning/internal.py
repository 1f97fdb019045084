"""The ``internal`` strategy: the TFLM deployment, weights in internal flash, activations and
scratch in one SRAM arena laid out by a real memory plan.

For the ``tflm`` runtime the arena is TFLM's own (its greedy planner on the stored op order, the
kernel library's scratch requests): the "Arena allocation head" the TFLM interpreter reports. For
the ``tinyops`` runtime it is the ``best`` plan (reordering, every in-place kind), which only
tinyops' generated code realises. Either way every activation and scratch buffer gets its arena
offset and every constant its offset in the flash image.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tinyops.analysis.analyze import Analysis, analyze
from tinyops.cost.cost_model import compute_cycles, op_counts
from tinyops.cost.memory_model import FLASH, memory_ports
from tinyops.errors import TinyOpsError
from tinyops.hw.board import Board
from tinyops.ir.graph import Graph
from tinyops.kernels.profile import load_params
from tinyops.memory import MemoryPlan, plan_memory
from tinyops.memory.plan import reuse_memory_plans
from tinyops.planning.common import (PlanOptions, arena_memory, check_clock, flash_image_offsets, kernel_verdicts,
                                     make_accesses, runtime_overhead_bytes, sram_have_bytes, tensor_indices)
from tinyops.planning.plan import Access, Partition, PlacedBuffer, Plan, PlanStep, Transfer

FLASH_ALIGN_BYTES = 16  # TFLite buffers are 16-byte aligned in the flatbuffer


def _memory_plan(graph: Graph, options: PlanOptions) -> tuple[MemoryPlan | None, str | None]:
    try:
        if options.runtime == "tinyops":
            return plan_memory(graph, planner="best", kernels=options.kernels), None
        return plan_memory(graph, planner="tflm", kernels=options.kernels), None
    except (TinyOpsError, ValueError) as exc:
        return None, f"no memory plan: {exc}"


def plan_internal(graph: Graph, board: Board, options: PlanOptions | None = None,
                  analysis: Analysis | None = None) -> Plan:
    """TFLM deployment: constants in internal flash, activations and scratch in one SRAM arena."""
    options = options or PlanOptions()
    kernels = options.kernels
    clock = check_clock(board, options.clock_mhz)
    params = load_params(board.core, kernels)
    with reuse_memory_plans():  # analysis plans TFLM's arena too: plan it once
        if analysis is None:
            flash_bytes = None
            if graph.source_path and Path(graph.source_path).is_file():
                flash_bytes = Path(graph.source_path).stat().st_size
            analysis = analyze(graph, board, kernels=kernels, flash_bytes=flash_bytes)
        memory_plan, plan_error = _memory_plan(graph, options)
    arena = arena_memory(board)
    main = graph.main
    index_of = tensor_indices(main)
    order = list(memory_plan.order) if memory_plan is not None else list(range(len(main.ops)))
    constants = [t for i in order for t in main.ops[i].constant_inputs]
    flash_offsets = flash_image_offsets(constants, index_of, FLASH_ALIGN_BYTES)
    offsets: dict[int, int] = dict(flash_offsets)
    buffers: list[PlacedBuffer] = []
    scratch_of: dict[int, list[Access]] = {}  # op index -> its scratch buffers, placed
    if memory_plan is not None:
        for b in memory_plan.buffers:
            if b.kind == "tensor" and b.tensor_index is not None:
                offsets[b.tensor_index] = b.offset
                buffers.append(PlacedBuffer(b.name, "tensor", arena, b.offset, b.size_bytes, b.first_op, b.last_op,
                                            tensor_index=b.tensor_index))
            elif b.op_index is not None:
                buffers.append(PlacedBuffer(b.name, "scratch", arena, b.offset, b.size_bytes, b.first_op, b.last_op,
                                            op_index=b.op_index))
                scratch_of.setdefault(b.op_index, []).append(
                    Access(b.name, "scratch", arena, b.size_bytes, b.size_bytes, b.offset))
    last_step = max(len(order) - 1, 0)
    seen: set[int] = set()
    for t in constants:
        index = index_of[id(t)]
        if index not in seen:
            seen.add(index)
            buffers.append(PlacedBuffer(t.name, "constant", FLASH, flash_offsets[index], t.size_bytes, 0, last_step,
                                        tensor_index=index))
    memory_of = {t.name: FLASH for t in graph.constant_tensors()}
    cache = board.dcache_bytes
    steps: list[PlanStep] = []
    for step, op_index in enumerate(order):
        op = main.ops[op_index]
        info = analysis.ops[op_index]
        counts = op_counts(op)
        # Without a memory plan the scratch still counts, at no fixed offset.
        unplaced = info.scratch_bytes if memory_plan is None else 0
        accesses = make_accesses(op, counts, memory_of, arena, cache, params, unplaced, arena, index_of, offsets)
        accesses += tuple(scratch_of.get(op_index, ()))
        channels = counts.out_channels
        steps.append(PlanStep(step, op_index, op, op.label, counts, compute_cycles(op, params),
                              [Partition(0, 1.0, accesses, 0, channels)]))
    totals = analysis.totals
    overhead, overhead_note = runtime_overhead_bytes(graph, options.runtime, kernels, analysis)
    arena_bytes = memory_plan.arena_bytes if memory_plan is not None else totals.sram_lower_bound_bytes
    # Code-book weights are decoded into a buffer the size of the largest decoded tensor.
    decode_bytes = totals.weight_decode_sram_bytes
    sram_needed = arena_bytes + overhead + decode_bytes
    sram_have = sram_have_bytes(board, options.sram_limit_bytes)
    flash_have = board.internal_flash.size_bytes
    reasons, warnings = kernel_verdicts(graph, kernels, order)
    if plan_error:
        reasons.append(plan_error)
    where = (f"the SRAM limit of {options.sram_limit_bytes} B" if options.sram_limit_bytes is not None
             and options.sram_limit_bytes < board.largest_contiguous_sram_bytes
             else f"the largest contiguous SRAM block of {board.id} ({sram_have} B)")
    if sram_needed > sram_have:
        decode = f" and the weight decode buffer ({decode_bytes} B)" if decode_bytes else ""
        reasons.append(f"the arena ({arena_bytes} B), the runtime's persistent allocations ({overhead} B){decode} "
                       f"need {sram_needed} B of SRAM; {where} is smaller")
    if totals.flash_bytes > flash_have:
        reasons.append(f"the model needs {totals.flash_bytes} B of flash; {board.id} has {flash_have} B")
    planner = "tinyops best plan (reordered, every in-place kind)" if options.runtime == "tinyops" else \
        "TFLM's greedy planner on the stored order"
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
            "arena_runtime": options.runtime,
            "arena_bytes": f"arena head laid out by {planner} (activations + the kernels' scratch)",
            "runtime_overhead_bytes": overhead_note,
            "sram_bytes": "arena_bytes + runtime_overhead_bytes (+ the code-book weight decode buffer, if any): "
                          "the SRAM the deployment needs (stack not counted)",
            "sram_lower_bound_bytes": "live activations + the op's scratch at the worst op (model order): "
                                      "no plan needs less",
            "flash_bytes": "the serialized model (application code and runtime not counted)",
            "params": f"{params.core}/{params.kernels} cost-model parameters ({params.status})",
        },
        arena_runtime=options.runtime, arena_bytes=arena_bytes, runtime_overhead_bytes=overhead,
        sram_lower_bound_bytes=totals.sram_lower_bound_bytes, buffers=buffers, warnings=warnings,
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


__all__ = ["plan_internal", "with_constants_in"]
