"""`tinyops eval`: score a model trained by `tinyops train` on a task's test split (see docs/tasks.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from tinyops.errors import TinyOpsError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="accuracy / confusion (KWS, VWW) or AUC / pAUC per machine (AD)",
                              description=__doc__)
    p.add_argument("model", help=".tflite written by tinyops train (it records labels and feature preset)")
    p.add_argument("--task", required=True, choices=("kws", "vww", "ad"))
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--engine", choices=("runtime", "litert", "tflm", "c"), default="runtime")
    p.add_argument("--split", choices=("validation", "test"), default="test")
    p.add_argument("--float", metavar="M.pt", dest="float_model",
                   help="the float model tinyops train --torch wrote: scored on the same split, beside")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tinyops.frontends.loader import load_model
    from tinyops.tasks.datasets import open_split
    from tinyops.tasks.evaluate import evaluate, graph_predictor
    from tinyops.tasks.features import get_preset
    from tinyops.tasks.train import task_metadata

    graph = load_model(args.model)
    record = task_metadata(graph)
    if record is None:
        raise TinyOpsError(f"{args.model}: carries no task record; evaluate models written by tinyops train")
    if record["task"] != args.task:
        raise TinyOpsError(f"{args.model}: was trained for {record['task']}, not {args.task}")
    preset = None if record["feature_preset"] == "none" else get_preset(record["feature_preset"])
    shape = record["input_shape"]
    target: Literal["reconstruction", "machine_id"] = (
        "machine_id" if record.get("ad_form") == "machine-id" else "reconstruction")
    dataset = open_split(args.task, args.data, args.split, preset, input_shape=shape, ad_target=target,
                         machine_ids=record["labels"] if args.task == "ad" else None)
    result = evaluate(args.task, dataset, graph_predictor(graph, args.engine, Path(args.model).read_bytes()),
                      args.engine, record["labels"] if args.task != "ad" else ())
    float_result = None
    if args.float_model:
        from tinyops.tasks.evaluate import exported_predictor

        float_result = evaluate(args.task, dataset, exported_predictor(args.float_model), "torch (float)",
                                record["labels"] if args.task != "ad" else ())
    summary: dict[str, Any] = {"model": args.model, "split": args.split, "feature_preset": record["feature_preset"],
                               **result.as_dict(),
                               "float": None if float_result is None else float_result.as_dict(),
                               "float_validation_at_training": record.get("float_validation"),
                               "int8_validation_at_training": record.get("int8_validation")}
    if args.json:
        from tinyops.commands.common import print_json

        print_json(summary)
        return 0
    from tinyops.commands.common import make_console

    console = make_console()
    if result.accuracy is not None:
        from rich.table import Table

        table = Table(title=f"{args.model}: confusion on {args.split} ({result.samples} samples, rows = truth)")
        table.add_column("")
        names = result.labels or [str(i) for i in range(len(result.confusion))]
        for name in names:
            table.add_column(name[:6], justify="right")
        for name, row in zip(names, result.confusion):
            table.add_row(name, *(str(v) for v in row))
        console.print(table)
        beside = (f"float ({args.float_model}) {float_result.accuracy:.4f}" if float_result is not None else
                  f"float validation accuracy at training {summary['float_validation_at_training']}")
        console.print(f"int8 accuracy ({args.engine}): {result.accuracy:.4f}; {beside}")
    else:
        for m in result.machines:
            console.print(f"{m.machine_id}: AUC {m.auc:.4f}  pAUC(FPR<=0.1) {m.pauc:.4f}  "
                          f"({m.normal_files} normal, {m.anomalous_files} anomalous files)")
        console.print(f"mean AUC {result.mean_auc:.4f}, mean pAUC {result.mean_pauc:.4f} ({args.engine})")
        if float_result is not None:
            console.print(f"float ({args.float_model}): mean AUC {float_result.mean_auc:.4f}, "
                          f"mean pAUC {float_result.mean_pauc:.4f}")
    return 0
