"""`tinyops run MODEL --input X.npy|X.npz --output Y.npy|Y.npz [--trace DIR]`: run the reference runtime.

One model input or output travels as .npy; several as .npz keyed in0, in1... / out0, out1...
A leading dimension larger than the model's batch runs as that many inferences (vectorized).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tinyops.backends.tflite_writer import write_atomically
from tinyops.commands.outputs import add_force_option, checked_output
from tinyops.errors import TinyOpsError
from tinyops.files import read_input_file
from tinyops.frontends import load_model
from tinyops.runtime import Interpreter
from tinyops.runtime.kernels.base import ENGINES


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("run", help="run a model with the bit-exact reference runtime",
                              description=__doc__.splitlines()[0])
    p.add_argument("model", help="the .tflite model")
    p.add_argument("--input", required=True, metavar="X.npy|X.npz",
                   help="input array (.npy) or arrays (.npz keyed in0, in1...)")
    p.add_argument("--output", required=True, metavar="Y.npy|Y.npz",
                   help="where to write the output(s); .npy only for single-output models")
    p.add_argument("--trace", metavar="DIR",
                   help="also dump every intermediate tensor as DIR/<index>_<name>.npy plus DIR/index.json")
    p.add_argument("--engine", choices=(*ENGINES, "c"), default="tflm",
                   help="whose rounding to follow where TFLM and LiteRT differ (int8 FULLY_CONNECTED); "
                        "c: the generated C code built for this host (TFLM's rounding, cached per model)")
    add_force_option(p)
    p.set_defaults(handler=run)


def _load_inputs(path: Path, count: int) -> list[np.ndarray]:
    data = read_input_file(path, "--input", MAX_INPUT_BYTES)
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise TinyOpsError(f"cannot read {path} as .npy/.npz: {exc}") from None
    if isinstance(loaded, np.ndarray):
        if count != 1:
            raise TinyOpsError(f"the model takes {count} inputs: give an .npz keyed in0..in{count - 1}")
        return [loaded]
    with loaded:
        missing = [f"in{i}" for i in range(count) if f"in{i}" not in loaded.files]
        if missing:
            raise TinyOpsError(f"{path} lacks {', '.join(missing)} (it has {', '.join(loaded.files) or 'nothing'})")
        return [loaded[f"in{i}"] for i in range(count)]


MAX_INPUT_BYTES = 1 << 30


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _sanitize(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return cleaned[:80] or "tensor"


def _check_trace_folder(folder: Path) -> None:
    """The trace folder must be new or empty (it is never overwritten, --force or not)."""
    if str(folder) == "":
        raise TinyOpsError("--trace: the path is empty; give a folder")
    try:
        if folder.exists() and not folder.is_dir():
            raise TinyOpsError(f"--trace {folder} exists and is not a folder")
        if folder.is_dir() and any(folder.iterdir()):
            raise TinyOpsError(f"--trace folder {folder} is not empty; give a new or empty folder")
        ancestor = folder.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise TinyOpsError(f"--trace {folder}: {ancestor} is a file, not a folder")
    except OSError as exc:
        raise TinyOpsError(f"--trace {folder}: {exc.strerror}") from None


def _write_trace(folder: Path, interpreter: Interpreter) -> int:
    """Dump every non-constant tensor; an index.json maps files to tensor names, shapes, types."""
    _check_trace_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinyOpsError(f"--trace {folder}: cannot create the folder ({exc.strerror})") from None
    subgraph = interpreter.subgraph
    entries = []
    for index, tensor in enumerate(subgraph.tensors):
        array = interpreter.trace.get(index)
        if array is None:
            continue
        filename = f"{index}_{_sanitize(tensor.name)}.npy"
        write_atomically(folder / filename, _npy_bytes(array))
        producer = tensor.producer
        entries.append({
            "index": index, "name": tensor.name, "file": filename, "shape": list(array.shape),
            "dtype": str(array.dtype),
            "producer_op": None if producer is None else subgraph.op_index(producer),
            "producer_kind": None if producer is None else producer.label,
            "quantization": None if tensor.quantization is None else {
                "scale": [float(s) for s in tensor.quantization.scale.reshape(-1)[:16]],
                "zero_point": [int(z) for z in tensor.quantization.zero_point.reshape(-1)[:16]],
            },
        })
    write_atomically(folder / "index.json", json.dumps({"tensors": entries}, indent=2).encode())
    return len(entries)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix not in (".npy", ".npz"):
        raise TinyOpsError(f"--output {output} must end in .npy or .npz")
    if args.output and args.input and Path(args.input).resolve() == output.resolve():
        raise TinyOpsError("--output must not be the --input file")
    checked_output(args, "--output", args.output, inputs=[args.input, args.model])
    if args.trace is not None:
        _check_trace_folder(Path(args.trace))
    graph = load_model(args.model)
    inputs = _load_inputs(Path(args.input), len(graph.main.inputs))
    if args.engine == "c":
        if args.trace:
            raise TinyOpsError("--trace needs the reference runtime (the generated C keeps no intermediate tensors)")
        from tinyops.backends.c.host_engine import CEngine

        outputs = CEngine(graph).run(inputs)
        interpreter = None
    else:
        interpreter = Interpreter(graph, engine=args.engine)
        outputs = interpreter.run(inputs, trace=bool(args.trace))
    if output.suffix == ".npy":
        if len(outputs) != 1:
            raise TinyOpsError(f"the model has {len(outputs)} outputs: use an .npz --output (keys out0, out1...)")
        payload = _npy_bytes(outputs[0])
    else:
        payload = _npz_bytes({f"out{i}": array for i, array in enumerate(outputs)})
    write_atomically(output, payload)
    message = f"wrote {len(outputs)} output(s) to {output}"
    if args.trace and interpreter is not None:
        count = _write_trace(Path(args.trace), interpreter)
        message += f"; {count} tensors to {args.trace}"
    print(message)
    if interpreter is not None and interpreter.numeric_warning:
        sys.stderr.write(f"tinyops run: warning: {interpreter.numeric_warning}\n")
    return 0


