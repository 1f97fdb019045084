"""Every strategy side by side (like TinyOpsV2 Tables 1-2), and the plan fields of the JSON report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinyops.planning.plan import Plan
from tinyops.sim.simulator import SimResult

if TYPE_CHECKING:
    from tinyops.cost.memory_model import MovementCost
    from tinyops.deploy.driver import Evaluated


def dma_bytes(plan: Plan) -> int:
    """Bytes the plan copies with DMA engines (CPU-driven copies not counted)."""
    return plan.dma_bytes


def plan_fields(plan: Plan) -> dict[str, Any]:
    """The issue-#6 additions to `tinyops plan --json`."""
    return {
        "strategy": plan.strategy,
        "external_bytes": dict(plan.external_bytes),
        "dma_bytes": plan.dma_bytes,
        "overlay_buffer_bytes": plan.overlay_buffer_bytes,
        "spilled_activation_bytes": dict(plan.spilled_activation_bytes),
        "sram_buffers": sram_buffers(plan),
        "memory_labels": memory_labels(plan),
    }


def memory_labels(plan: Plan) -> dict[str, dict[str, Any]]:
    """How reports name each on-chip memory key: a plan keys SRAM by the first region of the
    address-contiguous run its arena uses; the label says which regions and addresses that is."""
    board = plan.board
    keys = {acc.memory for step in plan.steps for part in step.partitions for acc in part.accesses}
    keys |= {t.dst for t in plan.transfers} | {t.src for t in plan.transfers}
    runs = sorted(k for k in keys if board.sram(k) is not None)
    out: dict[str, dict[str, Any]] = {}
    for key in runs:
        span = board.sram_span(key, 0, max(plan.sram_bytes, 1))
        whole = board.sram_span(key, 0, board.sram_run_bytes(key))
        label = "SRAM" if len(runs) == 1 else key
        out[key] = {"label": label, "regions": list(span.regions), "run_regions": list(whole.regions),
                    "address_range": [f"{whole.start_address:#010x}", f"{whole.end_address:#010x}"],
                    "description": f"{'+'.join(whole.regions)} {whole.start_address:#010x}-{whole.end_address:#010x}"
                                   f" (address-contiguous; this plan uses {'+'.join(span.regions)})"}
    return out


def sram_buffers(plan: Plan) -> list[dict[str, Any]]:
    """Every SRAM buffer the plan places at an offset, with the real region(s) and address range.

    A plan keys its on-chip memory by the first region of the address-contiguous SRAM run its arena
    uses (e.g. DTCM on the F746, whose DTCM, SRAM1 and SRAM2 are adjacent); this names where each
    buffer really is. Buffers without a fixed offset are reported over the whole arena.
    """
    board = plan.board
    runs = {r.name for r in board.sram_regions}
    seen: dict[tuple[str, str, int, int], dict[str, Any]] = {}
    for step in plan.steps:
        for part in step.partitions:
            for acc in part.accesses:
                if acc.memory not in runs:
                    continue
                offset, size = (acc.offset_bytes, acc.size_bytes) if acc.offset_bytes is not None else (0, plan.arena_bytes)
                key = (acc.tensor, acc.memory, offset, size)
                if key not in seen:
                    span = board.sram_span(acc.memory, offset, size)
                    seen[key] = {"tensor": acc.tensor, "role": acc.role, "memory": acc.memory,
                                 "offset_bytes": acc.offset_bytes, "size_bytes": size,
                                 "regions": list(span.regions),
                                 "address_range": [f"{span.start_address:#010x}", f"{span.end_address:#010x}"]}
    return list(seen.values())


def layer_fields(plan: Plan) -> list[dict[str, Any]]:
    """Per layer: the op it runs, its partitions (output-channel and output-row ranges, ``tiles``:
    how many distinct of each), its fused group and where each operand lives."""
    out = []
    for st in plan.steps:
        placement: dict[str, str] = {}
        for part in st.partitions:
            for acc in part.accesses:
                placement[acc.tensor] = acc.memory
        out.append({"op_index": st.op_index, "partitions": len(st.partitions),
                    "partition_channels": [[p.channel_start, p.channel_stop] for p in st.partitions],
                    "partition_rows": [[p.row_start, p.row_stop] for p in st.partitions],
                    "tiles": st.tiles, "fused_group": st.fused_group,
                    "recompute_macs": sum(p.recompute_macs for p in st.partitions),
                    "placement": placement})
    return out


@dataclass(frozen=True)
class Row:
    strategy: str
    feasible: bool
    reason: str | None
    latency_ms: float
    energy_mj: float
    compute_bound_ms: float
    sram_bytes: int
    arena_bytes: int
    runtime_overhead_bytes: int
    arena_runtime: str
    flash_bytes: int
    external_bytes: dict[str, int]
    dma_bytes: int
    overlay_buffer_bytes: int
    partitions: int
    summary: str
    warnings: list[str]
    latency_error_pct: float | None = None
    energy_error_pct: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def row_of(plan: Plan, sim: SimResult, compute_bound_ms: float) -> Row:
    return Row(plan.strategy, plan.feasible, plan.reason, sim.latency_ms, sim.energy.total_mj, compute_bound_ms,
               plan.sram_bytes, plan.arena_bytes, plan.runtime_overhead_bytes, plan.arena_runtime, plan.flash_bytes,
               dict(plan.external_bytes), plan.dma_bytes, plan.overlay_buffer_bytes,
               sum(len(s.partitions) for s in plan.steps), plan.assumptions.get("strategy", plan.strategy),
               list(plan.warnings), plan.params.latency_error_pct, plan.params.energy_error_pct)


def compare_rows(evaluated: list[Evaluated], compute_bound_ms: float) -> list[Row]:
    return [row_of(e.plan, e.sim, compute_bound_ms) for e in evaluated]


def render_rows(rows: list[Row], title: str, caption: str, console: Any) -> None:
    """Strategies side by side: strategy, feasible, latency, energy and SRAM always; the rest as they fit."""
    from rich.markup import escape

    from tinyops.backends.reports.bands import pm
    from tinyops.backends.reports.tables import Column, print_table

    columns = [Column("strategy", "left", key=True), Column("feasible", key=True), Column("latency ms", key=True),
               Column("energy mJ", key=True), Column("SRAM B", key=True), Column("x compute bound", drop_rank=2),
               Column("int. flash B", drop_rank=3), Column("external B", "left", drop_rank=6, wrap=True),
               Column("DMA B", drop_rank=4), Column("overlay buf B", drop_rank=5), Column("partitions", drop_rank=7)]
    table_rows = []
    for r in rows:
        ext = "\n".join(f"{k} {v:,}" for k, v in r.external_bytes.items()) or "-"
        table_rows.append([r.strategy, "yes" if r.feasible else "[red]no[/]", f"{r.latency_ms:.1f}{pm(r.latency_error_pct)}",
                           f"{r.energy_mj:.1f}{pm(r.energy_error_pct)}", f"{r.sram_bytes:,}",
                           f"{r.latency_ms / r.compute_bound_ms:.3f}" if r.compute_bound_ms else "-",
                           f"{r.flash_bytes:,}", ext, f"{r.dma_bytes:,}", f"{r.overlay_buffer_bytes:,}",
                           str(r.partitions)])
    print_table(console, columns, table_rows, title=title, caption=caption)
    for r in rows:
        if not r.feasible:
            console.print(f"[red]{r.strategy}[/]: {escape(r.reason or '')}")
    warnings = sorted({w for r in rows for w in r.warnings})
    for w in warnings:
        console.print(f"[yellow]warning[/]: {escape(w)}")


def movement_json(costs: list[MovementCost]) -> list[dict[str, Any]]:
    return [{"memory": c.memory, "kind": c.kind, "note": c.note, "bytes": c.nbytes,
             "read_ms": None if c.read_s is None else c.read_s * 1e3,
             "write_ms": None if c.write_s is None else c.write_s * 1e3,
             "read_mj": c.read_mj, "write_mj": c.write_mj} for c in costs]


def render_movement(costs: list[MovementCost], console: Any) -> None:
    """Svoboda et al.'s data-movement view: reading and writing one block in each memory."""
    from rich.table import Table

    nbytes = costs[0].nbytes if costs else 0
    table = Table(title=f"moving {nbytes:,} B (time; energy beyond the board's run power)", title_justify="left",
                  header_style="bold", caption="block devices move whole blocks; a partial block written is read "
                                               "first; internal flash is not written at run time")
    for name in ("memory", "kind", "read ms", "write ms", "read mJ", "write mJ"):
        table.add_column(name, justify="left" if name in ("memory", "kind") else "right", no_wrap=True)
    for c in costs:
        table.add_row(c.memory + (f" ({c.note})" if c.note else ""), c.kind,
                      "-" if c.read_s is None else f"{c.read_s * 1e3:.3f}",
                      "-" if c.write_s is None else f"{c.write_s * 1e3:.3f}",
                      f"{c.read_mj:.4f}", "-" if c.write_s is None else f"{c.write_mj:.4f}")
    console.print(table)


def timeline_figure(evaluated: list[Evaluated], title: str) -> Any:
    """CPU and DMA lanes, one panel per strategy, on a shared time axis, with op labels and a legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinyops.backends.reports.timeline import add_legend, draw_lanes, lanes_of

    lanes_of_each = [lanes_of(e.sim.tasks) for e in evaluated]
    heights = [0.6 + 0.45 * len(lanes) for lanes in lanes_of_each]
    fig, axes = plt.subplots(len(evaluated), 1, figsize=(12, 1.4 + sum(heights)), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    longest_ms = max((e.sim.latency_ms for e in evaluated), default=0.0)
    for ax, e, lanes in zip(axes[:, 0], evaluated, lanes_of_each):
        draw_lanes(ax, e.sim.tasks, lanes, longest_ms, {s.step: s.type for s in e.plan.steps})
        ax.set_title(f"{e.plan.strategy}: {e.sim.latency_ms:.1f} ms"
                     + ("" if e.plan.feasible else " (infeasible)"), fontsize=8, loc="left")
    add_legend(axes[0, 0])
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["memory_labels", "sram_buffers", "Row", "compare_rows", "movement_json", "render_movement", "row_of",
           "render_rows", "timeline_figure", "plan_fields", "layer_fields",
           "dma_bytes"]
