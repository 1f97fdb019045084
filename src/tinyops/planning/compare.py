"""Every strategy side by side (like TinyOpsV2 Tables 1-2), and the plan fields of the JSON report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinyops.planning.overlay import overlay_buffer_bytes
from tinyops.planning.plan import Plan
from tinyops.planning.strategies import Evaluated
from tinyops.sim.simulator import SimResult


def dma_bytes(plan: Plan) -> int:
    """Bytes the plan copies with DMA engines (CPU-driven copies not counted)."""
    return sum(t.bytes for t in plan.transfers if t.engine != "cpu")


def plan_fields(plan: Plan) -> dict[str, Any]:
    """The issue-#6 additions to `tinyops plan --json`."""
    return {
        "strategy": plan.strategy,
        "external_bytes": dict(plan.external_bytes),
        "dma_bytes": dma_bytes(plan),
        "overlay_buffer_bytes": overlay_buffer_bytes(plan),
        "sram_buffers": sram_buffers(plan),
    }


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
                offset, size = (acc.offset_bytes, acc.size_bytes) if acc.offset_bytes is not None else (0, plan.sram_bytes)
                key = (acc.tensor, acc.memory, offset, size)
                if key not in seen:
                    span = board.sram_span(acc.memory, offset, size)
                    seen[key] = {"tensor": acc.tensor, "role": acc.role, "memory": acc.memory,
                                 "offset_bytes": acc.offset_bytes, "size_bytes": size,
                                 "regions": list(span.regions),
                                 "address_range": [f"{span.start_address:#010x}", f"{span.end_address:#010x}"]}
    return list(seen.values())


def layer_fields(plan: Plan) -> list[dict[str, Any]]:
    """Per layer: its partition count and where each operand lives."""
    out = []
    for st in plan.steps:
        placement: dict[str, str] = {}
        for part in st.partitions:
            for acc in part.accesses:
                placement[acc.tensor] = acc.memory
        out.append({"partitions": len(st.partitions), "placement": placement})
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
    flash_bytes: int
    external_bytes: dict[str, int]
    dma_bytes: int
    overlay_buffer_bytes: int
    partitions: int
    summary: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def row_of(plan: Plan, sim: SimResult, compute_bound_ms: float) -> Row:
    return Row(plan.strategy, plan.feasible, plan.reason, sim.latency_ms, sim.energy.total_mj, compute_bound_ms,
               plan.sram_bytes, plan.flash_bytes, dict(plan.external_bytes), dma_bytes(plan),
               overlay_buffer_bytes(plan), sum(len(s.partitions) for s in plan.steps),
               plan.assumptions.get("strategy", plan.strategy))


def compare_rows(evaluated: list[Evaluated], compute_bound_ms: float) -> list[Row]:
    return [row_of(e.plan, e.sim, compute_bound_ms) for e in evaluated]


def render_rows(rows: list[Row], title: str, caption: str, console: Any) -> None:
    from rich.table import Table

    table = Table(title=title, caption=caption, title_justify="left", header_style="bold")
    for name in ("strategy", "feasible", "latency ms", "x compute bound", "energy mJ", "SRAM B", "int. flash B",
                 "external B", "DMA B", "overlay buf B", "partitions"):
        table.add_column(name, justify="left" if name in ("strategy", "external B") else "right")
    for r in rows:
        ext = ", ".join(f"{k} {v:,}" for k, v in r.external_bytes.items()) or "-"
        table.add_row(r.strategy, "yes" if r.feasible else "[red]no[/]", f"{r.latency_ms:.1f}",
                      f"{r.latency_ms / r.compute_bound_ms:.3f}" if r.compute_bound_ms else "-",
                      f"{r.energy_mj:.1f}", f"{r.sram_bytes:,}", f"{r.flash_bytes:,}", ext, f"{r.dma_bytes:,}",
                      f"{r.overlay_buffer_bytes:,}", str(r.partitions))
    console.print(table)
    for r in rows:
        if not r.feasible:
            console.print(f"[red]{r.strategy}[/]: {r.reason}")


def timeline_figure(evaluated: list[Evaluated], title: str) -> Any:
    """CPU and DMA lanes, one panel per strategy, on a shared time axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lanes_of = [["cpu"] + sorted({t.lane for t in e.sim.tasks if t.lane != "cpu"}) for e in evaluated]
    heights = [0.6 + 0.45 * len(lanes) for lanes in lanes_of]
    fig, axes = plt.subplots(len(evaluated), 1, figsize=(12, 1.0 + sum(heights)), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    colors = {"compute": "tab:blue", "transfer": "tab:orange"}
    for ax, e, lanes in zip(axes[:, 0], evaluated, lanes_of):
        for t in e.sim.tasks:
            if t.start_s is None or t.end_s is None:
                continue
            ax.barh(lanes.index(t.lane), (t.end_s - t.start_s) * 1e3, left=t.start_s * 1e3, height=0.6,
                    color=colors[t.kind], edgecolor="white", linewidth=0.2)
        ax.set_yticks(range(len(lanes)), [("CPU" if lane == "cpu" else lane) for lane in lanes], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{e.plan.strategy}: {e.sim.latency_ms:.1f} ms"
                     + ("" if e.plan.feasible else " (infeasible)"), fontsize=8, loc="left")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["sram_buffers", "Row", "compare_rows", "row_of", "render_rows", "timeline_figure", "plan_fields", "layer_fields",
           "dma_bytes"]
