"""`tinyops search dnas`: MicroNets-style differentiable NAS under a board's flash, SRAM and latency
budgets; the result is verified (and repaired) with tinyops' analyzer, memory planner and cost
model (see docs/dnas.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinyops.errors import TinyOpsError
from tinyops.kernels.library import kernels_arg

EXIT_INFEASIBLE = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("search", help="neural architecture search for a board (dnas)", description=__doc__)
    kinds = p.add_subparsers(dest="search_kind", metavar="KIND", parser_class=type(p))
    d = kinds.add_parser("dnas", help="differentiable NAS (MicroNets) with verified budgets", description=__doc__)
    d.add_argument("--task", required=True, choices=("kws", "vww", "ad"))
    d.add_argument("--board", required=True, metavar="ID", help="board whose flash and SRAM bound the model")
    d.add_argument("--flash-kb", type=float, help="flash budget in KiB (default: the board's)")
    d.add_argument("--sram-kb", type=float, help="SRAM budget in KiB: arena + runtime (default: the board's)")
    d.add_argument("--latency-ms", type=float, help="latency budget (cost model, on --latency-board)")
    d.add_argument("--fps", type=float, help="latency budget as frames per second")
    d.add_argument("--latency-board", metavar="ID", help="board the latency budget is for (default: --board)")
    d.add_argument("--kernels", default="cmsis-nn", type=kernels_arg, metavar="ID[@VERSION]",
                   help="kernel library (and profile version) the latency proxy and plans cost: tflm-reference, "
                        "cmsis-nn, x-cube-ai, tinyengine, tinyops, optionally @VERSION (default cmsis-nn)")
    d.add_argument("--strategy", default="internal", help="placement: internal, overlay-v2, auto (external "
                                                          "memory: flash budget = the external memory)")
    d.add_argument("--bits", default="8", help="weight bits: 8, 4 or 8,4 (one search each; activations int8)")
    source = d.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="DIR", help="task data folder (docs/tasks.md layouts)")
    source.add_argument("--synthetic", type=int, metavar="N", help="synthetic data set of about N samples")
    d.add_argument("--epochs", type=int, default=3)
    d.add_argument("--batch-size", type=int, default=64)
    d.add_argument("--warmup-epochs", type=int, default=0, help="epochs that train the weights only")
    d.add_argument("--derive", default="argmax", choices=("argmax", "expected"),
                   help="per-layer width: most probable (FBNetV2) or expectation rounded to 4 (docs/dnas.md)")
    d.add_argument("--resolution", type=int, help="vww: input height = width (default 50 on boards with under "
                                                   "256 KiB SRAM, else 160; external strategies: ImageNet, 160)")
    d.add_argument("--max-channels", type=int, help="widest layer of the space (default 276, multiple of 4)")
    d.add_argument("--blocks", type=int, help="a toy space with this many DS (vww: IBN) blocks (tests, demos)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--threads", type=int, help="torch CPU threads (default: torch's; 1 on a shared machine)")
    d.add_argument("--output", "-o", required=True, metavar="ARCH.json")
    d.add_argument("--export", metavar="MODEL.tflite", help="train the result with QAT and write int8 TFLite")
    d.add_argument("--export-epochs", type=int, help="epochs of that training (default --epochs)")
    d.add_argument("--plot", metavar="PNG", help="per-epoch soft and hard costs against the budgets")
    d.add_argument("--force", action="store_true", help="replace outputs that exist")
    d.add_argument("--json", action="store_true", help="print the result as JSON")
    d.set_defaults(handler=run)
    p.set_defaults(handler=_usage(p))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def handler(_: argparse.Namespace) -> int:
        raise TinyOpsError("choose a search kind: tinyops search dnas ...")
    return handler


def _bits(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v not in (4, 8) for v in values) or len(set(values)) != len(values):
        raise TinyOpsError(f"--bits must be 8, 4 or 8,4, got {text!r}")
    return values


IMAGENET_CLASSES = 1000
MAX_WIDTHS_IN_TABLE = 12
SMALL_SRAM_BYTES = 256 * 1024  # MicroNets VWW: 50x50 for the F446RE (128 KiB), 160x160 for the F746ZG (320 KiB)


def _default_resolution(board: Any, imagenet: bool) -> int:
    if imagenet:
        return 160
    return 50 if board.largest_contiguous_sram_bytes < SMALL_SRAM_BYTES else 160


def _output_for(base: Path, bits: int, several: bool) -> Path:
    return base.with_name(f"{base.stem}-w{bits}{base.suffix}") if several else base


def run(args: argparse.Namespace) -> int:
    import json

    from tinyops.backends.tflite_writer import write_atomically
    from tinyops.hw.board import load_board
    from tinyops.search.budgets import make_budgets
    from tinyops.search.dnas import SearchConfig, materialize, search
    from tinyops.search.dnas_data import export_model, open_data
    from tinyops.search.space import space_for

    output = Path(args.output)
    if output.suffix != ".json":
        raise TinyOpsError(f"{output}: name the architecture output *.json")
    if args.export is not None and Path(args.export).suffix != ".tflite":
        raise TinyOpsError(f"{args.export}: name the exported model *.tflite")
    if args.epochs < 1 or args.batch_size < 1 or (args.threads is not None and args.threads < 1):
        raise TinyOpsError("--epochs, --batch-size and --threads must be at least 1")
    if not 0 <= args.warmup_epochs < args.epochs:
        raise TinyOpsError(f"--warmup-epochs must be in 0..{args.epochs - 1} (the architecture needs an epoch)")
    bits = _bits(args.bits)
    several = len(bits) > 1
    targets = [_output_for(output, b, several) for b in bits]
    if args.export:
        targets += [_output_for(Path(args.export), b, several) for b in bits]
    if not args.force:
        for target in targets:
            if target.exists():
                raise TinyOpsError(f"{target}: already exists; choose another output or pass --force")
    board = load_board(args.board)
    latency_board = load_board(args.latency_board) if args.latency_board else board
    if args.strategy not in ("internal", "overlay-v1", "overlay-v2", "external-xip", "auto"):
        raise TinyOpsError(f"unknown strategy {args.strategy!r}; choose internal, overlay-v2 or auto")
    budgets = make_budgets(board, latency_board, args.strategy, args.kernels, args.flash_kb, args.sram_kb,
                           args.latency_ms, args.fps)
    imagenet = args.task == "vww" and args.strategy != "internal"
    if args.resolution is not None and args.task != "vww":
        raise TinyOpsError("--resolution is for --task vww (KWS and AD inputs are fixed by their features)")
    resolution = args.resolution or _default_resolution(board, imagenet)
    if not 8 <= resolution <= 512:
        raise TinyOpsError(f"--resolution must be in 8..512, got {resolution}")
    if imagenet and args.export:
        raise TinyOpsError("--export needs the task's data: the external-memory (ImageNet-shaped) space has no "
                           "ImageNet pipeline here; search without --export")
    data = open_data(args.task, args.data, args.synthetic, args.seed, image_size=resolution,
                     image_channels=3 if imagenet else 1)
    # The external-memory design space is ImageNet-shaped (1000 classes); its stand-in data has VWW's 2 labels.
    classes = IMAGENET_CLASSES if imagenet else data.classes
    space = space_for(args.task, tuple(data.input_shape), classes, args.max_channels, args.blocks)  # type: ignore[arg-type]
    train, validation = materialize(data.train), materialize(data.validation)
    results = []
    from tinyops.commands.train import _progress

    for weight_bits, target in zip(bits, targets):
        config = SearchConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, weight_bits=weight_bits,
                              threads=args.threads, warmup_epochs=args.warmup_epochs,
                              derive=args.derive)
        with _progress(args.json) as report:
            result = search(space, train, validation, budgets, board, latency_board, config, report)
        if args.export and result.status == "verified":
            result.exported = export_model(result.architecture, data, args.export_epochs or args.epochs, weight_bits,
                                           args.seed, _output_for(Path(args.export), weight_bits, several),
                                           budgets, board, latency_board)
            if not result.exported["verification"]["fits"]:
                # The file carries what the built graph did not (task metadata): it is checked, not assumed.
                result.status = "export-misses-budget"
                result.reason = "the exported file misses: " + "; ".join(result.exported["verification"]["misses"])
        record = result.to_json()
        write_atomically(target, (json.dumps({**result.architecture.record(), "dnas": record}, indent=1) + "\n")
                         .encode())
        record["output"] = str(target)
        results.append((result, record))
    if args.plot:
        from tinyops.commands.common import save_figure
        from tinyops.search.dnas_plot import plot_dnas_trace

        save_figure(plot_dnas_trace([r for r, _ in results]), args.plot)
    if args.json:
        from tinyops.commands.common import print_json

        print_json(results[0][1] if not several else {"searches": [r for _, r in results]})
    else:
        for _, record in results:
            _print(record)
    return 0 if all(r.status == "verified" for r, _ in results) else EXIT_INFEASIBLE


def _print(record: dict[str, Any]) -> None:
    from rich.table import Table

    from tinyops.commands.common import make_console

    console = make_console()
    budgets = record["budgets"]
    table = Table(title=f"tinyops search dnas: {record['space']['name']} for {budgets['board']} "
                        f"({record['search']['weight_bits']}-bit weights)")
    # A MobileNetV2 space has 25 widths: they go below the table, which stays within 100 columns.
    wide = len(record["widths"]) > MAX_WIDTHS_IN_TABLE
    columns = ["epoch", "tau", "val acc", "soft ops", "soft flash B", "soft WM B", "soft ms"]
    for column in columns + ([] if wide else ["hard widths"]):
        table.add_column(column, justify="right")
    for t in record["trace"]:
        cells = [str(t["epoch"]), f"{t['temperature']:.2f}", f"{t['validation_accuracy']:.3f}",
                 f"{t['soft']['ops'] / 1e6:.2f}M", f"{t['soft']['flash_bytes']:.0f}",
                 f"{t['soft']['sram_bytes']:.0f}", f"{t['soft']['latency_ms']:.2f}"]
        table.add_row(*cells, *([] if wide else [" ".join(str(w) for w in t["widths"])]))
    console.print(table)
    if wide:
        for t in record["trace"]:
            console.print(f"epoch {t['epoch']} hard widths: {' '.join(str(w) for w in t['widths'])}")
    check = record["verification"]
    latency = "n/a" if check["latency_ms"] is None else f"{check['latency_ms']:.2f} ms on {budgets['latency_board']}"
    console.print(f"status: {record['status']}" + (f" ({record['reason']})" if record["reason"] else ""))
    console.print(f"architecture (widths, 0 = skipped): {' '.join(str(w) for w in record['widths'])}"
                  + (f"; repaired from {' '.join(str(w) for w in record['derived_widths'])} in "
                     f"{len(record['repairs'])} steps" if record["repaired"] else "; no repair needed"))
    if budgets["strategy"] == "internal":
        sram = (f"SRAM {check['sram_bytes']} B = arena {check['arena_bytes']} + runtime "
                f"{check['runtime_overhead_bytes']}")
    else:
        sram = f"SRAM {check['sram_bytes']} B ({budgets['strategy']} plan: activations + overlay buffers)"
    console.print(f"verified: {check['ops'] / 1e6:.2f} Mops; flash {check['flash_bytes']} B "
                  f"(budget {budgets['flash_bytes']}); {sram} (budget {budgets['sram_bytes']}); latency {latency} "
                  f"(budget {budgets['latency_ms']})")
    if record.get("exported"):
        exported = record["exported"]
        console.print(f"exported {exported['path']}: validation {exported['validation']}, file verified: "
                      f"{exported['verification']['fits']}")
    console.print(f"wrote {record['output']}")
