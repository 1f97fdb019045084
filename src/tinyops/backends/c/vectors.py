"""Seeded test inputs and their expected outputs from the reference runtime."""

from __future__ import annotations

import numpy as np

from tinyops.errors import TinyOpsError
from tinyops.ir.graph import Graph, Tensor
from tinyops.runtime import Interpreter


def random_input(tensor: Tensor, rng: np.random.Generator) -> np.ndarray:
    dtype = tensor.dtype.numpy
    shape = tuple(tensor.shape)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
    if np.issubdtype(dtype, np.floating):
        # Float inputs feed a QUANTIZE: cover its int8 range and a little beyond (saturation).
        consumer = tensor.consumers[0] if tensor.consumers else None
        q = consumer.outputs[0].quantization if consumer is not None and consumer.outputs else None
        if q is not None and q.scale.size:
            scale, zero = float(q.scale.reshape(-1)[0]), float(q.zero_point.reshape(-1)[0])
            lo, hi = (-130 - zero) * scale, (130 - zero) * scale
        else:
            lo, hi = -1.0, 1.0
        return rng.uniform(lo, hi, size=shape).astype(dtype)
    raise TinyOpsError(f"cannot make test inputs of type {tensor.dtype.value} for input {tensor.name!r}")


def make_vectors(graph: Graph, count: int, seed: int,
                 minimum: int = 1) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
    if count < minimum:
        raise TinyOpsError(f"--inputs must be at least {minimum}, got {count}")
    rng = np.random.default_rng(seed)
    interpreter = Interpreter(graph)
    inputs = [[random_input(t, rng) for t in graph.main.inputs] for _ in range(count)]
    expected = [[np.asarray(o) for o in interpreter.run(vector)] for vector in inputs]
    return inputs, expected


__all__ = ["make_vectors", "random_input"]
