"""`tinyops analyze MODEL [--board ID|FILE] [--kernels K] [--json] [--plot PNG]`."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from rich.table import Table

from tinyops.analysis import Analysis, analyze
from tinyops.commands.outputs import add_force_option, checked_output
from tinyops.commands.common import DEFAULT_BOARD, default_model_path, make_console, print_json, save_figure
from tinyops.frontends import load_model
from tinyops.ops.registry import KERNEL_LIBRARIES

if TYPE_CHECKING:
    from rich.console import Console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze", help="per-op MACs, weights, activations, working set; fit against a board",
        description="Analyze a model. Without MODEL, analyzes the bundled default model "
                    f"(MLPerf Tiny VWW MobileNetV1) on the {DEFAULT_BOARD} board.")
    parser.add_argument("model", nargs="?", help="a .tflite model (default: the bundled VWW model)")
    parser.add_argument("--board", help="board ID (see `tinyops boards`) or path to a board .toml")
    parser.add_argument("--kernels", choices=KERNEL_LIBRARIES, default="cmsis-nn",
                        help="kernel library whose scratch buffers count (default: cmsis-nn)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--plot", metavar="PNG", help="write the working-set-per-layer plot")
    add_force_option(parser)
    parser.set_defaults(handler=run)


def _kib(value: int) -> str:
    return f"{value / 1024:,.1f}"


def render(analysis: Analysis, console: "Console") -> None:
    table = Table(title=f"{analysis.model}", title_justify="left", header_style="bold")
    for name, justify in [("#", "right"), ("op", "left"), ("output", "left"), ("MACs", "right"),
                          ("weights KiB", "right"), ("in KiB", "right"), ("out KiB", "right"),
                          ("working set KiB", "right"), ("scratch B", "right")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for op in analysis.ops:
        shape = " ".join("x".join(str(d) for d in s) for s in op.output_shapes)
        label = op.type + (" (opaque)" if op.opaque else "")
        index = str(op.index) if op.subgraph == 0 else f"{op.subgraph}:{op.index}"
        table.add_row(index, label, shape, f"{op.macs:,}", _kib(op.weight_bytes), _kib(op.input_bytes),
                      _kib(op.output_bytes), _kib(op.working_set_bytes), f"{op.scratch_bytes:,}")
    console.print(table)
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
        ("SRAM lower bound", f"{totals.sram_lower_bound_bytes:,}"),
    ]
    if totals.opaque_ops:
        rows.append(("opaque ops (0 MACs counted)", ", ".join(totals.opaque_ops)))
    for key, value in rows:
        summary.add_row(key, value)
    console.print(summary)
    if analysis.board is not None:
        fit = analysis.board
        verdict = lambda ok: "[green]fits[/green]" if ok else "[red]does not fit[/red]"  # noqa: E731
        console.print(f"\nOn [bold]{fit.id}[/bold]:")
        console.print(f"  SRAM  {verdict(fit.fits_sram)}: needs {fit.sram_needed_bytes:,} B of "
                      f"{fit.sram_available_bytes:,} B (margin {fit.sram_margin_bytes:,} B)")
        console.print(f"  flash {verdict(fit.fits_flash)}: needs {fit.flash_needed_bytes:,} B of "
                      f"{fit.flash_available_bytes:,} B (margin {fit.flash_margin_bytes:,} B)")
    console.print("\n[dim]Assumptions: " + "; ".join(f"{k}: {v}" for k, v in analysis.assumptions.items()) + "[/dim]")


def run(args: argparse.Namespace) -> int:
    from tinyops.hw.board import load_board

    model_path = args.model if args.model is not None else str(default_model_path())
    checked_output(args, "--plot", args.plot, inputs=[model_path, args.board], figure=True)
    board_name = args.board if args.board is not None else (DEFAULT_BOARD if args.model is None else None)
    board = load_board(board_name) if board_name is not None else None
    graph = load_model(model_path)
    analysis = analyze(graph, board=board, kernels=args.kernels, flash_bytes=os.path.getsize(model_path))
    if args.plot:
        from tinyops.analysis.plot import working_set_figure

        save_figure(working_set_figure(analysis), args.plot)
    if args.json:
        print_json(analysis.to_json())
    else:
        render(analysis, make_console())
        if args.plot:
            make_console().print(f"plot written to {args.plot}")
    return 0
