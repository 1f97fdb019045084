"""`tinyops plan`: where every tensor lives, how fast the model runs and what it costs in energy."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinyops.backends.tflite_writer import write_atomically
from tinyops.commands.outputs import add_force_option, checked_output
from tinyops.commands.common import DEFAULT_BOARD, default_model_path, print_json, save_figure
from tinyops.errors import TinyOpsError
from tinyops.planning.plan import Plan, compute_bound_cycles
from tinyops.planning.strategies import OBJECTIVES, STRATEGY_NAMES
from tinyops.sim.params import KERNEL_LIBRARIES
from tinyops.sim.simulator import SimResult, simulate

if TYPE_CHECKING:
    from rich.console import Console


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plan", help="plan a deployment and estimate its latency and energy",
        description="Plan a deployment of MODEL on a board (where each tensor lives, DMA transfers) "
                    "and simulate it with the calibrated cost model: per-layer cycles, bytes per "
                    "memory, latency and energy.")
    p.add_argument("model", nargs="?", help="a .tflite model (default: the bundled VWW model)")
    p.add_argument("--board", default=DEFAULT_BOARD, help=f"board ID or .toml path (default {DEFAULT_BOARD})")
    p.add_argument("--strategy", default="internal", choices=STRATEGY_NAMES,
                   help="internal: TFLM deployment, weights in internal flash, activations in SRAM; "
                        "external-xip: weights read in place from external memory; overlay-v1/overlay-v2: "
                        "TinyOps operation partitioning + DMA overlays (fixed / all free SRAM); auto: the "
                        "best feasible plan for --objective (see docs/tinyops.md)")
    p.add_argument("--objective", default="latency", choices=OBJECTIVES, help="what auto minimises (default latency)")
    p.add_argument("--compare", action="store_true",
                   help="plan and simulate every strategy the board allows and print them side by side")
    p.add_argument("--sram-limit-bytes", type=int, metavar="N",
                   help="external strategies: use at most N bytes of SRAM (e.g. a paper's reported SRAM)")
    p.add_argument("--kernels", default="cmsis-nn", choices=KERNEL_LIBRARIES, help="kernel library (default cmsis-nn)")
    p.add_argument("--clock-mhz", type=float, help="CPU clock (default: the board's maximum)")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of tables")
    p.add_argument("--csv", metavar="FILE", help="write the per-layer report as CSV")
    p.add_argument("--timeline", metavar="PNG", help="write a CPU/DMA timeline plot")
    add_force_option(p)
    p.set_defaults(handler=run)


def assumptions_line(plan: Plan) -> str:
    return (f"board {plan.board.id} ({plan.board.core}) at {plan.clock_mhz:g} MHz, kernels {plan.kernels}, "
            f"strategy {plan.strategy}, cost params {plan.params.core}/{plan.params.kernels} ({plan.params.status})")


def report(plan: Plan, sim: SimResult) -> dict[str, Any]:
    """The JSON contract of `tinyops plan` (see docs/cost_model.md and docs/tinyops.md)."""
    from tinyops.planning.compare import layer_fields, plan_fields

    compute_bound_ms = compute_bound_cycles(plan) / (plan.clock_mhz * 1e3)
    data = {
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
        "compute_bound_ms": compute_bound_ms,
        "sram_bytes": plan.sram_bytes,
        "flash_bytes": plan.flash_bytes,
        "external_bytes": plan.external_bytes,
        "macs": sum(s.macs for s in sim.steps),
        "energy": {"run_power_mw": sim.energy.run_power_mw, "core_mj": sim.energy.core_mj,
                   "movement_mj": sim.energy.movement_mj},
        "bytes_read": sim.bytes_read,
        "bytes_written": sim.bytes_written,
        "placement": plan.placement(),
        "transfers": [{"src": t.src, "dst": t.dst, "bytes": t.bytes, "engine": t.engine,
                       "needed_by": list(t.needed_by), "tensor": t.tensor} for t in plan.transfers],
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
    from rich.table import Table

    mems = _memories(data)
    caption = data["assumptions"]["summary"]
    table = Table(title=f"{data['model']}", caption=caption, title_justify="left", header_style="bold")
    for name in ["#", "op", "MACs", "cycles", "share %", "ms"] + [f"read {m}" for m in mems] + [f"write {m}" for m in mems]:
        table.add_column(name, justify="left" if name == "op" else "right")
    total = sum(layer["cycles"] for layer in data["layers"]) or 1
    for layer in data["layers"]:
        table.add_row(str(layer["index"]), layer["type"], f"{layer['macs']:,}", f"{layer['cycles']:,}",
                      f"{100 * layer['cycles'] / total:.1f}", f"{layer['latency_ms']:.3f}",
                      *[f"{layer['bytes_read'].get(m, 0):,}" for m in mems],
                      *[f"{layer['bytes_written'].get(m, 0):,}" for m in mems])
    console.print(table)
    status = "feasible" if data["feasible"] else f"[bold red]NOT feasible[/]: {data['reason']}"
    console.print(f"{status}\nlatency {data['latency_ms']:.2f} ms (compute bound {data['compute_bound_ms']:.2f} ms), "
                  f"energy {data['energy_mj']:.2f} mJ at {data['energy']['run_power_mw']:.0f} mW, "
                  f"SRAM {data['sram_bytes']:,} B, flash {data['flash_bytes']:,} B, {data['macs']:,} MACs")


def timeline_figure(plan: Plan, sim: SimResult) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lanes = ["cpu"] + sorted({t.lane for t in sim.tasks if t.lane != "cpu"})
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.6 * len(lanes)))
    colors = {"compute": "tab:blue", "transfer": "tab:orange"}
    for t in sim.tasks:
        if t.start_s is None or t.end_s is None:
            continue
        y = lanes.index(t.lane)
        ax.barh(y, (t.end_s - t.start_s) * 1e3, left=t.start_s * 1e3, height=0.6,
                color=colors[t.kind], edgecolor="white", linewidth=0.3)
    ax.set_yticks(range(len(lanes)), [("CPU" if lane == "cpu" else lane) for lane in lanes])
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_title(f"{Path(plan.model).name}: {assumptions_line(plan)}", fontsize=8)
    return fig


def _output_path(path: str, model: str) -> str:
    return path  # checked against the output policy before planning (run)


def run(args: argparse.Namespace) -> int:
    from tinyops.frontends import load_model
    from tinyops.hw.board import load_board

    from tinyops.planning.strategies import EXTERNAL, build, choose, evaluate_all
    from tinyops.planning.verify import check

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
    if args.strategy in EXTERNAL:
        from tinyops.planning.external import require_external

        require_external(board, args.strategy)
    if args.strategy == "auto":
        best = choose(evaluate_all(graph, board, args.kernels, args.clock_mhz, args.sram_limit_bytes), args.objective)
        plan, sim = check(best.plan), best.sim
    else:
        plan = check(build(graph, board, args.strategy, args.kernels, args.clock_mhz, args.sram_limit_bytes))
        sim = simulate(plan)
    data = report(plan, sim)
    data["model"] = model
    if args.csv:
        write_atomically(_output_path(args.csv, model), csv_text(data).encode("utf-8"))
    if args.timeline:
        save_figure(timeline_figure(plan, sim), _output_path(args.timeline, model))
    if args.json:
        print_json(data)
    else:
        from rich.console import Console

        console = Console()
        render(data, Console(width=max(console.width, 150)) if not console.is_terminal else console)
    return 0


def run_compare(args: argparse.Namespace, model: str, graph: Any, board: Any) -> int:
    """`--compare`: every applicable strategy, verified and simulated, side by side."""
    from tinyops.commands.common import print_json as _print_json
    from tinyops.planning.compare import compare_rows, render_rows, timeline_figure
    from tinyops.planning.plan import plan_internal
    from tinyops.planning.strategies import choose, evaluate_all
    from tinyops.planning.verify import check

    evaluated = evaluate_all(graph, board, args.kernels, args.clock_mhz, args.sram_limit_bytes)
    for e in evaluated:
        check(e.plan)
    base = plan_internal(graph, board, args.kernels, args.clock_mhz)
    compute_bound_ms = compute_bound_cycles(base) / (base.clock_mhz * 1e3)
    rows = compare_rows(evaluated, compute_bound_ms)
    best = choose(evaluated, args.objective)
    caption = (f"board {board.id} ({board.core}) at {base.clock_mhz:g} MHz, kernels {args.kernels}, cost params "
               f"{base.params.core}/{base.params.kernels} ({base.params.status}); auto ({args.objective}) picks "
               f"{best.plan.strategy if best.plan.feasible else 'nothing (no feasible plan)'}")
    if args.timeline:
        save_figure(timeline_figure(evaluated, f"{Path(model).name}: {caption}"), _output_path(args.timeline, model))
    if args.json:
        _print_json({"model": model, "board": board.id, "objective": args.objective,
                     "auto": best.plan.strategy if best.plan.feasible else None,
                     "compute_bound_ms": compute_bound_ms, "summary": caption,
                     "strategies": [r.to_json() for r in rows]})
    else:
        from rich.console import Console

        console = Console()
        render_rows(rows, model, caption, Console(width=max(console.width, 170)) if not console.is_terminal else console)
    return 0
