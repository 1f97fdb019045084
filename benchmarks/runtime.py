"""Inferences per second of the tinyops reference runtime against LiteRT and the TFLM interpreter.

    python benchmarks/runtime.py [--models DIR] [--seconds 1.0] [--batch 32] [--only NAME,...]

Every engine runs in this process on the same seeded random inputs, one inference per call,
for about ``--seconds`` each (after one warm-up call). Columns:
  tinyops      our Interpreter.run, one inference per call
  tinyops/N    our Interpreter.run_batch over N inferences at once (vectorized), per inference
  tinyops-c    the generated C (`run --engine c`: -O3 -march=native shared library via ctypes),
               one inference per call; preparation (generation + build, cached) not timed
  litert       LiteRT, default op resolver (optimized kernels, XNNPACK where it applies), 1 thread
  litert-ref   LiteRT with the reference kernels (BUILTIN_REF), 1 thread
  tflm         the TFLM Python interpreter (tflite_micro)
and ratios of ours (single inference) to TFLM and to LiteRT default, measured in the same run, plus
the generated C against LiteRT's reference kernels (target >= 3x) and default kernels (target >= 0.3x).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tinyops.errors import TinyOpsError  # noqa: E402
from tinyops.frontends import load_model  # noqa: E402
from tinyops.runtime import Interpreter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = REPO.parent / "shared" / "models"
INT8_MODELS = ["ad_fc_autoencoder_int8", "hello_world_int8", "ic_resnet8_int8", "ic_resnet_large_int8",
               "kws_dscnn_int8", "mcunet_detection", "mcunet_vww", "micro_speech_quantized",
               "mnist_lenet_300_100_ptq", "person_detect", "seanet_conv10", "simple_add_model",
               "sww_ref_model", "vww_mobilenetv1_96_int8"]


@dataclass
class Row:
    model: str
    rates: dict[str, float | None]


def rate(call: Callable[[], object], seconds: float, per_call: int = 1) -> float:
    """Inferences per second of ``call`` (warm-up once, then repeat for about ``seconds``)."""
    call()
    count, start = 0, time.perf_counter()
    while True:
        call()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count * per_call / elapsed


def random_inputs(graph, seed: int) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in graph.main.inputs:
        if tensor.dtype.is_float:
            arrays.append(rng.uniform(-1, 1, tensor.shape).astype(np.float32))
        else:
            info = np.iinfo(tensor.dtype.numpy)
            arrays.append(rng.integers(info.min, info.max + 1, tensor.shape).astype(tensor.dtype.numpy))
    return arrays


def litert_rate(path: Path, inputs: list[np.ndarray], seconds: float, reference: bool) -> float | None:
    from ai_edge_litert.interpreter import Interpreter as LiteRT, OpResolverType

    kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    try:
        interpreter = LiteRT(model_path=str(path), num_threads=1, experimental_op_resolver_type=kind)
        interpreter.allocate_tensors()
    except Exception:
        return None  # e.g. person_detect: LiteRT rejects its quantization parameters
    ins = interpreter.get_input_details()
    outs = interpreter.get_output_details()

    def call() -> None:
        for detail, array in zip(ins, inputs):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        for detail in outs:
            interpreter.get_tensor(detail["index"])

    return rate(call, seconds)


def c_rate(graph, inputs: list[np.ndarray], seconds: float) -> float | None:  # type: ignore[no-untyped-def]
    from tinyops.backends.c.host_engine import CEngine

    try:
        engine = CEngine(graph)
    except TinyOpsError:
        return None  # an op without a C kernel
    return rate(lambda: engine.run(inputs), seconds)


def tflm_rate(path: Path, inputs: list[np.ndarray], seconds: float) -> float | None:
    from tflite_micro.python.tflite_micro import runtime

    try:
        interpreter = runtime.Interpreter.from_file(str(path), arena_size=max(10 * path.stat().st_size, 16 << 20))
    except Exception:
        return None

    def call() -> None:
        for index, array in enumerate(inputs):
            interpreter.set_input(array, index)
        interpreter.invoke()
        interpreter.get_output(0)

    return rate(call, seconds)


def measure(path: Path, seconds: float, batch: int) -> Row:
    graph = load_model(path)
    inputs = random_inputs(graph, seed=0)
    ours = Interpreter(graph)
    many = [random_inputs(graph, seed=s) for s in range(batch)]
    return Row(path.stem, {
        "tinyops": rate(lambda: ours.run(inputs), seconds),
        f"tinyops/{batch}": rate(lambda: ours.run_batch(many), seconds, per_call=batch),
        "tinyops-c": c_rate(graph, inputs, seconds),
        "litert": litert_rate(path, inputs, seconds, reference=False),
        "litert-ref": litert_rate(path, inputs, seconds, reference=True),
        "tflm": tflm_rate(path, inputs, seconds),
    })


def fmt(value: float | None) -> str:
    return "-" if value is None else (f"{value:,.0f}" if value >= 100 else f"{value:.1f}")


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def geomean(values: list[float]) -> float:
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--only", default="", help="comma-separated model stems")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or INT8_MODELS
    rows: list[Row] = []
    for name in names:
        matches = sorted(args.models.glob(f"*/{name}.tflite"))
        if not matches:
            print(f"skipping {name}: not found under {args.models}", file=sys.stderr)
            continue
        try:
            rows.append(measure(matches[0], args.seconds, args.batch))
        except TinyOpsError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
    columns = list(rows[0].rates) if rows else []
    header = f"{'model (inferences/s)':28}" + "".join(f"{c:>12}" for c in columns) + f"{'vs tflm':>9}{'vs litert':>10}"
    print(header)
    print("-" * len(header))
    vs_tflm, vs_litert, c_vs_ref, c_vs_default = [], [], [], []
    for row in rows:
        r = row.rates
        if r["tflm"]:
            vs_tflm.append(r["tinyops"] / r["tflm"])  # type: ignore[operator]
        if r["litert"]:
            vs_litert.append(r["tinyops"] / r["litert"])  # type: ignore[operator]
        if r["tinyops-c"] and r["litert-ref"]:
            c_vs_ref.append(r["tinyops-c"] / r["litert-ref"])  # type: ignore[operator]
        if r["tinyops-c"] and r["litert"]:
            c_vs_default.append(r["tinyops-c"] / r["litert"])  # type: ignore[operator]
        print(f"{row.model:28}" + "".join(f"{fmt(r[c]):>12}" for c in columns)
              + f"{ratio(r['tinyops'], r['tflm']):>9}{ratio(r['tinyops'], r['litert']):>10}")
    print(f"\ngeometric mean, tinyops (1 inference/call): {geomean(vs_tflm):.2f}x the TFLM interpreter, "
          f"{geomean(vs_litert):.2f}x LiteRT (default kernels, 1 thread)")
    print(f"geometric mean, generated C (tinyops-c): {geomean(c_vs_ref):.2f}x LiteRT reference kernels "
          f"(target >= 3x), {geomean(c_vs_default):.2f}x LiteRT default kernels at 1 thread (target >= 0.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
