"""The report of one plan: the JSON contract of `tinyops plan`, its CSV, table and timeline."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyops.backends.reports.bands import band_fields, energy_text, latency_text, pm
from tinyops.backends.reports.plan_compare import layer_fields, plan_fields
from tinyops.planning.common import compute_bound_cycles
from tinyops.planning.plan import Plan
from tinyops.sim.simulator import SimResult
if TYPE_CHECKING:
    from rich.console import Console


def assumptions_line(plan: Plan) -> str:
    return (f"board {plan.board.id} ({plan.board.core}) at {plan.clock_mhz:g} MHz, kernels {plan.kernels}, "
            f"strategy {plan.strategy}, arena for {plan.arena_runtime}, cost params {plan.params.core}/{plan.params.spec} "
            f"({plan.params.status}, latency{pm(plan.params.latency_error_pct)})")


def report(plan: Plan, sim: SimResult) -> dict[str, Any]:
    """The JSON contract of `tinyops plan` (see docs/cost_model.md and docs/tinyops.md)."""
    compute_bound_ms = compute_bound_cycles(plan) / (plan.clock_mhz * 1e3)
    data: dict[str, Any] = {
        "model": plan.model,
        "board": plan.board.id,
        "core": plan.board.core,
        "strategy": plan.strategy,
        "kernels": plan.kernels,
        "clock_mhz": plan.clock_mhz,
        "feasible": plan.feasible,
        "reason": plan.reason,
        "latency_ms": sim.latency_ms,
        "energy_mj": sim.energy.total_mj,
        "energy_scope": sim.energy.scope,
        **band_fields(plan.params),
        "compute_bound_ms": compute_bound_ms,
        "sram_bytes": plan.sram_bytes,
        "arena_bytes": plan.arena_bytes,
        "runtime_overhead_bytes": plan.runtime_overhead_bytes,
        "sram_lower_bound_bytes": plan.sram_lower_bound_bytes,
        "arena_runtime": plan.arena_runtime,
        "warnings": list(plan.warnings),
        "flash_bytes": plan.flash_bytes,
        "external_bytes": plan.external_bytes,
        "macs": sum(s.macs for s in sim.steps),
        "energy": {"run_power_mw": sim.energy.run_power_mw, "core_mj": sim.energy.core_mj,
                   "movement_mj": sim.energy.movement_mj, "scope": sim.energy.scope,
                   "by_scope_mj": sim.energy.by_scope_mj},
        "bytes_read": sim.bytes_read,
        "bytes_written": sim.bytes_written,
        "placement": plan.placement(),
        "transfers": [{"src": t.src, "dst": t.dst, "bytes": t.bytes, "engine": t.engine,
                       "needed_by": list(t.needed_by), "tensor": t.tensor, "tensor_index": t.tensor_index,
                       "src_offset_bytes": t.src_offset_bytes, "dst_offset_bytes": t.dst_offset_bytes,
                       "direction": t.direction, "waits_for": list(t.waits_for),
                       "rows": None if t.row_start is None else [t.row_start, t.row_stop],
                       "channels": None if t.channel_start is None else [t.channel_start, t.channel_stop]}
                      for t in plan.transfers],
        "buffers": [asdict(b) for b in plan.buffers],
        "params_status": plan.params.status,
        "assumptions": {**plan.assumptions, "summary": assumptions_line(plan)},
        "layers": [{
            "index": s.step, "type": s.type, "macs": s.macs, "cycles": s.cycles,
            "compute_cycles": int(round(s.compute_cycles)), "stall_cycles": int(round(s.stall_cycles)),
            "latency_ms": s.latency_ms, "start_ms": s.end_ms - s.latency_ms, "end_ms": s.end_ms,
            "bytes_read": s.bytes_read, "bytes_written": s.bytes_written,
        } for s in sim.steps],
    }
    data.update(plan_fields(plan))
    for layer, extra in zip(data["layers"], layer_fields(plan)):
        layer.update(extra)
    return data


def _memories(data: dict[str, Any]) -> list[str]:
    names: set[str] = set()
    for layer in data["layers"]:
        names.update(layer["bytes_read"])
        names.update(layer["bytes_written"])
    return sorted(names)


def csv_text(data: dict[str, Any]) -> str:
    mems = _memories(data)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["index", "type", "macs", "cycles", "share_percent", "latency_ms"]
               + [f"read_{m}_bytes" for m in mems] + [f"written_{m}_bytes" for m in mems])
    total = sum(layer["cycles"] for layer in data["layers"]) or 1
    for layer in data["layers"]:
        w.writerow([layer["index"], layer["type"], layer["macs"], layer["cycles"],
                    f"{100 * layer['cycles'] / total:.2f}", f"{layer['latency_ms']:.4f}"]
                   + [layer["bytes_read"].get(m, 0) for m in mems]
                   + [layer["bytes_written"].get(m, 0) for m in mems])
    return buf.getvalue()


def render(data: dict[str, Any], console: "Console") -> None:
    """The per-layer table: #, op, ms and share always; MACs, cycles and bytes per memory as they fit."""
    from rich.markup import escape

    from tinyops.backends.reports.tables import Column, print_table

    mems = _memories(data)
    labels = {m: data.get("memory_labels", {}).get(m, {}).get("label", m) for m in mems}
    columns = [Column("#", key=True), Column("op", "left", key=True), Column("ms", key=True),
               Column("share %", key=True), Column("MACs", drop_rank=3), Column("cycles", drop_rank=4)]
    columns += [Column(f"read {labels[m]}", drop_rank=2) for m in mems]
    columns += [Column(f"write {labels[m]}", drop_rank=5) for m in mems]
    total = sum(layer["cycles"] for layer in data["layers"]) or 1
    rows = [[str(layer["index"]), layer["type"], f"{layer['latency_ms']:.3f}", f"{100 * layer['cycles'] / total:.1f}",
             f"{layer['macs']:,}", f"{layer['cycles']:,}",
             *[f"{layer['bytes_read'].get(m, 0):,}" for m in mems],
             *[f"{layer['bytes_written'].get(m, 0):,}" for m in mems]] for layer in data["layers"]]
    print_table(console, columns, rows, title=f"{data['model']}", caption=data["assumptions"]["summary"],
                more="--json or --csv")
    for legend in data.get("memory_labels", {}).values():
        console.print(f"[dim]{legend['label']}: {legend['description']}[/dim]")
    status = "feasible" if data["feasible"] else f"[bold red]NOT feasible[/]: {escape(data['reason'] or '')}"
    console.print(f"{status}\nlatency {latency_text(data['latency_ms'], data['latency_error_pct'])} (compute bound "
                  f"{data['compute_bound_ms']:.2f} ms), "
                  f"energy {energy_text(data['energy_mj'], data['energy_error_pct'])} ({data['energy_scope']} "
                  f"supply) at {data['energy']['run_power_mw']:.0f} mW, "
                  f"flash {data['flash_bytes']:,} B, {data['macs']:,} MACs")
    console.print(f"SRAM {data['sram_bytes']:,} B = arena {data['arena_bytes']:,} B ({data['arena_runtime']} runtime) "
                  f"+ runtime overhead {data['runtime_overhead_bytes']:,} B; lower bound "
                  f"{data['sram_lower_bound_bytes']:,} B")
    console.print(f"[dim]error band: {escape(data['error_band']['profile'])} on Cortex-{data['error_band']['core']}, "
                  f"{escape(data['error_band']['note'])}"
                  + ("" if data["energy_error_pct"] is not None else
                     "; ±? energy: no energy cross-validation for this profile (at least the latency band)")
                  + "[/dim]")
    if data.get("auto"):
        console.print(escape(data["auto"]["note"]))
    for warning in data["warnings"]:
        console.print(f"[yellow]warning[/]: {escape(warning)}")


def timeline_figure(plan: Plan, sim: SimResult) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinyops.backends.reports.timeline import add_legend, draw_lanes, lanes_of

    lanes = lanes_of(sim.tasks)
    fig, ax = plt.subplots(figsize=(12, 1.6 + 0.6 * len(lanes)))
    draw_lanes(ax, sim.tasks, lanes, sim.latency_ms, {s.step: s.type for s in plan.steps})
    add_legend(ax)
    ax.set_xlabel("time (ms)")
    ax.set_title(f"{Path(plan.model).name}: {assumptions_line(plan)}", fontsize=8)
    return fig

__all__ = ["assumptions_line", "csv_text", "render", "report", "timeline_figure"]
