"""`tinyops quantize`: post-training quantization of a float TFLite/ONNX model (see docs/quantization.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tinyops.backends.tflite_writer import write_atomically
from tinyops.commands.outputs import checked_output
from tinyops.errors import TinyOpsError
from tinyops.frontends.loader import load_model
from tinyops.quant.calibration_data import ImagePreprocessing, load_calibration
from tinyops.quant.codebook import DEFAULT_CLUSTERS
from tinyops.quant.costs import SCHEMES
from tinyops.quant.observers import METHODS
from tinyops.quant.ptq import PtqConfig
from tinyops.quant.schemes import quantize_scheme


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("quantize", help="post-training quantization to int8, Q-format, code-book or int4",
                              description=__doc__)
    p.add_argument("model", help="float32 .tflite or .onnx model")
    p.add_argument("--calibration", required=True, metavar="DATA",
                   help=".npz of samples, or a folder of images or 16 kHz .wav files")
    p.add_argument("--output", "-o", required=True, metavar="OUT",
                   help="output path (.tflite; code-book writes a .tinyops container)")
    p.add_argument("--scheme", choices=SCHEMES, default="int8")
    p.add_argument("--method", choices=METHODS, default="minmax", help="calibration range estimator")
    p.add_argument("--per-tensor", action="store_true", help="one weight scale per tensor instead of per channel")
    p.add_argument("--int8-io", action="store_true", help="int8 model inputs/outputs (no QUANTIZE/DEQUANTIZE)")
    p.add_argument("--clusters", type=int, default=DEFAULT_CLUSTERS, help="code-book size (codebook scheme)")
    p.add_argument("--max-samples", type=int, default=None, help="use at most this many calibration samples")
    p.add_argument("--image-scale", type=float, default=1.0, help="image preprocessing: real = pixel*scale+offset")
    p.add_argument("--image-offset", type=float, default=0.0)
    p.add_argument("--eval", metavar="DATA", dest="eval_data",
                   help="evaluation inputs (.npz, images or .wav, like --calibration) for the error against the "
                        "float model (default: the first --eval-samples calibration samples)")
    p.add_argument("--labels", metavar="LABELS", help="integer class labels of the evaluation samples "
                   "(.npy, or a text file with one label per line): also report top-1 accuracy")
    p.add_argument("--eval-samples", type=int, default=32, metavar="N",
                   help="evaluate on at most N samples (default 32; 0 skips the evaluation)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if args.scheme == "codebook" and output.suffix != ".tinyops":
        raise TinyOpsError(f"{output}: code-book models are tinyops containers; name the output *.tinyops")
    if args.scheme != "codebook" and output.suffix != ".tflite":
        raise TinyOpsError(f"{output}: the {args.scheme} scheme writes TFLite; name the output *.tflite")
    if Path(args.model).resolve() == output.resolve():
        raise TinyOpsError(f"{output}: is the input model; choose another --output")
    checked_output(args, "--output", args.output, inputs=[args.model, args.calibration])
    if not 2 <= args.clusters <= 256:
        raise TinyOpsError(f"--clusters must be 2..256, got {args.clusters}")
    graph = load_model(args.model)
    samples = load_calibration(args.calibration, graph, ImagePreprocessing(args.image_scale, args.image_offset),
                               args.max_samples)
    config = PtqConfig(method=args.method, per_channel=not args.per_tensor, int8_io=args.int8_io)
    if args.eval_samples < 0:
        raise TinyOpsError(f"--eval-samples must be 0 or more, got {args.eval_samples}")
    labels = _load_labels(args.labels) if args.labels else None
    result = _quantize_with_progress(graph, samples, args, config)
    error = _evaluate(graph, result.graph, samples, labels, args) if args.eval_samples else None
    write_atomically(output, result.payload)
    summary = {
        "model": str(args.model), "output": str(output), "scheme": args.scheme, "method": args.method,
        "per_channel": not args.per_tensor, "int8_io": args.int8_io,
        "calibration_samples": result.report.calibration_samples, "ops": len(result.graph.main.ops),
        "folded_or_fused_ops": result.report.folded_ops, "file_bytes": len(result.payload),
        "format": "tinyops container" if result.container else "tflite",
        "error_vs_float": error.as_dict() if error else None, "costs": result.costs,
    }
    if args.json:
        from tinyops.commands.common import print_json

        print_json(summary)
    else:
        _print_table(summary)
    return 0


def _load_labels(path: str) -> np.ndarray:
    source = Path(path)
    try:
        if source.suffix.lower() == ".npy":
            labels = np.load(source, allow_pickle=False)
        else:
            labels = np.array([int(line) for line in source.read_text().split()], dtype=np.int64)
    except (OSError, ValueError) as exc:
        raise TinyOpsError(f"{source}: not readable labels ({exc}); give a .npy of integers or one integer per line")
    labels = np.asarray(labels).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TinyOpsError(f"{source}: labels must be integer class indices, got {labels.dtype}")
    return labels


def _evaluate(float_graph, quantized_graph, calibration, labels, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from tinyops.quant.evaluate import compare_to_float

    limit = args.eval_samples
    if args.eval_data:
        samples = load_calibration(args.eval_data, float_graph,
                                   ImagePreprocessing(args.image_scale, args.image_offset), limit)
        source = f"{len(samples)} samples of {args.eval_data}"
    else:
        samples = calibration[:limit]
        source = (f"the first {len(samples)} calibration samples (optimistic: the quantizer chose its ranges "
                  "on them; pass --eval for held-out data)")
    if labels is not None:
        labels = labels[:len(samples)]
    return compare_to_float(float_graph, quantized_graph, samples, source, labels)


def _quantize_with_progress(graph, samples, args: argparse.Namespace, config: PtqConfig):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    quiet = args.json
    with Progress(TextColumn("calibrating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True, disable=quiet) as progress:
        task = progress.add_task("calibrate", total=len(samples))
        return quantize_scheme(graph, samples, args.scheme, config, args.clusters,
                               progress=lambda done: progress.update(task, completed=done))


def _print_table(summary: dict) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tinyops quantize: {summary['output']}", show_header=False)
    for key, value in summary.items():
        if key in ("costs", "error_vs_float"):
            continue
        table.add_row(key, str(value))
    error = summary.get("error_vs_float")
    if error:
        table.add_row("SQNR vs float (first output)", f"{error['sqnr_db']:.1f} dB")
        table.add_row("top-1 agreement with float", f"{100 * error['top1_agreement']:.1f}%")
        if "quantized_accuracy" in error:
            table.add_row("top-1 accuracy (labels)", f"float {100 * error['float_accuracy']:.1f}%, "
                                                     f"quantized {100 * error['quantized_accuracy']:.1f}%")
        table.add_row("evaluated on", str(error["source"]))
    for key, value in summary["costs"].items():
        if key != "scheme":
            table.add_row(f"cost: {key}", f"{value:,}" if isinstance(value, int) else str(value))
    Console().print(table)
