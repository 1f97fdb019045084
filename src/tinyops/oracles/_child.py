"""Child-process side of the oracles: `python -m tinyops.oracles._child ENGINE MODEL INPUTS OUTPUTS`."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np


def _batches(inputs_path: str) -> list[list[np.ndarray]]:
    if not inputs_path:
        return []
    with np.load(inputs_path) as stored:
        keys = stored.files
        count = 1 + max(int(k.split("_")[0][1:]) for k in keys)
        return [[stored[f"b{b}_in{i}"] for i in range(sum(1 for k in keys if k.startswith(f"b{b}_")))]
                for b in range(count)]


def _litert(model_path: str, batches: list[list[np.ndarray]], reference: bool) -> list[list[np.ndarray]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    interpreter = Interpreter(model_path=model_path, num_threads=1, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()
    output_details = interpreter.get_output_details()
    results = []
    for batch in batches:
        for detail, array in zip(input_details, batch):
            interpreter.set_tensor(detail["index"], array)
        interpreter.invoke()
        results.append([interpreter.get_tensor(d["index"]).copy() for d in output_details])
    return results


def _tflm(model_path: str, batches: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    from tflite_micro.python.tflite_micro import runtime

    # TFLM's default arena (10x the model size) is too small for activation-heavy models; the head
    # figure does not depend on the arena size, so give it room.
    with open(model_path, "rb") as stream:
        model_size = len(stream.read())
    interpreter = runtime.Interpreter.from_file(model_path, arena_size=max(10 * model_size, 16 << 20))
    sys.stdout.flush()
    interpreter.print_allocations()
    sys.stdout.flush()
    results = []
    for batch in batches:
        for index, array in enumerate(batch):
            interpreter.set_input(array, index)
        interpreter.invoke()
        produced = []
        index = 0
        while True:
            try:
                produced.append(np.array(interpreter.get_output(index)))
            except Exception:
                break
            index += 1
        results.append(produced)
        interpreter.reset()
    return results


def main() -> None:
    engine, model_path, inputs_path, outputs_path = sys.argv[1:5]
    batches = _batches(inputs_path)
    if engine.startswith("litert"):
        results = _litert(model_path, batches, reference=engine == "litert")
    else:
        results = _tflm(model_path, batches)
    if inputs_path:
        stacked: dict[str, Any] = {f"out{i}": np.stack([r[i] for r in results]) for i in range(len(results[0]))}
        np.savez(outputs_path, **stacked)


if __name__ == "__main__":
    main()
    # Leave without running interpreter destructors: LiteRT's SVDF kernel corrupts the heap on
    # keyword_scrambled_8bit and the damage only surfaces at teardown, after results are saved.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
