"""Activation partitioning: row tiles for ops whose activations were spilled to external RAM.

When the activation layout (:mod:`tinyops.planning.activations`) spills a tensor to external RAM,
the ops that read or write it would otherwise access it in place through the cache. This pass
splits each such op along output rows (:mod:`tinyops.ops.rows`: tiles of rows with the receptive
field's halo for k x k convs, depthwise and pooling), and for every tile

- DMA copies the tile's input rows (halo included) of every spilled input from external RAM
  into an SRAM tile buffer, and
- the op writes its output tile into an SRAM tile buffer that DMA copies back to external RAM,

both double-buffered: tile p uses slot p mod 2, so the copy of tile p+1 (and the write-back of
tile p-1) run while the CPU computes tile p. Row tiles combine with the filters' output-channel
partitions (overlays): the loop runs channel slices outside and row tiles inside, so a filter
slice is loaded once and the input rows are read once per channel slice; an output tile then
holds the slice's channels of its rows (a strided write-back).

Where the tile buffers go: at step k the free SRAM ``[lo_k, hi_k)`` the caller reserves (above
every activation live at the step; for overlay plans, above that step's overlay window and the
next one's). A tile buffer is only used within its step, so

- the first two input tiles of a step wait (``after``) for the previous step's last partition and
  (``waits_for``) for every write-back of the previous step (their buffers may overlap, and that
  step may have written what this one reads);
- tile p+2 reuses tile p's slots: its input copy waits for partition p, and partition p+2 waits
  for tile p's write-back;
- the last two write-backs of a step must land before the next step's first partition.

Costs (for the simulator, from the cost model's coefficients): every tile beyond the first of a
channel slice is one kernel call more (``cycles_per_op``) plus, for im2col convolutions, the
rebuild of its columns; halo rows are copied once per tile that reads them (``halo_bytes``).
A single op recomputes nothing (``recompute_macs`` 0); fused groups (:mod:`tinyops.planning.patches`)
do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tinyops.cost.cost_model import op_counts
from tinyops.hw.board import Board
from tinyops.ir.graph import Op, Tensor
from tinyops.ops.rows import RowWindow, row_bytes, row_window, split_rows
from tinyops.planning.plan import CPU_ENGINE, Access, Partition, PlacedBuffer, Plan, PlanStep, StepRef, Transfer

TILE_ALIGN_BYTES = 16


@dataclass(frozen=True)
class SpilledOperand:
    tensor: Tensor
    tensor_index: int | None
    memory: str
    offset_bytes: int  # of the tensor in external RAM
    row_bytes: int


@dataclass(frozen=True)
class TileShape:
    """The row tiling chosen for one step."""

    rows_per_tile: int
    tiles: tuple[tuple[int, int], ...]
    input_slot_bytes: tuple[int, ...]  # per spilled input
    output_slot_bytes: int  # 0 when the output stays where it is
    region_bytes: int  # both slots of every buffer


def _align(value: int) -> int:
    return -(-value // TILE_ALIGN_BYTES) * TILE_ALIGN_BYTES


def tile_shape(window: RowWindow, inputs: list[SpilledOperand], output: SpilledOperand | None,
               channel_fraction: float, region_bytes: int) -> TileShape | None:
    """The most output rows per tile whose double-buffered tiles fit ``region_bytes`` (None: not even one)."""
    for rows in range(window.out_rows, 0, -1):
        tiles = split_rows(window.out_rows, rows)
        in_rows = max(i1 - i0 for i0, i1 in (window.input_rows(r0, r1) for r0, r1 in tiles))
        in_slots = tuple(_align(in_rows * op.row_bytes) for op in inputs)
        out_slot = _align(int(rows * output.row_bytes * channel_fraction + 0.999)) if output else 0
        need = 2 * (sum(in_slots) + out_slot)
        if need <= region_bytes:
            return TileShape(rows, tuple(tiles), in_slots, out_slot, need)
    return None


def _dma_engine(board: Board, src: str, dst: str) -> str:
    """The engine able to copy ``src`` -> ``dst`` (the board file's capabilities), else the CPU."""
    dma = board.dma_for(src, dst)
    return dma.name if dma is not None else CPU_ENGINE


def spilled_operands(plan: Plan, step: PlanStep, spill_memory: str,
                     spill_offsets: dict[str, int]) -> tuple[list[SpilledOperand], SpilledOperand | None]:
    """The step's non-constant 4-D operands that live in ``spill_memory``."""
    inputs: list[SpilledOperand] = []
    output: SpilledOperand | None = None
    first = step.partitions[0]
    tensors = {t.name: t for t in list(step.op.inputs) + list(step.op.outputs) if t is not None}
    for acc in first.accesses:
        tensor = tensors.get(acc.tensor)
        if acc.memory != spill_memory or tensor is None or tensor.is_constant or len(tensor.shape) != 4:
            continue
        operand = SpilledOperand(tensor, acc.tensor_index, spill_memory, spill_offsets[acc.tensor],
                                 row_bytes(tensor.shape, tensor.dtype.storage_bytes(1)))
        if acc.role == "input" and all(o.tensor is not tensor for o in inputs):
            inputs.append(operand)
        elif acc.role == "output":
            output = operand
    return inputs, output


def partition_overhead_cycles(plan: Plan, op: Op) -> float:
    counts = op_counts(op)
    cycles = plan.params.c("cycles_per_op")
    if counts.kernel_class == "conv":
        cycles += counts.im2col_elements * plan.params.c("im2col_cycles_per_element")
    return cycles


def tile_spilled_steps(plan: Plan, spill_memory: str | None, spill_offsets: dict[str, int], sram_memory: str,
                       regions: list[tuple[int, int]]) -> Plan:
    """The plan with every step that touches ``spill_memory`` split into row tiles (see module doc).

    ``regions[k]``: the SRAM byte range [lo, hi) step k may use for tile buffers. Steps that
    cannot be split (no row geometry, the plan's last step, a region too small for one row)
    keep accessing the spilled tensors in place."""
    if spill_memory is None or not plan.steps:
        return plan
    remap_first: dict[StepRef, StepRef] = {}
    remap_last: dict[StepRef, StepRef] = {}
    new_steps: list[PlanStep] = []
    tile_transfers: list[Transfer] = []  # ids assigned at the end
    out_ids_of_step: dict[int, list[int]] = {}
    tile_buffers: list[PlacedBuffer] = []
    engine = _dma_engine(plan.board, spill_memory, sram_memory)
    engine_out = _dma_engine(plan.board, sram_memory, spill_memory)
    pending: list[tuple[Transfer, int]] = []  # (transfer with placeholder id, step) in creation order
    tiled_steps = 0
    top = 0
    for st in plan.steps:
        window = row_window(st.op)
        lo, hi = regions[st.step] if st.step < len(regions) else (0, 0)
        lo = _align(lo)
        inputs, output = spilled_operands(plan, st, spill_memory, spill_offsets)
        n_c = len(st.partitions)
        fraction = max(((p.channel_stop - p.channel_start) / max(st.op.outputs[0].shape[-1], 1)
                        for p in st.partitions if p.channel_stop), default=1.0)
        shape = None
        if window is not None and (inputs or output) and st.step + 1 < len(plan.steps) and hi > lo:
            shape = tile_shape(window, inputs, output, fraction, hi - lo)
        if shape is None:
            for part in st.partitions:
                remap_first[(st.step, part.index)] = remap_last[(st.step, part.index)] = (st.step, part.index)
            new_steps.append(st)
            continue
        assert window is not None
        tiled_steps += 1
        n_r = len(shape.tiles)
        in_base = [lo + 2 * sum(shape.input_slot_bytes[:j]) for j in range(len(inputs))]
        out_base = lo + 2 * sum(shape.input_slot_bytes)
        top = max(top, lo + shape.region_bytes)
        parts: list[Partition] = []
        for ci, cpart in enumerate(st.partitions):
            remap_first[(st.step, cpart.index)] = (st.step, ci * n_r)
            remap_last[(st.step, cpart.index)] = (st.step, ci * n_r + n_r - 1)
            c0, c1 = cpart.channel_start, cpart.channel_stop
            for ri, (r0, r1) in enumerate(shape.tiles):
                p = ci * n_r + ri
                parity = p % 2
                i0, i1 = window.input_rows(r0, r1)
                row_share = (r1 - r0) / window.out_rows
                accesses: list[Access] = []
                for acc in cpart.accesses:
                    spilled_in = next((j for j, o in enumerate(inputs) if o.tensor.name == acc.tensor
                                       and acc.role == "input"), None)
                    if spilled_in is not None:
                        operand = inputs[spilled_in]
                        nbytes = (i1 - i0) * operand.row_bytes
                        label = f"{acc.tensor}@step{st.step}.tile{p}[rows {i0}:{i1}]"
                        offset = in_base[spilled_in] + parity * shape.input_slot_bytes[spilled_in]
                        accesses.append(Access(label, "input", sram_memory, nbytes, nbytes, offset, acc.tensor_index))
                        if p >= 2:
                            after: StepRef | None = (st.step, p - 2)
                            waits: tuple[int, ...] = ()
                        else:
                            after = remap_last.get(_last_ref(plan, st.step - 1)) if st.step > 0 else None
                            waits = tuple(out_ids_of_step.get(st.step - 1, []))
                        pending.append((Transfer(-1, spill_memory, sram_memory, nbytes, engine, (st.step, p), after,
                                                 tensor=label, dst_offset_bytes=offset,
                                                 src_offset_bytes=operand.offset_bytes + i0 * operand.row_bytes,
                                                 tensor_index=acc.tensor_index, direction="in", waits_for=waits,
                                                 row_start=i0, row_stop=i1), st.step))
                    elif output is not None and acc.role == "output" and acc.tensor == output.tensor.name:
                        channels = output.tensor.shape[-1]
                        width = (c1 - c0) if c1 else channels
                        item = output.tensor.dtype.storage_bytes(1)
                        nbytes = (r1 - r0) * output.tensor.shape[2] * width * item
                        label = f"{acc.tensor}@step{st.step}.tile{p}[rows {r0}:{r1}" + (f", ch {c0}:{c1}]" if c1 and n_c > 1 else "]")
                        offset = out_base + parity * shape.output_slot_bytes
                        accesses.append(Access(label, "output", sram_memory, nbytes, nbytes, offset, acc.tensor_index))
                        needed = (st.step, p + 2) if p + 2 < n_c * n_r else (st.step + 1, 0)
                        pending.append((Transfer(-1, sram_memory, spill_memory, nbytes, engine_out, needed, (st.step, p),
                                                 tensor=label, src_offset_bytes=offset,
                                                 dst_offset_bytes=output.offset_bytes + r0 * output.row_bytes
                                                 + (c0 * item if c1 else 0),
                                                 tensor_index=acc.tensor_index, direction="out",
                                                 row_start=r0, row_stop=r1,
                                                 channel_start=c0 if c1 else None,
                                                 channel_stop=c1 if c1 else None), st.step))
                    elif acc.role in ("input", "output", "scratch"):
                        accesses.append(replace(acc, traffic_bytes=int(round(acc.traffic_bytes * row_share))))
                    else:
                        # Re-reads of constants past the cache scale with the rows; each tile reads them once.
                        traffic = max(acc.size_bytes, int(round(acc.traffic_bytes * row_share)))
                        accesses.append(replace(acc, traffic_bytes=min(traffic, acc.traffic_bytes)))
                parts.append(Partition(p, cpart.share * row_share, tuple(accesses), c0, c1, r0, r1, i0, i1))
        extra = (n_r - 1) * n_c * partition_overhead_cycles(plan, st.op)
        new_steps.append(replace(st, partitions=parts, compute_cycles=st.compute_cycles + extra))
        # Write-backs of this step, identified by position in ``pending`` until ids are known.
        out_ids_of_step[st.step] = [i for i, (tr, k) in enumerate(pending) if k == st.step and tr.direction == "out"]
        tile_buffers.append(PlacedBuffer(f"row-tiles@step{st.step}", "tile", sram_memory, lo, shape.region_bytes,
                                         st.step, st.step))
    if not tiled_steps:
        return plan
    # Renumber: the plan's own transfers keep their order and ids, tile transfers follow.
    base = len(plan.transfers)
    moved = [replace(tr, needed_by=remap_first.get(tr.needed_by, tr.needed_by),
                     after=remap_last.get(tr.after, tr.after) if tr.after is not None else None)
             for tr in plan.transfers]
    block_device = any(m.name == spill_memory and m.block_size_bytes for m in plan.board.external_memories)
    previous_out: int | None = None
    for i, (tr, _) in enumerate(pending):
        waits = tuple(base + w for w in tr.waits_for)
        if block_device and tr.direction == "out":
            # A block device writes whole blocks (read-modify-write of a partial one): write-backs
            # that may share a block run one after another, in program order.
            if previous_out is not None:
                waits += (previous_out,)
            previous_out = base + i
        tile_transfers.append(replace(tr, id=base + i, waits_for=waits))
    arena = max(plan.arena_bytes, top)
    out = replace(plan, steps=new_steps, transfers=moved + tile_transfers, buffers=plan.buffers + tile_buffers,
                  arena_bytes=arena, sram_bytes=arena + plan.runtime_overhead_bytes)
    out.assumptions = {**plan.assumptions, "row_tiles": (
        f"{tiled_steps} ops touching activations spilled to {spill_memory} split into row tiles (halos included), "
        f"double-buffered in SRAM, copied by {engine}")}
    return out


def _last_ref(plan: Plan, step: int) -> StepRef:
    st = plan.steps[step]
    return (step, st.partitions[-1].index)


__all__ = ["SpilledOperand", "TileShape", "tile_shape", "tile_spilled_steps", "spilled_operands"]
