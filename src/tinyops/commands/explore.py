"""`tinyops explore`: width x resolution sweeps of zoo families over boards and placement strategies."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from tinyops.backends.reports.explore import render, summarize
from tinyops.commands.common import make_console, print_json
from tinyops.commands.outputs import add_force_option
from tinyops.errors import TinyOpsError
from tinyops.files import check_output_path
from tinyops.kernels.library import kernels_arg

PAPER_BOARDS = ("stm32f469i-disco@paper", "stm32f746g-disco@paper", "stm32h743i-eval@paper")
DEFAULT_WIDTHS = "0.25,0.35,0.5,0.75,1.0"
DEFAULT_RESOLUTIONS = "96,128,160,192,224"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explore", help="sweep families x widths x resolutions over boards and strategies",
        description="For every family, width, resolution and board: build the zoo model, analyze it, plan "
                    "its memory and placement with each strategy and simulate it with the cost model. "
                    "Writes one CSV row per (configuration, strategy) and, with --plot, the accuracy/MACs, "
                    "MAC-share and Pareto figures.")
    p.add_argument("--family", required=True, help="zoo families, comma separated (see 'tinyops zoo list')")
    p.add_argument("--widths", default=DEFAULT_WIDTHS, help=f"width multipliers (default {DEFAULT_WIDTHS})")
    p.add_argument("--resolutions", default=DEFAULT_RESOLUTIONS,
                   help=f"input resolutions, 160 or HxW (default {DEFAULT_RESOLUTIONS})")
    p.add_argument("--boards", default=",".join(PAPER_BOARDS),
                   help="board IDs (ID@paper for a paper's configuration) or .toml paths; 'all' = every "
                        "bundled board (default: the TinyOpsV2 boards @paper)")
    p.add_argument("--strategies", help="placement strategies (default: every strategy of the planning "
                                        "registry; 'auto' adds the fastest feasible one)")
    p.add_argument("--kernels", default="cmsis-nn", type=kernels_arg, metavar="ID[@VERSION]",
                   help="kernel library and profile version (default cmsis-nn, its newest profile)")
    p.add_argument("--workers", type=int, help="worker processes (default: all CPU cores)")
    p.add_argument("--cluster", default="local", choices=("local", "ray"),
                   help="local: a process pool (default); ray: a Ray cluster (pip install 'tinyops[ray]')")
    p.add_argument("--ray-address", help="Ray cluster address (default: start or join a local Ray)")
    p.add_argument("--output", required=True, help="results CSV (never overwritten; see --resume)")
    p.add_argument("--resume", action="store_true", help="keep the rows already in --output and compute the rest")
    p.add_argument("--plot", metavar="DIR", help="write the figures (PNG) into DIR")
    p.add_argument("--accuracy-csv", action="append", default=[], metavar="CSV",
                   help="your own accuracy figures (zoo accuracy CSV columns); they win over the bundled ones")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of tables")
    add_force_option(p)
    p.set_defaults(handler=run)


def _split(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise TinyOpsError(f"--{what}: give at least one value, comma separated")
    return items


def _widths(text: str) -> tuple[float, ...]:
    out = []
    for item in _split(text, "widths"):
        try:
            out.append(float(item))
        except ValueError:
            raise TinyOpsError(f"--widths: {item!r} is not a number") from None
    return tuple(dict.fromkeys(out))


def _boards(text: str) -> tuple[str, ...]:
    if text.strip() == "all":
        from tinyops.hw.board import board_ids

        return tuple(board_ids())
    return tuple(dict.fromkeys(_split(text, "boards")))


def build_sweep(args: argparse.Namespace) -> Any:
    from tinyops.search.explore import Sweep, strategy_names
    from tinyops.zoo.scaling import parse_resolution

    strategies = tuple(_split(args.strategies, "strategies")) if args.strategies else strategy_names()
    return Sweep(families=tuple(dict.fromkeys(_split(args.family, "family"))), widths=_widths(args.widths),
                 resolutions=tuple(dict.fromkeys(parse_resolution(r) for r in _split(args.resolutions, "resolutions"))),
                 boards=_boards(args.boards), strategies=tuple(dict.fromkeys(strategies)), kernels=args.kernels)


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from tinyops.search.explore import accuracy_model, explore, validate_sweep

    sweep = validate_sweep(build_sweep(args))  # bad input fails before the progress bar appears
    output = Path(args.output)
    if output.exists() and not args.resume:
        raise TinyOpsError(f"{output} exists; pass --resume to continue that sweep, or choose another --output")
    # --resume is this command's --force: it keeps and extends the existing CSV, never drops it.
    check_output_path(args.output, "--output", force=args.resume)
    plot_dir = Path(args.plot) if args.plot is not None else None
    if plot_dir is not None:
        ancestor = plot_dir
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir() or str(plot_dir) == "":
            raise TinyOpsError(f"--plot {plot_dir}: {ancestor} is not a directory")
        if plot_dir.is_dir() and any(plot_dir.glob("*.png")) and not args.force:
            raise TinyOpsError(f"--plot {plot_dir}: already holds figures; give a new folder or pass --force "
                               "to replace them")
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    # The bar goes to stderr so that --json output on stdout stays parseable.
    from rich.console import Console

    bar_console = Console(file=sys.stderr)
    with Progress(TextColumn("explore"), BarColumn(), MofNCompleteColumn(), TextColumn("configurations"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=bar_console, transient=args.json) as progress:
        task = progress.add_task("explore", total=len(sweep.configurations()))

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = explore(sweep, output, resume=args.resume, workers=workers, cluster=args.cluster,
                         address=args.ray_address, accuracy_csv=args.accuracy_csv, progress=advance)
    # A resumed CSV may hold other sweeps' rows too: summarize and plot this sweep's.
    wanted = set(sweep.configurations())
    rows = [r for r in result.rows if (r["family"], r["width"], r["resolution"], r["board"]) in wanted
            and r["strategy"] in sweep.strategies]
    plots: list[str] = []
    if plot_dir is not None:
        from tinyops.backends.reports.explore_plots import write_plots

        plots = write_plots(rows, plot_dir)
    summary = {"output": str(output), "rows": len(result.rows), "new_rows": result.new_rows,
               "reused_rows": result.reused_rows, "configurations": result.configurations,
               "elapsed_s": round(result.elapsed_s, 3), "workers": workers if args.cluster == "local" else None,
               "cluster": args.cluster, "kernels": sweep.kernels,
               "accuracy_model": accuracy_model(args.accuracy_csv).describe(),
               "boards": summarize(rows, sweep.boards), "plots": plots}
    if args.json:
        print_json(summary)
    else:
        from tinyops.backends.reports.tables import make_report_console

        render(summary, make_report_console())
    return 0
