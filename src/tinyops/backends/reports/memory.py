"""The report of `tinyops memory`: the plan summary, the buffer table and the arena plot."""

from __future__ import annotations

import argparse
from typing import Any


def plot_figure(plan: Any, name: str) -> Any:
    from tinyops.backends.reports.memory_plot import plot_plan

    return plot_plan(plan, f"{name}: {plan.planner} plan, {plan.arena_bytes:,} bytes "
                           f"(TFLM {plan.tflm_arena_bytes:,})")


def print_tables(plan: Any, name: str, exported: Any, args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = Table(title=f"memory plan: {name}", show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    reduction = 1 - plan.arena_bytes / plan.tflm_arena_bytes if plan.tflm_arena_bytes else 0.0
    summary.add_row("planner / kernels", f"{plan.planner} / {plan.kernels}")
    summary.add_row("arena", f"{plan.arena_bytes:,} B")
    summary.add_row("lower bound (max live)", f"{plan.lower_bound_bytes:,} B (gap {plan.gap_bytes:,} B)")
    summary.add_row("TFLM arena (reproduced)", f"{plan.tflm_arena_bytes:,} B")
    summary.add_row("reduction vs TFLM", f"{reduction:.1%}")
    summary.add_row("placement", f"{plan.strategy}{' (optimal)' if plan.proven_optimal else ''}")
    summary.add_row("operator order", "reordered" if plan.reordered else "as stored")
    kinds: dict[str, int] = {}
    for alias in plan.aliases:
        kinds[alias.kind] = kinds.get(alias.kind, 0) + 1
    summary.add_row("in place", ", ".join(f"{k} {n}" for k, n in kinds.items()) or "none")
    summary.add_row("planning time", f"{plan.planning_time_ms:.1f} ms")
    console.print(summary)
    table = Table(title="tensors and scratch buffers")
    for column in ("name", "bytes", "offset", "first op", "last op", "in place of"):
        table.add_column(column, justify="right" if column in ("bytes", "offset", "first op", "last op") else "left")
    for buffer in plan.buffers:
        source = f"{buffer.inplace_of} ({buffer.inplace_kind})" if buffer.inplace_of else ""
        table.add_row(buffer.name, f"{buffer.size_bytes:,}", f"{buffer.offset:,}", str(buffer.first_op),
                      str(buffer.last_op), source)
    console.print(table)
    if exported is not None:
        console.print(f"wrote {args.write}: TFLM will report an arena head of {exported.tflm_head_bytes:,} bytes")
        if exported.left_out:
            left = ", ".join(f"{n} {k}" for k, n in exported.left_out.items())
            console.print(f"note: the exported plan leaves out in-place ops TFLM's kernels cannot run ({left}); "
                          f"our runtime's arena is {plan.arena_bytes:,} bytes, TFLM's {exported.tflm_head_bytes:,}")
    if args.plot:
        console.print(f"plot written to {args.plot}")


__all__ = ["plot_figure", "print_tables"]
