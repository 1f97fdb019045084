"""Test helpers: seeded random inputs for a graph's inputs."""

from __future__ import annotations

import numpy as np

from tinyops.ir.graph import Graph


def random_inputs(graph: Graph, count: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``count`` batches of random inputs covering each input type's whole range."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        batch = []
        for tensor in graph.main.inputs:
            dtype = tensor.dtype.numpy
            if np.issubdtype(dtype, np.integer):
                info = np.iinfo(dtype)
                batch.append(rng.integers(info.min, info.max, size=tensor.shape, endpoint=True, dtype=dtype))
            else:
                batch.append(rng.standard_normal(tensor.shape).astype(dtype))
        batches.append(batch)
    return batches
