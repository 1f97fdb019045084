"""`tinyops zoo`: list the built-in model families, build one as int8 TFLite (and PyTorch), and
show the published accuracies the explorer places them with."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinyops.commands.common import print_json
from tinyops.errors import TinyOpsError
from tinyops.files import check_output_path


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("zoo", help="built-in model families at any width and resolution",
                                   description=__doc__)
    actions = parser.add_subparsers(dest="zoo_command", metavar="ACTION")
    parser.set_defaults(handler=run)

    listing = actions.add_parser("list", help="the model families and their defaults")
    listing.add_argument("--counts", action="store_true",
                         help="also build each at its defaults to show MACs/params")
    listing.add_argument("--json", action="store_true", help="machine-readable output")

    build = actions.add_parser("build", help="build a family as an int8 .tflite with seeded random weights")
    build.add_argument("family", help="family name (see 'tinyops zoo list')")
    build.add_argument("--width", type=float, default=1.0, help="width multiplier (default 1.0)")
    build.add_argument("--resolution", default=None,
                       help="input size: 160, or HxW such as 49x10 for audio (default: the family's)")
    build.add_argument("--classes", type=int, default=None, help="number of classes (default: the family's)")
    build.add_argument("--input-channels", type=int, default=None, help="input channels (default 3; 1 for audio)")
    build.add_argument("--round-to", type=int, default=8,
                       help="round channels to multiples of this (8 as the papers; 4 suits MCU kernels)")
    build.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    build.add_argument("--output", "-o", required=True, help="the .tflite file to write")
    build.add_argument("--torch", default=None, metavar="M.pt",
                       help="also write the PyTorch module (a torch.export program) of the same architecture "
                            "(needs tinyops[torch])")
    build.add_argument("--force", action="store_true", help="replace output files that already exist")
    build.add_argument("--json", action="store_true", help="machine-readable summary")

    accuracy = actions.add_parser("accuracy", help="published accuracies of zoo configurations, with sources")
    accuracy.add_argument("--family", default=None, help="only this family")
    accuracy.add_argument("--csv", action="append", default=[], metavar="FILE",
                          help="merge your own accuracy CSV (same columns; its rows take precedence)")
    accuracy.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "zoo_command", None)
    if action == "list":
        return _list(args)
    if action == "build":
        return _build(args)
    if action == "accuracy":
        return _accuracy(args)
    raise TinyOpsError("choose an action: 'tinyops zoo list', 'tinyops zoo build FAMILY ...' or 'tinyops zoo accuracy'")


def _list(args: argparse.Namespace) -> int:
    from tinyops.zoo import FAMILIES, build_model
    from tinyops.zoo.scaling import format_resolution
    from tinyops.zoo.summary import model_counts

    rows = []
    for family in FAMILIES.values():
        row: dict[str, Any] = {"family": family.name, "task": family.task,
                               "resolution": format_resolution(family.default_resolution),
                               "classes": family.default_classes, "input_channels": family.default_input_channels,
                               "summary": family.summary, "reference": family.reference}
        if args.counts:
            counts = model_counts(build_model(family.name))
            row.update(macs=counts.macs, parameters=counts.parameters)
        rows.append(row)
    if args.json:
        print_json(rows)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tinyops model zoo (defaults; any --width / --resolution)")
    columns = ["family", "task", "resolution", "classes", "summary"]
    columns += ["MACs (M)", "params (M)"] if args.counts else []
    for column in columns:
        table.add_column(column, justify="right" if column.endswith("(M)") else "left")
    for row in rows:
        cells = [row["family"], row["task"], row["resolution"], str(row["classes"] or "-"), row["summary"]]
        if args.counts:
            cells += [f"{row['macs'] / 1e6:.2f}", f"{row['parameters'] / 1e6:.3f}"]
        table.add_row(*cells)
    Console().print(table)
    return 0


def _check_outputs(paths: list[Path], force: bool) -> None:
    if len({p.resolve() for p in paths}) != len(paths):
        raise TinyOpsError("--output and --torch name the same file; give them different paths")
    for option, path in zip(("--output", "--torch"), paths):
        check_output_path(path, option, force=force)


def _build(args: argparse.Namespace) -> int:
    from tinyops.backends.tflite_writer import to_tflite_bytes, write_atomically
    from tinyops.zoo import build_model, published_accuracy
    from tinyops.zoo.scaling import format_resolution
    from tinyops.zoo.summary import model_counts

    output = Path(args.output)
    torch_path = Path(args.torch) if args.torch else None
    _check_outputs([output] + ([torch_path] if torch_path else []), args.force)
    graph = build_model(args.family, width=args.width, resolution=args.resolution, classes=args.classes,
                        input_channels=args.input_channels, round_to=args.round_to, seed=args.seed)
    if torch_path is not None:
        from tinyops.zoo.torch_export import _require_torch

        _require_torch()  # fail before writing anything when the extra is missing
    payload = to_tflite_bytes(graph)
    write_atomically(output, payload)
    if torch_path is not None:
        from tinyops.zoo.torch_export import save_torch

        save_torch(graph, torch_path)
    record = graph.extras["zoo"]
    counts = model_counts(graph)
    resolution = tuple(record["resolution"])
    accuracy = published_accuracy(record["family"], record["width"], resolution,
                                  input_channels=record["input_channels"])
    summary = {**record, "resolution": format_resolution(resolution), "macs": counts.macs,
               "parameters": counts.parameters, "weight_bytes": counts.weight_bytes, "tflite_bytes": len(payload),
               "output": str(output), "torch": str(torch_path) if torch_path else None,
               "published_accuracy": accuracy.as_dict() if accuracy else None}
    if args.json:
        print_json(summary)
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{graph.description}", show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    table.add_row("input", "x".join(str(d) for d in graph.main.inputs[0].shape) + " int8")
    table.add_row("MACs", f"{counts.macs:,} ({counts.macs / 1e6:.2f} M)")
    table.add_row("parameters", f"{counts.parameters:,} ({counts.parameters / 1e6:.3f} M)")
    table.add_row("weights + biases", f"{counts.weight_bytes:,} B")
    table.add_row("ops", str(len(graph.main.ops)))
    table.add_row("wrote", f"{output} ({len(payload):,} B)")
    if torch_path is not None:
        table.add_row("wrote", f"{torch_path} (torch.export program)")
    if accuracy is not None:
        table.add_row("published accuracy", f"{accuracy.value:g}% {accuracy.metric} {accuracy.dataset} "
                                            f"({accuracy.precision}; {accuracy.source})")
    Console().print(table)
    return 0


def _accuracy(args: argparse.Namespace) -> int:
    from tinyops.zoo import accuracy_table, get_family

    family = get_family(args.family).name if args.family else None
    rows = [r for r in accuracy_table(args.csv) if family is None or r.family == family]
    if args.json:
        print_json([r.as_dict() for r in rows])
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="published accuracies (user rows first)")
    for column in ("family", "width", "resolution", "dataset", "metric", "value", "precision", "source"):
        table.add_column(column, justify="right" if column in ("width", "value") else "left")
    for r in rows:
        d = r.as_dict()
        table.add_row(r.family, f"{r.width:g}", str(d["resolution"]), r.dataset, r.metric, f"{r.value:g}", r.precision,
                      r.source if r.origin == "built-in" else f"{r.source} [{r.origin}]")
    Console().print(table)
    return 0
