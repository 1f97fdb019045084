"""`tinyops plan`: where every tensor lives, how fast the model runs and what it costs in energy."""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from tinyops.commands.common import DEFAULT_BOARD, default_model_path, print_json, save_figure, write_atomically
from tinyops.deploy.select import DEFAULT_MIN_GAIN_PCT, OBJECTIVES
from tinyops.commands.outputs import add_force_option, checked_output
from tinyops.errors import TinyOpsError
from tinyops.kernels import RUNTIMES, Runtime, kernel_library
from tinyops.kernels.library import kernels_arg
from tinyops.planning.plan import STRATEGY_CHOICES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan", help="plan a deployment and estimate its latency and energy",
        description="Plan a deployment of MODEL on a board (where each tensor lives, DMA transfers) "
                    "and simulate it with the calibrated cost model: per-layer cycles, bytes per "
                    "memory, latency and energy.")
    p.add_argument("model", nargs="?", help="a .tflite model (default: the bundled VWW model)")
    p.add_argument("--board", default=DEFAULT_BOARD, help=f"board ID or .toml path (default {DEFAULT_BOARD})")
    p.add_argument("--strategy", default="internal", choices=STRATEGY_CHOICES,
                   help="internal: TFLM deployment, weights in internal flash, activations in SRAM; "
                        "external-xip: weights read in place from external memory; overlay-v1/overlay-v2: "
                        "TinyOps operation partitioning + DMA overlays (fixed / all free SRAM); auto: the "
                        "best feasible plan for --objective (see docs/tinyops.md)")
    p.add_argument("--objective", default="latency", choices=OBJECTIVES, help="what auto minimises (default latency)")
    p.add_argument("--min-gain", type=float, default=DEFAULT_MIN_GAIN_PCT, metavar="PCT",
                   help="auto: a strategy needing more hardware (external memory, DMA) must win by PCT %% on the "
                        "objective and lose at most PCT %% on the other figure (default "
                        f"{DEFAULT_MIN_GAIN_PCT:g}; see docs/tinyops.md)")
    p.add_argument("--runtime", default=None, choices=RUNTIMES,
                   help="the runtime the arena is laid out for: tflm (stock TFLM, its own arena planner) or "
                        "tinyops (tinyops' generated code: reordering and every in-place kind); default: the "
                        "kernel library's (tflm; tinyops for --kernels tinyops)")
    p.add_argument("--compare", action="store_true",
                   help="plan and simulate every strategy the board allows and print them side by side")
    p.add_argument("--sram-limit-bytes", type=int, metavar="N",
                   help="every strategy: use at most N bytes of SRAM, arena and runtime overhead together "
                        "(e.g. a paper's reported SRAM)")
    p.add_argument("--kernels", default="cmsis-nn", type=kernels_arg, metavar="ID[@VERSION]",
                   help="kernel library and profile version: tflm-reference, cmsis-nn, x-cube-ai, tinyengine, "
                        "tinyops, optionally @VERSION (default cmsis-nn, its newest profile)")
    p.add_argument("--clock-mhz", type=float, help="CPU clock (default: the board's maximum)")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of tables")
    p.add_argument("--csv", metavar="FILE", help="write the per-layer report as CSV")
    p.add_argument("--timeline", metavar="PNG", help="write a CPU/DMA timeline plot")
    add_force_option(p)
    p.set_defaults(handler=run)


def _output_path(path: str, model: str) -> str:
    return path  # checked against the output policy before planning (run)


def _options(args: argparse.Namespace) -> Any:
    from tinyops.planning.common import PlanOptions

    # X-CUBE-AI and TinyEngine bring their own runtime; their arena is planned with TFLM's rules.
    runtime: Runtime = args.runtime or ("tinyops" if kernel_library(args.kernels).runtime == "tinyops" else "tflm")
    return PlanOptions(args.kernels, args.clock_mhz, args.sram_limit_bytes, runtime)


def run(args: argparse.Namespace) -> int:
    from tinyops.backends.reports.plan import csv_text, render, report, timeline_figure
    from tinyops.deploy import deploy
    from tinyops.frontends import load_model
    from tinyops.hw.board import load_board

    model = args.model if args.model is not None else str(default_model_path())
    checked_output(args, "--csv", args.csv, inputs=[model, args.board])
    checked_output(args, "--timeline", args.timeline, inputs=[model, args.board], figure=True)
    if args.csv is not None and args.csv == args.timeline:
        raise TinyOpsError("--csv and --timeline name the same file; give two names")
    if args.clock_mhz is not None and not 0 < args.clock_mhz < float("inf"):
        raise TinyOpsError(f"--clock-mhz {args.clock_mhz:g}: give a positive clock in MHz")
    if args.sram_limit_bytes is not None and args.sram_limit_bytes < 0:
        raise TinyOpsError(f"--sram-limit-bytes {args.sram_limit_bytes}: give a number of bytes, 0 or more")
    graph = load_model(model)
    board = load_board(args.board)
    if args.compare:
        return run_compare(args, model, graph, board)
    result = deploy(graph, board, args.strategy, _options(args), args.objective, args.min_gain)
    plan, sim = result.plan, result.sim
    data = report(plan, sim)
    data["model"] = model
    if result.choice is not None:
        data["auto"] = {"objective": result.choice.objective, "min_gain_pct": result.choice.min_gain_pct,
                        "chosen": plan.strategy if result.choice.index is not None else None,
                        "note": result.choice.note}
    if args.csv:
        write_atomically(_output_path(args.csv, model), csv_text(data).encode("utf-8"))
    if args.timeline:
        save_figure(timeline_figure(plan, sim), _output_path(args.timeline, model))
    if args.json:
        print_json(data)
    else:
        from tinyops.backends.reports.tables import make_report_console

        render(data, make_report_console())
    return 0


@contextmanager
def _progress(show: bool, what: str) -> Iterator[Callable[[], None]]:
    """A progress line on stderr (stdout stays clean for --json and tables) while ``what`` runs."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn(what), TimeElapsedColumn(), console=Console(file=sys.stderr),
                  transient=True, disable=not show) as progress:
        task = progress.add_task(what, total=1)
        yield lambda: progress.update(task, completed=1)


def run_compare(args: argparse.Namespace, model: str, graph: Any, board: Any) -> int:
    """`--compare`: every applicable strategy, verified and simulated, side by side."""
    from tinyops.backends.reports.plan_compare import (compare_rows, movement_json, render_movement, render_rows,
                                                       timeline_figure)
    from tinyops.cost.memory_model import movement_costs
    from tinyops.deploy import compare
    from tinyops.planning.common import compute_bound_cycles
    from tinyops.planning.internal import plan_internal

    options = _options(args)
    with _progress(not args.json, "planning and simulating every strategy") as advance:
        evaluated, choice = compare(graph, board, options, args.objective, args.min_gain)
        advance()
    internal = next((e.plan for e in evaluated if e.plan.strategy == "internal"), None)
    base = internal or plan_internal(graph, board, options)
    compute_bound_ms = compute_bound_cycles(base) / (base.clock_mhz * 1e3)
    rows = compare_rows(evaluated, compute_bound_ms)
    movement = movement_costs(board, base.clock_mhz, base.params)
    picked = evaluated[choice.index].plan.strategy if choice.index is not None else None
    caption = (f"board {board.id} ({board.core}) at {base.clock_mhz:g} MHz, kernels {args.kernels}, arena for "
               f"{options.runtime}, cost params {base.params.core}/{base.params.spec} ({base.params.status}); "
               f"± latency/energy: {base.params.band_note or 'no cross-validated band'} (±? = none); "
               f"auto ({args.objective}, min gain {args.min_gain:g} %) picks "
               f"{picked or 'nothing (no feasible plan)'}")
    if args.timeline:
        target = _output_path(args.timeline, model)
        with _progress(not args.json, f"drawing the timeline of {len(evaluated)} strategies") as advance:
            save_figure(timeline_figure(evaluated, f"{Path(model).name}: {caption}"), target)
            advance()
    if args.json:
        print_json({"model": model, "board": board.id, "objective": args.objective, "auto": picked,
                    "min_gain_pct": args.min_gain, "auto_note": choice.note,
                    "compute_bound_ms": compute_bound_ms, "summary": caption,
                    "strategies": [r.to_json() for r in rows], "data_movement": movement_json(movement)})
    else:
        from tinyops.backends.reports.tables import make_report_console

        from rich.markup import escape

        console = make_report_console()
        render_rows(rows, model, caption, console)
        console.print(escape(choice.note))
        render_movement(movement, console)
    return 0
