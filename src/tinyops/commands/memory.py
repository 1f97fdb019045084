"""`tinyops memory MODEL`: plan the activation arena, compare with TFLM, optionally export the plan."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinyops.backends.reports.memory import plot_figure, print_tables
from tinyops.commands.outputs import add_force_option, checked_output
from tinyops.commands.common import default_model_path, print_json, save_figure
from tinyops.errors import TinyOpsError
from tinyops.frontends import load_model
from tinyops.memory import export_plan, plan_memory
from tinyops.kernels.library import kernels_arg, split_kernels_spec
from tinyops.memory.plan import PLANNERS


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("memory", help="plan activation memory (arena offsets, op order, in-place ops)",
                              description="Plan the activation arena of a model and compare it with TFLM's.")
    p.add_argument("model", nargs="?", default=None, help="a .tflite model (default: the bundled VWW model)")
    p.add_argument("--planner", choices=PLANNERS, default="best",
                   help="tflm: reproduce TFLM's greedy planner; best: ours (default)")
    p.add_argument("--no-reorder", action="store_true", help="keep the stored operator order")
    p.add_argument("--no-inplace", action="store_true", help="no in-place execution")
    p.add_argument("--kernels", type=kernels_arg, metavar="ID[@VERSION]", default="tflm-reference",
                   help="kernel library whose scratch buffers to plan (default: tflm-reference)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--plot", metavar="PNG", help="draw the plan to this image file")
    p.add_argument("--write", metavar="OUT.tflite",
                   help="write the (reordered) model with TFLM OfflineMemoryAllocation metadata")
    add_force_option(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.model == "":
        raise TinyOpsError("model: the path is empty; give a file")
    model_path = Path(args.model) if args.model is not None else default_model_path()
    checked_output(args, "--write", args.write, inputs=[model_path])
    checked_output(args, "--plot", args.plot, inputs=[model_path], figure=True)
    if args.write is not None and args.plot is not None and Path(args.write).resolve() == Path(args.plot).resolve():
        raise TinyOpsError("--write and --plot name the same file; give two names")
    graph = load_model(model_path)
    plan = plan_memory(graph, planner=args.planner, reorder=not args.no_reorder, inplace=not args.no_inplace,
                       kernels=args.kernels)
    exported = None
    if args.write:
        if split_kernels_spec(args.kernels)[0] != "tflm-reference":
            raise TinyOpsError("--write targets stock TFLM, whose scratch buffers are the reference kernels'; "
                               "drop --kernels cmsis-nn")
        exported = export_plan(graph, plan)
        from tinyops.backends.tflite_writer import to_tflite_bytes, write_atomically

        write_atomically(args.write, to_tflite_bytes(exported.graph))
    if args.plot:
        save_figure(plot_figure(plan, model_path.name), args.plot)
    if args.json:
        payload = plan.to_json()
        payload["model"] = str(model_path)
        if exported is not None:
            payload["exported"] = {"path": args.write, "arena_bytes": exported.plan.arena_bytes,
                                   "tflm_head_bytes": exported.tflm_head_bytes, "order": exported.plan.order,
                                   "left_out_inplace": exported.left_out}
        print_json(payload)
    else:
        print_tables(plan, model_path.name, exported, args)
    return 0
