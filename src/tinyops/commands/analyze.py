"""`tinyops analyze MODEL [--board ID|FILE] [--kernels K] [--json] [--plot PNG] [--drop-dead-channels OUT]`."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from typing import TYPE_CHECKING

from tinyops.analysis import analyze
from tinyops.backends.reports.analysis import render
from tinyops.commands.outputs import add_force_option, checked_output
from tinyops.commands.common import DEFAULT_BOARD, default_model_path, make_console, print_json, save_figure
from tinyops.errors import TinyOpsError
from tinyops.frontends import load_model
from tinyops.kernels.library import kernels_arg

if TYPE_CHECKING:
    from rich.console import Console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze", help="per-op MACs, weights, activations, working set; fit against a board",
        description="Analyze a model. Without MODEL, analyzes the bundled default model "
                    f"(MLPerf Tiny VWW MobileNetV1) on the {DEFAULT_BOARD} board.")
    parser.add_argument("model", nargs="?", help="a .tflite model (default: the bundled VWW model)")
    parser.add_argument("--board", help="board ID (see `tinyops boards`) or path to a board .toml")
    parser.add_argument("--kernels", type=kernels_arg, metavar="ID[@VERSION]", default="cmsis-nn",
                        help="kernel library whose scratch buffers count (default: cmsis-nn)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--plot", metavar="PNG", help="write the working-set-per-layer plot")
    parser.add_argument("--drop-dead-channels", metavar="OUT.tflite",
                        help="write the model without the dead channels whose removal keeps the outputs "
                             "bit-identical (output channels with all-zero filters that output real 0, the "
                             "depthwise channels they feed, folded into the next conv's bias)")
    add_force_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tinyops.hw.board import load_board

    model_path = args.model if args.model is not None else str(default_model_path())
    checked_output(args, "--plot", args.plot, inputs=[model_path, args.board], figure=True)
    checked_output(args, "--drop-dead-channels", args.drop_dead_channels, inputs=[model_path, args.board])
    if args.plot is not None and args.plot == args.drop_dead_channels:
        raise TinyOpsError("--plot and --drop-dead-channels name the same file; give two names")
    board_name = args.board if args.board is not None else (DEFAULT_BOARD if args.model is None else None)
    board = load_board(board_name) if board_name is not None else None
    graph = load_model(model_path)
    analysis = analyze(graph, board=board, kernels=args.kernels, flash_bytes=os.path.getsize(model_path))
    removal = None
    if args.drop_dead_channels:
        from tinyops.backends.tflite_writer import write_tflite
        from tinyops.quant.dead_channels import drop_dead_channels

        smaller, removal = drop_dead_channels(graph)
        write_tflite(smaller, args.drop_dead_channels)
    if args.plot:
        from tinyops.backends.reports.analysis_plot import working_set_figure

        save_figure(working_set_figure(analysis), args.plot)
    if args.json:
        payload = analysis.to_json()
        if removal is not None:
            payload["dead_channel_removal"] = {
                "output": args.drop_dead_channels, "removed_channels": removal.removed_channels,
                "macs_before": removal.macs_before, "macs_after": removal.macs_after,
                "ops": [asdict(op) for op in removal.ops]}
        print_json(payload)
    else:
        from tinyops.backends.reports.tables import make_report_console

        render(analysis, make_report_console())
        if args.plot:
            make_console().print(f"plot written to {args.plot}")
        if removal is not None:
            make_console().print(
                f"dead channels: removed {removal.removed_channels:,} channels ({removal.dead_channels:,} "
                f"all-zero filters found), MACs {removal.macs_before:,} -> {removal.macs_after:,}; "
                f"written to {args.drop_dead_channels}")
    return 0
