"""The report of `tinyops analyze`: the per-op table, the totals and the fit on a board."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from tinyops.analysis import Analysis

if TYPE_CHECKING:
    from rich.console import Console


def _kib(value: int) -> str:
    return f"{value / 1024:,.1f}"


def render(analysis: Analysis, console: "Console") -> None:
    from tinyops.backends.reports.tables import Column, print_table

    columns = [Column("#", key=True), Column("op", "left", key=True), Column("output", "left", drop_rank=3),
               Column("MACs", key=True), Column("weights KiB", key=True), Column("in KiB", drop_rank=2),
               Column("out KiB", drop_rank=2), Column("working set KiB", key=True), Column("scratch B", drop_rank=1)]
    table_rows = []
    for op in analysis.ops:
        shape = " ".join("x".join(str(d) for d in s) for s in op.output_shapes)
        label = op.type + (" (opaque)" if op.opaque else "")
        index = str(op.index) if op.subgraph == 0 else f"{op.subgraph}:{op.index}"
        table_rows.append([index, label, shape, f"{op.macs:,}", _kib(op.weight_bytes), _kib(op.input_bytes),
                     _kib(op.output_bytes), _kib(op.working_set_bytes), f"{op.scratch_bytes:,}"])
    print_table(console, columns, table_rows, title=f"{analysis.model}")
    totals = analysis.totals
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    rows = [
        ("MACs", f"{totals.macs:,}"),
        ("parameters", f"{totals.params:,}"),
        ("weight bytes", f"{totals.weight_bytes:,}"),
        ("flash bytes (serialized model)", f"{totals.flash_bytes:,}"),
        ("peak activation bytes (model order)", f"{totals.peak_activation_bytes:,} at op {totals.peak_step}"),
        ("largest scratch buffer", f"{totals.max_scratch_bytes:,} ({analysis.kernels})"),
        ("state (variable tensors)", f"{totals.state_bytes:,}"),
        ("SRAM lower bound (live activations + scratch + state)", f"{totals.sram_lower_bound_bytes:,}"),
        ("TFLM arena (tflm planner, head)", f"{totals.arena_bytes:,}"),
        ("TFLM runtime overhead (persistent, 32-bit)", f"{totals.runtime_overhead_bytes:,}"),
        ("SRAM needed (arena + overhead)", f"{totals.sram_bytes:,}"),
    ]
    if totals.dead_channels:
        rows.append(("dead channels (all-zero filters)",
                     f"{totals.dead_channels:,}; live MACs {totals.live_macs:,} "
                     f"({totals.live_macs / max(totals.macs, 1):.0%})"))
    if totals.opaque_ops:
        rows.append(("opaque ops (0 MACs counted)", ", ".join(totals.opaque_ops)))
    for key, value in rows:
        summary.add_row(key, value)
    console.print(summary)
    if analysis.board is not None:
        fit = analysis.board
        verdict = lambda ok: "[green]fits[/green]" if ok else "[red]does not fit[/red]"  # noqa: E731
        console.print(f"\nOn [bold]{fit.id}[/bold]:")
        console.print(f"  SRAM  {verdict(fit.fits_sram)}: needs {fit.sram_needed_bytes:,} B (arena + TFLM "
                      f"overhead) of {fit.sram_available_bytes:,} B (margin {fit.sram_margin_bytes:,} B)")
        console.print(f"  flash {verdict(fit.fits_flash)}: needs {fit.flash_needed_bytes:,} B of "
                      f"{fit.flash_available_bytes:,} B (margin {fit.flash_margin_bytes:,} B)")
    console.print("\n[dim]Assumptions: " + "; ".join(f"{k}: {v}" for k, v in analysis.assumptions.items()) + "[/dim]")


__all__ = ["render"]
