"""`tinyops train`: train a task model (KWS, VWW, AD) from a data folder, optionally with QAT, and
write the int8 .tflite (see docs/tasks.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinyops.errors import TinyOpsError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a KWS / VWW / AD model, optionally with QAT, to int8 TFLite",
                              description=__doc__)
    p.add_argument("--task", required=True, choices=("kws", "vww", "ad"))
    p.add_argument("--data", required=True, metavar="DIR", help="data folder in the task's layout (docs/tasks.md)")
    p.add_argument("--family", help="zoo family, e.g. dscnn-s, mobilenetv1, fc-autoencoder")
    p.add_argument("--width", type=float, default=1.0, help="width multiplier of the family")
    p.add_argument("--arch", metavar="ARCH.json", help="architecture file (MicroNets-style DS network)")
    p.add_argument("--recipe", help="training recipe (default: the MLPerf Tiny one of the task); "
                                    "mlperf-kws, micronets-kws, mlperf-vww, micronets-vww, mlperf-ad, micronets-ad")
    p.add_argument("--qat", action="store_true", help="quantization-aware training for the last epochs")
    p.add_argument("--weight-bits", type=int, choices=(4, 8), default=8)
    p.add_argument("--activation-bits", type=int, choices=(4, 8), default=8,
                   help="4 exists in fake quantization only (no 4-bit activation kernels in TFLite/TFLM)")
    p.add_argument("--ranges", choices=("ema", "learned"), default="ema",
                   help="QAT activation ranges: EMA of batch min/max, or learned by gradient from the calibration")
    p.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--image-size", type=int, default=96, help="VWW input size (square)")
    p.add_argument("--grayscale", action="store_true", help="VWW: one-channel input")
    p.add_argument("--time-shift-ms", type=float, default=0.0,
                   help="KWS: random time shift of training clips up to this (Hello Edge 100; MLPerf 0)")
    p.add_argument("--teacher", metavar="T.pt", help="knowledge distillation from a classifier saved as a "
                   "torch.export program with the same input (e.g. by tinyops train --torch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", "-o", required=True, metavar="M.tflite")
    p.add_argument("--torch", metavar="M.pt", help="also write the float model (BatchNorm folded) as a torch.export "
                   "program; tinyops eval --float M.pt scores it beside the int8 model")
    p.add_argument("--checkpoint", metavar="CKPT", help="checkpoint after every epoch (default: OUTPUT.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint if it exists")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tinyops.backends.tflite_writer import to_tflite_bytes, write_atomically
    from tinyops.quant.qat import QatConfig
    from tinyops.tasks.evaluate import exported_teacher
    from tinyops.tasks.recipes import DEFAULT_RECIPE, get_recipe, with_overrides
    from tinyops.tasks.train import attach_metadata, load_task_data, model_for, train

    output = Path(args.output)
    if output.suffix != ".tflite":
        raise TinyOpsError(f"{output}: name the output *.tflite")
    if output.exists() and not args.force and not args.resume:
        raise TinyOpsError(f"{output}: already exists; choose another --output or pass --force")
    if args.torch is not None and Path(args.torch).suffix != ".pt":
        raise TinyOpsError(f"{args.torch}: name the torch output *.pt")
    if args.torch is not None and Path(args.torch).exists() and not args.force:
        raise TinyOpsError(f"{args.torch}: already exists; choose another --torch or pass --force")
    recipe = with_overrides(get_recipe(args.recipe or DEFAULT_RECIPE[args.task], args.task), args.epochs,
                            args.batch_size, args.learning_rate)
    if not 0.0 <= args.time_shift_ms <= 500.0:
        raise TinyOpsError(f"--time-shift-ms must be in 0..500, got {args.time_shift_ms}")
    data = load_task_data(args.task, args.data, recipe, args.image_size, 1 if args.grayscale else 3, args.seed,
                          args.time_shift_ms)
    graph = model_for(args.task, data, args.family, args.width, args.arch, args.seed)
    teacher = exported_teacher(args.teacher) if args.teacher else None
    checkpoint = Path(args.checkpoint) if args.checkpoint else output.with_suffix(".ckpt")
    with _progress(args.json) as report:
        result = train(args.task, graph, data, recipe, qat=args.qat, seed=args.seed,
                       qat_config=QatConfig(args.weight_bits, args.activation_bits, args.ranges), checkpoint=checkpoint,
                       resume=args.resume, teacher=teacher, progress=report)
    attach_metadata(result.int8_graph, result.metadata(data))
    payload = to_tflite_bytes(result.int8_graph)
    write_atomically(output, payload)
    if args.torch:
        from tinyops.quant.qat import export_float
        from tinyops.zoo.torch_export import save_torch

        save_torch(export_float(result.model, result.architecture), args.torch)
    checkpoint.unlink(missing_ok=True)
    summary = {"task": args.task, "model": result.architecture.description, "recipe": recipe.name,
               "epochs": recipe.epochs, "qat": args.qat, "weight_bits": args.weight_bits,
               "activation_bits": args.activation_bits, "train_samples": len(data.train),
               "validation_samples": len(data.validation), "feature_preset": data.preset,
               "metric": "accuracy" if data.classes else "reconstruction_mse",
               "float_validation": result.float_validation, "int8_validation": result.history[-1].validation,
               "int8_validation_engine": "torch fake-quant", "seconds": round(result.seconds, 2),
               "train_samples_per_second": round(result.samples_per_second, 1), "output": str(output),
               "file_bytes": len(payload), "torch": args.torch,
               "history": [vars(h) for h in result.history]}
    if args.json:
        from tinyops.commands.common import print_json

        print_json(summary)
    else:
        _print(summary)
    return 0


class _progress:
    """A rich progress bar over batches (silent with --json)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            transient=True, disable=self.quiet)
        self.bar.__enter__()
        self.task = self.bar.add_task("training", total=None)

        def report(epoch: int, epochs: int, batch: int, batches: int) -> None:
            self.bar.update(self.task, description=f"epoch {epoch + 1}/{epochs}", completed=batch, total=batches)

        return report

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)


def _print(summary: dict[str, Any]) -> None:
    from rich.table import Table

    from tinyops.commands.common import make_console

    table = Table(title=f"tinyops train: {summary['model']}")
    for column in ("epoch", "mode", "learning rate", "train loss", f"validation {summary['metric']}", "s"):
        table.add_column(column, justify="right")
    for h in summary["history"]:
        table.add_row(str(h["epoch"]), h["mode"], f"{h['learning_rate']:.2e}", f"{h['train_loss']:.4f}",
                      f"{h['validation']:.4f}", f"{h['seconds']:.1f}")
    console = make_console()
    console.print(table)
    float_score = summary["float_validation"]
    console.print(f"validation {summary['metric']}: float {float_score if float_score is None else round(float_score, 4)}"
                  f", int8 (fake-quant) {summary['int8_validation']:.4f}; {summary['train_samples']} training samples,"
                  f" {summary['train_samples_per_second']} samples/s; wrote {summary['output']} "
                  f"({summary['file_bytes']} bytes)")
